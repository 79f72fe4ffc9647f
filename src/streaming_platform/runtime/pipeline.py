"""From healthy services to a live pipeline: ``platform_setup`` then ``streaming_app``, via Airflow.

``platform pipeline`` (the end of ``make up``) triggers the DAGs through Airflow's REST API, so
the runs show in its UI, waits for ``platform_setup`` to succeed and for the streaming app's
first runtime-metrics document in Elasticsearch, and prints the time it took. Nothing is
triggered twice: a succeeded setup is not re-run, a queued or running stream is left alone.
``platform demo`` also triggers ``demo_load``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from streaming_platform import clients, health
from streaming_platform.airflow_api import AirflowClient, AirflowError
from streaming_platform.config import Settings
from streaming_platform.progress import say

SETUP_DAG = "platform_setup"
STREAM_DAG = "streaming_app"
DEMO_DAG = "demo_load"
IN_FLIGHT = frozenset({"queued", "running"})
PARSE_TIMEOUT_S = 120.0  # the DAG processor parses dags/ shortly after Airflow is healthy
SETUP_TIMEOUT_S = 300.0
LIVE_TIMEOUT_S = 300.0
POLL_S = 2.0
UNANSWERED_GRACE_S = 60.0  # a loaded machine's Airflow can miss one request just after starting
# Set by the Makefile when `make` starts, so the printed time covers setup and start-up too.
T0_ENV = "MAKE_STARTED_AT"


T = TypeVar("T")


class PipelineError(RuntimeError):
    """The pipeline did not come up; the message says which step and where to look."""


@dataclass(frozen=True)
class Plan:
    """What to do given the latest run state of each DAG (None: never run)."""

    trigger_setup: bool
    wait_setup: bool
    trigger_stream: bool

    @property
    def nothing_to_do(self) -> bool:
        return not (self.trigger_setup or self.wait_setup or self.trigger_stream)


def plan(setup_state: str | None, stream_state: str | None) -> Plan:
    """Decide the triggers: a stream in flight means the pipeline is up (or coming up) already."""
    if stream_state in IN_FLIGHT:
        return Plan(trigger_setup=False, wait_setup=False, trigger_stream=False)
    setup_done = setup_state == "success"
    return Plan(
        trigger_setup=not setup_done and setup_state not in IN_FLIGHT,
        wait_setup=not setup_done,
        trigger_stream=True,
    )


async def _patient(request: Callable[[], Awaitable[T]]) -> T:
    """``await request()``, retried while Airflow does not answer (HTTP errors are not retried)."""
    deadline = time.monotonic() + UNANSWERED_GRACE_S
    while True:
        try:
            return await request()
        except AirflowError as exc:
            if exc.status is not None or time.monotonic() > deadline:
                raise
            say(f"… Airflow did not answer ({exc}); retrying")
            await asyncio.sleep(POLL_S)


def _state(run: dict[str, Any] | None) -> str | None:
    return None if run is None else run.get("state")


def _run_id(run: dict[str, Any]) -> str:
    """A run's id, from a trigger's answer (``run_id``) or the REST API's run (``dag_run_id``)."""
    return str(run.get("run_id") or run["dag_run_id"])


async def _wait_parsed(client: AirflowClient, dag_id: str) -> None:
    deadline = time.monotonic() + PARSE_TIMEOUT_S
    while await _patient(lambda: client.dag(dag_id)) is None:
        if time.monotonic() > deadline:
            raise PipelineError(f"Airflow has not parsed DAG {dag_id!r} after {PARSE_TIMEOUT_S:.0f}s")
        await asyncio.sleep(POLL_S)


