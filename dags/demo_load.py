"""Demo load: run the platform's producer from the UI (Trigger DAG w/ config).

Params: ``rate`` (events/s, 0 = as fast as possible), ``duration`` (seconds), ``bad_fraction``
(share of deliberately bad records, one of every kind in turn, 0..1), ``customers`` and
``seed``. The task log shows the producer's progress lines and its summary; a delivery failure
fails the task (nothing is dropped silently). Its outlet is the events topic (an Asset).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from streaming_platform.orchestration.lineage import platform_assets

DAG_ID = "demo_load"
ASSETS = platform_assets()


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["platform", "demo", "kafka"],
    default_args={"owner": "platform", "retries": 0},  # re-sending on retry would double the load
    params={
        "rate": Param(500, type="number", minimum=0, description="events per second (0: no pacing)"),
        "duration": Param(60, type="number", minimum=1, maximum=3600, description="seconds to send for"),
        "bad_fraction": Param(0.02, type="number", minimum=0, maximum=1, description="bad records share"),
        "customers": Param(10_000, type="integer", minimum=1),
        "seed": Param(42, type="integer"),
    },
    doc_md=__doc__,
)
def demo_load():
    @task(outlets=[ASSETS.events_topic])
    def produce(params: dict | None = None) -> dict:
        from streaming_platform.orchestration.demo import produce_events

        return produce_events(**(params or {}))

    produce()


demo_load()
