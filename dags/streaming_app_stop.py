"""Stop the streaming app gracefully: the micro-batch in flight finishes, nothing is redone.

``request_stop`` writes the app's stop file (``<checkpoint>/STOP``); the app sees it between
micro-batches and exits 0, so the running ``streaming_app`` task ends green. ``wait_until_stopped``
waits (up to 10 minutes) until the app's Spark UI no longer lists it. Start it again with the
``streaming_app`` DAG: it resumes from the checkpoint.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

DAG_ID = "streaming_app_stop"


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["platform", "spark", "streaming"],
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(seconds=10)},
    doc_md=__doc__,
)
def streaming_app_stop():
    @task
    def request_stop() -> str:
        from streaming_platform.orchestration import streaming  # task-time: keeps parsing light

        return streaming.request_stop()

    @task.sensor(poke_interval=5, timeout=600, mode="poke")
    def wait_until_stopped() -> bool:
        from streaming_platform.orchestration import streaming

        return streaming.app_stopped()

    request_stop() >> wait_until_stopped()


streaming_app_stop()