async def _trigger(client: AirflowClient, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    await _wait_parsed(client, dag_id)
    run = await client.trigger(dag_id, conf or {})  # not retried: an unanswered POST may have run
    say(f"→ triggered {dag_id} ({run['url']})")
    return run


async def _wait_success(client: AirflowClient, dag_id: str, run_id: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        state = _state(await _patient(lambda: client.get_run(dag_id, run_id)))
        if state == "success":
            return
        if state not in IN_FLIGHT:
            raise PipelineError(f"{dag_id} run {run_id} ended {state}: {client.run_url(dag_id, run_id)}")
        if time.monotonic() > deadline:
            raise PipelineError(f"{dag_id} run {run_id} still {state} after {timeout_s:.0f}s")
        await asyncio.sleep(POLL_S)


def runtime_docs_since(settings: Settings, since: datetime | None) -> int:
    """Runtime-metrics documents of the streaming app (since ``since`` if given); 0 if no index."""
    query = {"match_all": {}} if since is None else {"range": {"timestamp": {"gte": since.isoformat()}}}
    es = clients.es_client(settings)
    answer = es.options(ignore_status=404).count(index=settings["es.index.runtime"], query=query)
    return int(answer.get("count", 0))


async def _wait_live(client: AirflowClient, settings: Settings, run_id: str, since: datetime) -> None:
    """Until the app indexed a micro-batch's metrics after ``since`` (or resumed an idle topic)."""
    resumed = runtime_docs_since(settings, None) > 0  # a restart on an idle topic writes no batch
    deadline = time.monotonic() + LIVE_TIMEOUT_S
    while True:
        if runtime_docs_since(settings, since) > 0:
            return
        state = _state(await _patient(lambda: client.get_run(STREAM_DAG, run_id)))
        if state not in IN_FLIGHT:
            url = client.run_url(STREAM_DAG, run_id)
            raise PipelineError(f"{STREAM_DAG} run {run_id} ended {state}: {url}")
        if resumed and state == "running" and health.app_liveness(settings).ok:
            return
        if time.monotonic() > deadline:
            raise PipelineError(
                f"no runtime metrics in {settings['es.index.runtime']} {LIVE_TIMEOUT_S:.0f}s after "
                f"starting {STREAM_DAG}: {client.run_url(STREAM_DAG, run_id)}"
            )
        await asyncio.sleep(POLL_S)


async def bring_up(client: AirflowClient, settings: Settings, demo: bool = False) -> bool:
    """Make the pipeline live; True if something was triggered, False if it already ran."""
    todo = plan(
        _state(await _patient(lambda: client.latest_run(SETUP_DAG))),
        _state(await _patient(lambda: client.latest_run(STREAM_DAG))),
    )
    if todo.nothing_to_do:
        say(f"✓ pipeline already running ({STREAM_DAG} in flight)")
    if todo.wait_setup:
        if todo.trigger_setup:
            run = await _trigger(client, SETUP_DAG)
        else:
            run = await _patient(lambda: client.latest_run(SETUP_DAG))
        say(f"… waiting for {SETUP_DAG}")
        await _wait_success(client, SETUP_DAG, _run_id(run), SETUP_TIMEOUT_S)
        say(f"✓ {SETUP_DAG} succeeded")
    if todo.trigger_stream:
        since = datetime.now(UTC)
        run = await _trigger(client, STREAM_DAG)
        say(f"… waiting for the first micro-batch in {settings['es.index.runtime']}")
        await _wait_live(client, settings, _run_id(run), since)
        say("✓ streaming app live")
    if demo:
        await _trigger(client, DEMO_DAG)
    return not todo.nothing_to_do or demo


def _elapsed(started: float) -> str:
    t0 = os.environ.get(T0_ENV)
    if t0:
        return f"{time.time() - float(t0):.0f}s since `make` started"
    return f"{time.monotonic() - started:.0f}s"


def run(settings: Settings, demo: bool = False) -> None:
    """The CLI's entry: bring the pipeline up, then print the time and what to open."""
    started = time.monotonic()
    client = AirflowClient(settings, timeout_s=20.0)

    async def go() -> bool:
        try:
            return await bring_up(client, settings, demo)
        finally:
            await client.aclose()

    try:
        asyncio.run(go())
    except AirflowError as exc:
        raise PipelineError(str(exc)) from None
    say(f"✓ pipeline live in {_elapsed(started)}")
    dashboard = f"http://{settings['bind.host']}:{settings['dashboard.port']}/pipeline"
    say(f"  Dashboard       {dashboard}" + ("   (demo events flowing)" if demo else ""))
    say(f"  Airflow runs    {client.run_url(STREAM_DAG)}")
