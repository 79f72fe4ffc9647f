# Spark image of the platform (spark-master and spark-worker): the official apache/spark image
# (JVM-only variant) extended with
#   * Python 3.11, the same minor version as the Airflow image that runs the driver (the official
#     "python3" variants are Ubuntu 22.04 based and ship Python 3.10, which PySpark would refuse),
#     installed as a standalone build by uv and first on PATH as `python3`,
#   * our pinned Python requirements for the executors' Python workers (docker/requirements/spark.txt),
#   * the streaming_platform package (UDFs and validation rules are imported on executors),
#   * /opt/platform/.venv/bin/python, the interpreter path the driver announces
#     (spark.pyspark.python = REPO_ROOT/.venv/bin/python, REPO_ROOT = /opt/platform in both images).
# Build context: the repository root (see docker-compose.yaml).
ARG SPARK_VERSION=4.2.0
FROM apache/spark:${SPARK_VERSION}-scala2.13-java21-ubuntu

# Same uid/gid as the Airflow containers: the driver (airflow-scheduler) and the executors
# (spark-worker) write the same checkpoint folder on the shared platform-home volume.
ARG PLATFORM_UID=50000
ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13.8

USER root
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3-pip curl; \
    pip3 install --no-cache-dir "uv==${UV_VERSION}"; \
    UV_PYTHON_INSTALL_DIR=/opt/python uv python install "${PYTHON_VERSION}"; \
    py="$(UV_PYTHON_INSTALL_DIR=/opt/python uv python find "${PYTHON_VERSION}")"; \
    mkdir -p /opt/python/bin; \
    ln -sf "$py" /opt/python/bin/python3; \
    ln -sf "$py" /opt/python/bin/python; \
    mkdir -p /opt/platform/.venv/bin; \
    ln -sf "$py" /opt/platform/.venv/bin/python; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/python/bin:${PATH} \
    PYSPARK_PYTHON=/opt/platform/.venv/bin/python

COPY docker/requirements/spark.txt /opt/platform/docker/requirements/spark.txt
RUN uv pip install --system --break-system-packages --python /opt/python/bin/python3 \
        -r /opt/platform/docker/requirements/spark.txt

COPY src /opt/platform/src
COPY contracts /opt/platform/contracts
# A named user for the uid: Hadoop's login (UserGroupInformation) fails for a uid without one.
RUN set -eux; \
    useradd --uid "${PLATFORM_UID}" --gid 0 --no-create-home --home-dir /opt/platform/home platform; \
    mkdir -p /opt/platform/home /opt/spark/work /opt/spark/logs; \
    chown -R "${PLATFORM_UID}:0" /opt/platform /opt/spark/work /opt/spark/logs; \
    chmod -R g+rwX /opt/platform /opt/spark/work /opt/spark/logs
ENV PYTHONPATH=/opt/platform/src \
    PLATFORM_HOME=/opt/platform/home \
    SPARK_WORKER_DIR=/opt/spark/work \
    SPARK_NO_DAEMONIZE=true

USER ${PLATFORM_UID}:0
