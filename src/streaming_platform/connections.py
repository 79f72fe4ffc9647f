"""Airflow connection ids the platform defines, so DAGs and the runtime agree on one name each.

The connections themselves are not stored in the Airflow database: the embedded runtime
(:func:`streaming_platform.runtime.airflow.airflow_env`) passes them to every Airflow process as
``AIRFLOW_CONN_<ID>`` environment variables built from the platform settings. A DAG uses them
as usual, e.g. ``SparkSubmitOperator(conn_id=SPARK_CONN_ID, ...)``.
"""

from __future__ import annotations

KAFKA_CONN_ID = "kafka_default"
ES_CONN_ID = "elasticsearch_default"
SPARK_CONN_ID = "spark_default"
KIBANA_CONN_ID = "kibana_default"  # defined only when PLATFORM_KIBANA_URL is set


def env_var(conn_id: str) -> str:
    """The environment variable Airflow reads connection ``conn_id`` from."""
    return "AIRFLOW_CONN_" + conn_id.upper()
