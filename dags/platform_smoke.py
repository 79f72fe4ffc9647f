"""Smoke test of the embedded Airflow: a task runs and sees the platform's connections.

Runs daily (and on demand from the dashboard). It needs no running Kafka, Elasticsearch or
Spark: it only checks that the worker resolves every connection the platform defines from
its ``AIRFLOW_CONN_*`` environment and that the Spark master and Kafka servers match the
platform settings. It also serves as the example of the DAG style: module docstring, a
``DAG_ID`` constant, an explicit schedule, a ``pendulum`` start date in UTC, ``catchup=False``,
tags and ``default_args`` with an owner and retries, TaskFlow tasks.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import BaseHook, dag, task

from streaming_platform.connections import ES_CONN_ID, KAFKA_CONN_ID, SPARK_CONN_ID

DAG_ID = "platform_smoke"


@dag(
    dag_id=DAG_ID,
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["platform", "smoke"],
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(seconds=10)},
    doc_md=__doc__,
)
def platform_smoke():
    @task
    def read_connections() -> dict[str, str]:
        """Resolve each platform connection; fail if one is missing."""
        found = {}
        for conn_id in (KAFKA_CONN_ID, ES_CONN_ID, SPARK_CONN_ID):
            conn = BaseHook.get_connection(conn_id)
            found[conn_id] = conn.conn_type
        return found

    @task
    def check_settings(found: dict[str, str]) -> None:
        """The connections carry the values of the platform settings."""
        from streaming_platform import config

        settings = config.load()
        assert found == {KAFKA_CONN_ID: "kafka", ES_CONN_ID: "elasticsearch", SPARK_CONN_ID: "spark"}, found
        kafka = BaseHook.get_connection(KAFKA_CONN_ID).extra_dejson
        assert kafka["bootstrap.servers"] == settings["kafka.bootstrap.servers"], kafka
        assert BaseHook.get_connection(SPARK_CONN_ID).host == settings["spark.master"]

    check_settings(read_connections())


platform_smoke()
