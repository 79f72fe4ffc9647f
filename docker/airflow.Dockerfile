# Airflow image of the platform: the official apache/airflow image extended with
#   * a Java runtime, because SparkSubmitOperator runs spark-submit (client mode: the streaming
#     app's driver lives in this container and its executors on the spark-worker containers),
#   * our pinned Python requirements (docker/requirements/airflow.txt),
#   * Spark's Kafka connector jars and the stream's state processors (Maven build stage below),
#   * the streaming_platform package, the DAGs, plugins, the Spark app, the GX suites and the
#     Kibana saved objects, laid out under /opt/platform exactly as in the repository (so
#     REPO_ROOT-relative paths keep working: expectations/, kibana/, spark_apps/, jvm/spark/),
#   * /opt/platform/.venv/bin/python, the interpreter path the app announces to the executors
#     (spark.pyspark.python); the Spark image has the same path.
# Build context: the repository root (see docker-compose.yaml).
#
# The Python minor version (3.11) must equal the one of docker/spark.Dockerfile: PySpark refuses
# to run Python workers whose version differs from the driver's.
ARG AIRFLOW_VERSION=3.3.2

# Spark's Kafka connector jars, resolved by Maven from the repo's pom exactly as `make jars` does
# in the embedded mode, so spark-submit downloads nothing at job start.
FROM maven:3.9-eclipse-temurin-17 AS jars
WORKDIR /build
COPY jvm/pom.xml jvm/pom.xml
COPY jvm/spark jvm/spark
COPY jvm/state jvm/state
RUN mvn -B -q -f jvm/spark/pom.xml package && mvn -B -q -f jvm/state/pom.xml package

FROM apache/airflow:${AIRFLOW_VERSION}-python3.11

ARG AIRFLOW_VERSION=3.3.2

USER root
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends default-jre-headless procps; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /opt/platform/home; \
    chown -R airflow:0 /opt/platform; \
    chmod -R g+rwX /opt/platform
ENV JAVA_HOME=/usr/lib/jvm/default-java

USER airflow
COPY --chown=airflow:0 docker/requirements/airflow.txt /opt/platform/docker/requirements/airflow.txt
# apache-airflow is named with its exact version so that no requirement can up- or downgrade it.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        -r /opt/platform/docker/requirements/airflow.txt
# Same interpreter path on the driver and the executors (submit_conf: REPO_ROOT/.venv/bin/python).
RUN mkdir -p /opt/platform/.venv/bin && ln -sf "$(command -v python3)" /opt/platform/.venv/bin/python

COPY --chown=airflow:0 src /opt/platform/src
COPY --chown=airflow:0 dags /opt/platform/dags
COPY --chown=airflow:0 plugins /opt/platform/plugins
COPY --chown=airflow:0 spark_apps /opt/platform/spark_apps
COPY --chown=airflow:0 expectations /opt/platform/expectations
COPY --chown=airflow:0 contracts /opt/platform/contracts
COPY --chown=airflow:0 kibana /opt/platform/kibana
COPY --from=jars --chown=airflow:0 /build/jvm/spark/target/lib /opt/platform/jvm/spark/target/lib
COPY --from=jars --chown=airflow:0 /build/jvm/state/target/platform-state.jar /opt/platform/jvm/state/target/platform-state.jar

ENV PYTHONPATH=/opt/platform/src \
    PLATFORM_HOME=/opt/platform/home \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/platform/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/platform/plugins
