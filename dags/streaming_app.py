"""Run the Spark streaming app (Kafka → Elasticsearch) and keep it running.

``run_stream`` is a ``SparkSubmitOperator`` (local mode with the embedded runtime, the Spark
master of the ``spark_default`` connection under compose) that lasts as long as the query: the
task log shows the app's progress line per micro-batch. The app itself waits out outages of
Elasticsearch or Kafka up to ``spark.outage.timeout``; if it dies anyway, Airflow retries with
exponential backoff (30 s, 1 min, 2 min … up to 10 min) and the app resumes from its checkpoint:
Kafka offsets and its exact state, so nothing is lost or counted twice. When the retries are spent,
``restart`` triggers a new run of this DAG (queued behind this one: ``max_active_runs=1``) with a
fresh set of retries, so the stream is restarted for as long as it takes, never more often than
the backoff allows. Only a graceful stop (below) or an ``available_now`` run ends it.

Param ``available_now`` (default false) makes ``run_stream`` a catch-up instead: process
everything already in the topic, then exit (backfills, tests); a failed catch-up is not restarted.

Lineage: the submit task reads the events topic (inlet) and writes the dead-letter topic and the
app's indices (outlets), all Assets of :mod:`streaming_platform.orchestration.lineage`.

Graceful stop: trigger the ``streaming_app_stop`` DAG. It writes the stop file
(``<checkpoint>/STOP``); the app finishes the micro-batch in flight, exits 0 and this task ends
green (no retry). Marking the task failed in the UI kills spark-submit instead: the batch in
flight is redone from the checkpoint at the next start.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, TriggerRule, dag, task
from airflow.sdk.exceptions import AirflowFailException

from streaming_platform.orchestration.lineage import platform_assets
from streaming_platform.orchestration.streaming import StreamingAppSubmitOperator

DAG_ID = "streaming_app"
ASSETS = platform_assets()
LINEAGE = {"inlets": [ASSETS.events_topic], "outlets": [ASSETS.deadletter_topic, *ASSETS.app_indices]}


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one query per checkpoint
    tags=["platform", "spark", "streaming"],
    default_args={
        "owner": "platform",
        "retries": 6,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={"available_now": Param(False, type="boolean", description="process the backlog, then exit")},
    doc_md=__doc__,
)
def streaming_app():
    # The mode comes from the run's params: the run starts with spark-submit, no branch first.
    run_stream = StreamingAppSubmitOperator(task_id="run_stream", **LINEAGE)

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def continuous(params: dict | None = None) -> None:
        """Retries spent: a continuous stream goes on to ``restart``; a catch-up run fails here."""
        if (params or {}).get("available_now"):
            raise AirflowFailException("the catch-up failed after its retries; it is not restarted")

    # A new run with fresh retries (not after a graceful stop, which ends green).
    restart = TriggerDagRunOperator(
        task_id="restart", trigger_dag_id=DAG_ID, conf={"available_now": False}, retries=0
    )
    run_stream >> continuous() >> restart


streaming_app()
