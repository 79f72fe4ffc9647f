"""Launch and stop the Spark app from Airflow.

:class:`StreamingAppSubmitOperator` is the Spark provider's ``SparkSubmitOperator`` for
``spark_apps/customer_events_stream.py``; its Spark conf, jars and environment come from
:func:`streaming_platform.streaming.submit.submit_conf` / ``submit_env`` **when the task runs**, so
a setting changed from the dashboard applies at the next launch without re-parsing the DAG.

Stop protocol (see the app): the stop file ``<checkpoint>/STOP`` makes the app finish the
micro-batch in flight and exit 0, so the Airflow task ends green and is not retried.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

from streaming_platform import config, streaming
from streaming_platform.connections import SPARK_CONN_ID
from streaming_platform.progress import say
from streaming_platform.streaming import APP_NAME, ENTRY_POINT
from streaming_platform.streaming.submit import submit_conf, submit_env


class StreamingAppSubmitOperator(SparkSubmitOperator):
    """``spark-submit`` of the streaming app with the platform's Spark conf, resolved at run time.

    ``available_now``: True or False fixes the mode; None (the default) takes it from the run's
    ``available_now`` param, so one task serves both modes (no branch task to schedule first)."""

    def __init__(
        self, *, available_now: bool | None = None, app_args: list[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            application=str(ENTRY_POINT),
            name=APP_NAME,
            conn_id=kwargs.pop("conn_id", SPARK_CONN_ID),
            application_args=app_args or [],
            **kwargs,
        )
        self.available_now = available_now

    def execute(self, context: Any) -> None:
        available_now = self.available_now
        if available_now is None:
            available_now = bool((context.get("params") or {}).get("available_now"))
        if available_now and "--available-now" not in self.application_args:
            self.application_args = ["--available-now", *self.application_args]
        settings = config.load()
        conf = submit_conf(settings)
        conf.pop("spark.master")  # the spark_default connection decides the master
        conf.pop("spark.app.name")
        self.jars = conf.pop("spark.jars")
        self._driver_memory = conf.pop("spark.driver.memory")
        self.conf = conf
        self.env_vars = {**submit_env(settings), **(self.env_vars or {})}
        mode = "available-now (process the backlog, then exit)" if available_now else "continuous"
        if "--catch-up" in self.application_args:
            mode = "catch-up (a new version of the results, until it has caught up with the topic)"
        self.log.info("launching %s in %s mode; stop it with the streaming_app_stop DAG", APP_NAME, mode)
        return super().execute(context)


def request_stop() -> str:
    """Write the stop file; the app stops after the micro-batch in flight."""
    path = streaming.stop_file(config.load())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"stop requested at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
    say(f"stop requested: wrote {path}; the app finishes its current micro-batch, then exits")
    return str(path)


def app_stopped() -> bool:
    """True once the app's Spark UI no longer lists it as running (a silent UI is not "stopped")."""
    from streaming_platform import health  # task-time: the DAG files parse without its clients

    check = health.app_liveness(config.load())
    say(check.message)
    return check.value == 0
