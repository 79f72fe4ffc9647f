"""Pipeline health, every 5 minutes: lag, freshness, quarantine rate, Elasticsearch, app liveness.

One task evaluates every check of :mod:`streaming_platform.health` (thresholds: the ``health.*``
settings, editable from the dashboard), logs one line per check and fails when any check fails,
with a message naming each failed check and its number, e.g. ``consumer lag: 250,000 messages
behind (limit 100,000)`` or ``app liveness: customer-events-stream is not running``.
A failure alerts through the notifiers of :mod:`streaming_platform.orchestration.alerts` (e-mail,
webhook), each on when its Airflow connection exists.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from streaming_platform.orchestration.alerts import on_failure

DAG_ID = "pipeline_health"
INTERVAL = timedelta(minutes=5)


@dag(
    dag_id=DAG_ID,
    schedule=INTERVAL,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["platform", "monitoring"],
    # A failed check must show at once: a retry would only delay the red run by its delay.
    default_args={
        "owner": "platform",
        "retries": 0,
        "execution_timeout": timedelta(minutes=2),
        "on_failure_callback": on_failure,  # e-mail / webhook when their connection exists
    },
    doc_md=__doc__,
)
def pipeline_health():
    @task
    def check_pipeline() -> list[dict]:
        from dataclasses import asdict

        from streaming_platform import config, health
        from streaming_platform.orchestration.hooks import es_client, kafka_admin

        checks = health.run_checks(kafka_admin(), es_client(), config.load(), INTERVAL.total_seconds())
        for check in checks:
            print(check.line())
        health.raise_for_failures(checks)
        return [asdict(c) for c in checks]

    check_pipeline()


pipeline_health()
