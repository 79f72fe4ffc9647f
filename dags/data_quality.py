"""Data quality, on every update of the app's indices and hourly: Great Expectations suites.

One task per suite in ``expectations/`` (GX 1.x JSON): ``aggregates`` (ranges, allowed
categories, one document per (window, category), window bounds, counts add up, revenue ≥ 0),
``customers`` (unique ids, ranges, first ≤ last seen, allowed top category), ``quarantine``
(one document per Kafka record, known reasons) and ``reconciliation`` (events produced to Kafka ==
quarantined + aggregated + dropped late, over the closed range of completed micro-batches).

Each index is read into a bounded pandas frame and validated with the GX provider's
``GXValidateDataFrameOperator`` (see ``PlatformGXValidateOperator``). Results are indexed into
``pipeline-quality-results`` and Data Docs (HTML) are built to ``$PLATFORM_HOME/gx/data_docs``
(open ``index.html``). A task fails when a critical expectation fails, naming each one.

Schedule: ``AssetOrTimeSchedule``: a run when any of the app's indices (Assets) is updated —
by ``platform_setup`` or a finished ``streaming_app`` run — or at the top of every hour, whichever
comes first. The results index is every task's outlet. A failed task alerts through the
notifiers of :mod:`streaming_platform.orchestration.alerts` (e-mail, webhook), each on when its
Airflow connection exists.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, dag

from streaming_platform.orchestration.alerts import on_failure
from streaming_platform.orchestration.gx import PlatformGXValidateOperator
from streaming_platform.orchestration.lineage import platform_assets
from streaming_platform.quality import SUITES

DAG_ID = "data_quality"
HOURLY = "0 * * * *"
ASSETS = platform_assets()
SCHEDULE = AssetOrTimeSchedule(
    timetable=CronTriggerTimetable(HOURLY, timezone="UTC"),
    assets=AssetAny(*ASSETS.app_indices),  # any one updated, not all of them
)


@dag(
    dag_id=DAG_ID,
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # One at a time: the suites share one file-backed GX context (its config file is rewritten).
    max_active_tasks=1,
    tags=["platform", "quality", "great-expectations"],
    default_args={
        "owner": "platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": on_failure,  # after the last try: e-mail / webhook if configured
    },
    doc_md=__doc__,
)
def data_quality():
    for suite in SUITES:
        PlatformGXValidateOperator(suite=suite, outlets=[ASSETS.quality_index])


data_quality()
