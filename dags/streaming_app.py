"""Run the Spark streaming app (Kafka → Elasticsearch) and keep it running.

``run_stream`` is a ``SparkSubmitOperator`` (local mode with the embedded runtime, the Spark
master of the ``spark_default`` connection under compose) that lasts as long as the query: the
task log shows the app's progress line per micro-batch. If the app dies, Airflow retries with
exponential backoff (30 s, 1 min, 2 min … up to 10 min) and the app resumes from its checkpoint:
Kafka offsets and its exact state, so nothing is lost or counted twice.

Param ``available_now`` (default false) runs ``catch_up`` instead: process everything already in
the topic, then exit (backfills, tests).

Lineage: both submit tasks read the events topic (inlet) and write the dead-letter topic and the
app's indices (outlets), all Assets of :mod:`streaming_platform.orchestration.lineage`.

Graceful stop: trigger the ``streaming_app_stop`` DAG. It writes the stop file
(``<checkpoint>/STOP``); the app finishes the micro-batch in flight, exits 0 and this task ends
green (no retry). Marking the task failed in the UI kills spark-submit instead: the batch in
flight is redone from the checkpoint at the next start.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

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
    @task.branch
    def choose_mode(params: dict | None = None) -> str:
        return "catch_up" if (params or {}).get("available_now") else "run_stream"

    run_stream = StreamingAppSubmitOperator(task_id="run_stream", **LINEAGE)
    catch_up = StreamingAppSubmitOperator(task_id="catch_up", available_now=True, retries=2, **LINEAGE)
    choose_mode() >> [run_stream, catch_up]


streaming_app()
