"""Background probe loops and the live snapshot the SSE stream pushes.

Each probe runs in its own asyncio task, on its own interval, with its own timeout; blocking
client calls run in worker threads. A slow or dead service therefore only makes its own card
stale or red, never delays another card or the stream. A probe whose previous call is still
stuck in its thread is not started again (no thread pile-up); its card says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient

from streaming_platform import contract, health
from streaming_platform.airflow_api import PLATFORM_DAGS, AirflowClient, AirflowError
from streaming_platform.clients import es_client, kafka_admin, kafka_consumer
from streaming_platform.config import Settings
from streaming_platform.dashboard import probes, status
from streaming_platform.dashboard.resources import SAMPLE_EVERY_S, ResourceSampler
from streaming_platform.runtime.process import Paths
from streaming_platform.streaming import app_checkpoint

log = logging.getLogger("streaming_platform.dashboard")
PROBE_TIMEOUT_S = 4.0


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, KafkaException) and exc.args and hasattr(exc.args[0], "str"):
        return f"Kafka: {exc.args[0].str()}"
    if isinstance(exc, TimeoutError):
        return "no answer within the probe timeout"
    text = str(exc) or exc.__class__.__name__
    return text if len(text) <= 300 else text[:297] + "…"


class Monitor:
    def __init__(self, settings: Settings, paths: Paths):
        self.settings = settings
        try:
            self.contract: dict[str, Any] = contract.labels(contract.load(settings["contract.path"]))
        except contract.ContractError as exc:  # shown, not fatal: the dashboard reports problems
            self.contract = {"error": str(exc)}
        self.paths = paths
        self.results: dict[str, status.Probe] = {}
        self.series = {
            k: status.Series() for k in ("events", "deadletter", "consumed", "lag", "es_out", "q_index")
        }
        first_ui = settings["spark.ui.port"]
        self.sampler = ResourceSampler(
            paths, range(first_ui, first_ui + health.UI_PORT_TRIES), app_checkpoint(settings)
        )
        self.airflow = AirflowClient(settings)
        self.es = es_client(settings).options(request_timeout=PROBE_TIMEOUT_S - 0.5, max_retries=0)
        self._admin: AdminClient | None = None
        self._consumer: Consumer | None = None
        self._busy: dict[str, asyncio.Future[Any]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ probes

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = kafka_admin(self.settings, log_level=0, **{"socket.timeout.ms": 3000})
        return self._admin

    @property
    def consumer(self) -> Consumer:
        """A group consumer that never subscribes: only reads the app group's committed offsets."""
        if self._consumer is None:
            group = self.settings["kafka.consumer.group"]
            self._consumer = kafka_consumer(self.settings, group, log_level=0, **{"socket.timeout.ms": 3000})
        return self._consumer

    async def _threaded(self, name: str, fn: Callable[[], Any]) -> Any:
        pending = self._busy.get(name)
        if pending is not None and not pending.done():
            raise TimeoutError(f"previous {name} probe still waiting for an answer")
        fut = asyncio.ensure_future(asyncio.to_thread(fn))
        self._busy[name] = fut
        return await asyncio.shield(fut)

    async def _airflow(self) -> dict[str, Any]:
        health = await self.airflow.health()
        runs, runs_error = [], None
        try:
            answers = await asyncio.gather(*(self.airflow.latest_run(d) for d in PLATFORM_DAGS))
        except AirflowError as exc:
            answers, runs_error = [None] * len(PLATFORM_DAGS), str(exc)
        for dag_id, run in zip(PLATFORM_DAGS, answers, strict=True):
            run = run or {}
            run_id = run.get("dag_run_id")
            runs.append(
                {
                    "dag_id": dag_id,
                    "state": run.get("state"),
                    "run_id": run_id,
                    "start": run.get("start_date") or run.get("run_after"),
                    "url": self.airflow.run_url(dag_id, run_id),
                }
            )
        return {"health": health, "runs": runs, "runs_error": runs_error}

    async def _kibana(self) -> dict[str, Any]:
        url = self.settings["kibana.url"].rstrip("/")
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S - 0.5) as client:
            resp = await client.get(f"{url}/api/status")
        resp.raise_for_status()
        overall = (resp.json().get("status") or {}).get("overall") or {}
        return {"level": overall.get("level") or overall.get("state") or "available"}

    async def _resources(self) -> dict[str, Any]:
        return await self._threaded("resources", self.sampler.sample_once)

    def probe_table(self) -> list[tuple[str, float, Callable[[], Awaitable[Any]]]]:
        s = self.settings
        table: list[tuple[str, float, Callable[[], Awaitable[Any]]]] = [
            (
                "kafka",
                2.0,
                lambda: self._threaded("kafka", lambda: probes.kafka(self.admin, self.consumer, s)),
            ),
            (
                "elasticsearch",
                3.0,
                lambda: self._threaded("elasticsearch", lambda: probes.elasticsearch(self.es, s)),
            ),
            ("spark", 2.0, lambda: self._threaded("spark", lambda: probes.spark(self.es, s))),
            (
                "spark-app",
                5.0,
                lambda: self._threaded("spark-app", lambda: health.app_liveness(s, probes.UI_WAIT_S).ok),
            ),
            (
                "producer",
                5.0,
                lambda: self._threaded("producer", lambda: probes.process(self.paths, "producer")),
            ),
            ("airflow", 5.0, self._airflow),
            ("resources", SAMPLE_EVERY_S, self._resources),
        ]
        if s["kibana.url"]:
            table.append(("kibana", 10.0, self._kibana))
        return table

    async def probe_once(
        self, name: str, fn: Callable[[], Awaitable[Any]], timeout: float = PROBE_TIMEOUT_S
    ) -> None:
        t0 = time.monotonic()
        try:
            data = await asyncio.wait_for(fn(), timeout)
            result: status.Probe = {"ok": True, "data": data, "error": None}
        except Exception as exc:  # noqa: BLE001 - any failure is shown on the card, in words
            result = {"ok": False, "data": None, "error": describe_error(exc)}
        result.update(at=time.time(), took_ms=round((time.monotonic() - t0) * 1000))
        self.results[name] = result
        self._record(name, result)

    async def _loop(self, name: str, interval: float, fn: Callable[[], Awaitable[Any]]) -> None:
        while True:
            await self.probe_once(name, fn, timeout=max(PROBE_TIMEOUT_S, interval * 0.8))
            await asyncio.sleep(interval)

    def start(self) -> None:
        for name, interval, fn in self.probe_table():
            self._tasks.append(asyncio.create_task(self._loop(name, interval, fn), name=f"probe-{name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._consumer is not None:
            self._consumer.close()
        await self.airflow.aclose()

    # ------------------------------------------------------------------ history

    def _record(self, name: str, result: status.Probe) -> None:
        if not result["ok"]:
            return
        t, d = result["at"], result["data"]
        if name == "kafka":
            self._record_kafka(t, d)
        elif name == "elasticsearch":
            idx = d["indices"]
            out = sum(idx[r]["indexed_total"] for r in ("aggregates", "customers", "quarantine"))
            self.series["es_out"].add(t, out)
            self.series["q_index"].add(t, idx["quarantine"]["indexed_total"])

    def _record_kafka(self, t: float, d: dict[str, Any]) -> None:
        events, dlq = d["topics"]["events"], d["topics"]["deadletter"]
        if events.get("exists"):
            self.series["events"].add(t, events["total"])
        if dlq.get("exists"):
            self.series["deadletter"].add(t, dlq["total"])
        spark = self.results.get("spark")
        doc = spark["data"].get("latest") if spark and spark["ok"] else None
        consumed = status.consumed_total(d, doc, events["name"])
        self.series["consumed"].add(t, consumed)
        if consumed is not None and events.get("exists"):
            self.series["lag"].add(t, max(0.0, events["total"] - consumed))

    # ------------------------------------------------------------------ snapshot

    def rates(self, spark_card: dict[str, Any]) -> dict[str, float | None]:
        spark_in = self.series["consumed"].rate()
        if spark_in is None and spark_card["status"] in ("green", "amber"):
            spark_in = next((m["value"] for m in spark_card["metrics"] if m["label"] == "processed"), None)
        quarantine = self.series["deadletter"].rate()
        if quarantine is None:
            quarantine = self.series["q_index"].rate()
        return {
            "kafka_in": self.series["events"].rate(),
            "spark_in": spark_in,
            "es_in": self.series["es_out"].rate(),
            "quarantine": quarantine,
        }

    def _app_running(self) -> bool:
        probe = self.results.get("spark-app")
        return bool(probe and probe["ok"] and probe["data"])

    def snapshot(self) -> dict[str, Any]:
        r, s, now = self.results, self.settings, time.time()
        lag = self.series["lag"] if self.series["lag"].points else None
        cards = [
            status.kafka_card(r.get("kafka")),
            status.topic_card(r.get("kafka"), "events", self.series["events"], lag, s),
            status.topic_card(r.get("kafka"), "deadletter", self.series["deadletter"], None, s),
            status.spark_card(r.get("spark"), s, now, self._app_running(), lag.last() if lag else None),
            status.es_card(r.get("elasticsearch")),
            status.airflow_card(r.get("airflow")),
            status.producer_card(r.get("producer"), self.series["events"]),
        ]
        kibana = status.kibana_card(r.get("kibana"), s["kibana.url"])
        if kibana:
            cards.append(kibana)
        for c in cards:
            probe_name = {"topic-events": "kafka", "topic-deadletter": "kafka"}.get(c["id"], c["id"])
            probe = r.get(probe_name)
            c["updated"] = probe["at"] if probe else None
        by_id = {c["id"]: c for c in cards}
        rates = self.rates(by_id["spark"])
        return {
            "time": now,
            "overall": status.worst([c["status"] for c in cards if c["id"] != "producer"]),
            "cards": cards,
            "flow": status.flow(by_id, rates),
            "rates": rates,
            "contract": self.contract,
            "resources": self.sampler.latest(),
            "probes": {n: {k: p[k] for k in ("ok", "error", "at", "took_ms")} for n, p in r.items()},
        }

    def lag_history(self, since: float) -> list[dict[str, float]]:
        return [{"t": t * 1000, "lag": v} for t, v in self.series["lag"].points if t >= since]
