"""Recompute the stream's results from the topic's retained history, then switch readers to them.

The Kappa way: a second instance of the same streaming app writes a new version of the results
(indices ``<name>-v<N>``) from its own checkpoint, starting at the earliest retained offset or at
a time (param ``start``), while the live app goes on. Once it has caught up with the topic,
``switch`` moves the readers' aliases (dashboard, Kibana, GX, health) to the new version in one
atomic request and asks the old instance to stop; ``restart_stream`` then runs the live app on the
new version. Use it after a change of what the stream computes (validation limits, window,
watermark, the event contract): set the new values, then trigger this DAG. With param
``backfill`` (JSON-lines files) the new version also reads those files, all in its first batch:
their events land in the windows of their own event time and in the customers' totals. The files
the live version backfilled are backfilled again (their events are not in the topic).

A re-run of a failed run resumes the same version from its checkpoint.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from streaming_platform.orchestration.lineage import platform_assets
from streaming_platform.orchestration.reprocess import app_args
from streaming_platform.orchestration.streaming import StreamingAppSubmitOperator

DAG_ID = "reprocess"
ASSETS = platform_assets()
VERSION = "{{ ti.xcom_pull(task_ids='prepare') }}"
FILES = "{{ ti.xcom_pull(task_ids='files') }}"


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["platform", "spark", "streaming", "reprocess"],
    default_args={"owner": "platform", "retries": 2},
    params={
        "start": Param(
            "earliest",
            type="string",
            description="where the new version starts: earliest (retained offset) or an ISO 8601 time",
        ),
        "backfill": Param(
            "",
            type="string",
            description=(
                "historical JSON-lines files to add to the new version (comma-separated paths the "
                "driver and the executors can read); empty: the topic only"
            ),
        ),
    },
    doc_md=__doc__,
)
def reprocess():
    @task
    def prepare() -> int:
        from streaming_platform.orchestration import reprocess as steps  # task-time import

        return steps.prepare()

    @task
    def files(params: dict | None = None) -> str:
        from streaming_platform.orchestration import reprocess as steps

        return steps.backfill_files((params or {}).get("backfill", ""))

    catch_up = StreamingAppSubmitOperator(
        task_id="catch_up",
        available_now=False,  # --catch-up: the app runs until it has caught up, then exits
        app_args=app_args(VERSION, "{{ params.start }}", FILES),
        inlets=[ASSETS.events_topic],
        outlets=list(ASSETS.app_indices),
    )

    @task
    def switch(version: int) -> int:
        from streaming_platform.orchestration import reprocess as steps

        return steps.switch(int(version))

    restart_stream = TriggerDagRunOperator(
        task_id="restart_stream", trigger_dag_id="streaming_app", retries=0
    )
    version = prepare()
    version >> files() >> catch_up >> switch(version) >> restart_stream


reprocess()
