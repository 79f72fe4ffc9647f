"""The streaming query and its driver loop (entry point: ``spark_apps/customer_events_stream.py``).

Kafka source (``spark.source``: the app's Python Kafka source, or Spark's Kafka source; offsets
in the Spark checkpoint either way) → ``foreachBatch`` (output mode append: every Kafka record
reaches exactly one micro-batch) → per batch N:

1. parse + validate in the executors (:mod:`.parse`; quarantine written there, in parallel);
   the valid events' compact columns go to the driver (Arrow);
2. the batch's Kafka offset ranges are saved and the batch is queued for the writer
   (:mod:`.writer_queue`); Spark commits N and reads and parses N+1 meanwhile;
3. writer thread 1 applies every batch waiting, in order, to :class:`.state.StreamState` and
   renders the new whole documents of each touched window, once per group, and of the customers
   whose turn has come: a changed customer is written within ``spark.customers.write.interval``
   (oldest change first, each group its share; all at once when Spark waits for data or the app
   stops), so the Elasticsearch load does not grow with the number of micro-batches;
4. writer thread 2 bulk-writes the previous group by id (:mod:`.sink`): the windows,
   duplicates quarantined, refresh (→ the batches' aggregates searchable), then the customers
   due, refresh; saves the groups' state deltas, indexes each batch's runtime metrics and
   commits the consumer-group offsets (lag monitoring only).

An unreachable Elasticsearch or Kafka is waited out (:mod:`.sink`: capped backoff for up to
``spark.outage.timeout``, the batch held, so Spark takes no new data; ``<checkpoint>/status.json``
says what the app waits for); only a longer outage stops the app. On (re)start, a batch Spark committed whose
delta was never saved is read again from its saved offsets and written again (same ids): no
loss, no double counting.

Stop: ``--available-now`` processes what is in the topic and exits; otherwise the app runs until
SIGTERM/SIGINT or until the stop file (default ``<checkpoint>/STOP``) appears, and then stops
between micro-batches — a batch in flight finishes first.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.errors import StreamingQueryException

from streaming_platform import config
from streaming_platform.clients import kafka_admin, kafka_consumer
from streaming_platform.config import REPO_ROOT, Settings
from streaming_platform.es_indices import format_offset_range
from streaming_platform.progress import say
from streaming_platform.streaming import APP_NAME, ENTRY_POINT, STOP_FILE, app_checkpoint, write_status
from streaming_platform.streaming.parse import (
    PAYLOAD_DDL,
    SOURCE_COLUMNS,
    Chunk,
    ParseTask,
    from_payloads,
    parse_chunk,
)
from streaming_platform.streaming.sink import (
    SinkConfig,
    bulk_write,
    describe_outage,
    ndjson,
    note_reachable,
    outages,
    quarantine_doc,
    retrying,
    write_quarantine,
)
from streaming_platform.streaming.state import BatchResult, Events, StateStore, StreamState
from streaming_platform.streaming.writer_queue import WriterQueue
from streaming_platform.validation import DUPLICATE_EVENT_ID, Limits

STOP_MESSAGE = "GracefulStop"
PROBE_EVERY_S = 5.0  # how often the driver checks that Elasticsearch and Kafka answer


@dataclass
class Parsed:
    """A parsed micro-batch waiting for the writer."""

    batch_id: int
    table: pa.Table
    ranges: dict[int, tuple[int, int]]  # partition → (first, last) offset read (offset_ranges)
    t0: float  # the batch started
    t_parse: float  # parsed and collected to the driver


@dataclass
class Applied:
    batch: Parsed
    valid_mask: Any
    events: Events
    result: BatchResult
    customers: int  # touched by the batch
    windows: int


# Put in the writer's queue instead of a batch: write every pending customer now.
FLUSH = None


@dataclass
class Prepared:
    """A group of batches applied to the state, its documents ready to be written."""

    applied: list[Applied]
    customers: dict[str, bytes]  # id → whole document (JSON)
    windows: dict[str, dict[str, Any]]
    pending: int  # customers still waiting to be written after this group
    behind_ms: int  # how long the longest-waiting of those has waited (0: none)
    through: int  # every customer change of the batches up to this one is written (-1: unknown)
    snapshot: tuple[int, bytes] | None
    t_start: float
    t_state: float


class GracefulStop(RuntimeError):
    """Raised at the start of a micro-batch once a stop was requested: Spark does not commit it."""


# ---------------------------------------------------------------------------- configuration


def spark_jars() -> list[Path]:
    lib = REPO_ROOT / "jvm" / "spark" / "target" / "lib"
    jars = sorted(lib.glob("*.jar"))
    if not jars:
        raise RuntimeError(f"no Spark Kafka connector jars in {lib}: run `mvn -q -f jvm/pom.xml package`")
    return jars


def python_executable() -> str:
    """The venv's interpreter (workers must import streaming_platform, orjson, pyarrow)."""
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def submit_conf(settings: Settings) -> dict[str, str]:
    """Spark configuration of the app; also what the Airflow DAG passes to SparkSubmitOperator."""
    py = python_executable()
    return {
        "spark.master": settings["spark.master"],
        "spark.app.name": APP_NAME,
        "spark.jars": ",".join(str(j) for j in spark_jars()),
        "spark.driver.memory": settings["spark.driver.memory"],
        "spark.sql.shuffle.partitions": str(settings["spark.shuffle.partitions"]),
        "spark.ui.port": str(settings["spark.ui.port"]),
        "spark.driver.host": settings["bind.host"],
        "spark.driver.bindAddress": settings["bind.host"],
        "spark.pyspark.python": py,
        "spark.pyspark.driver.python": py,
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        # Arrow batches to the Python workers: bigger than the 10k default, fewer round trips.
        "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
        # Python workers stay up between micro-batches (no fork + import per task).
        "spark.python.worker.reuse": "true",
    }


def submit_env(settings: Settings) -> dict[str, str]:
    """Environment of spark-submit (and the Python workers it starts)."""
    env = {
        "PYSPARK_PYTHON": python_executable(),
        "PYSPARK_DRIVER_PYTHON": python_executable(),
        "SPARK_LOCAL_IP": settings["bind.host"],
    }
    # The app reads the same settings as whoever launched it.
    env.update({o.env: str(settings[o.name]) for o in config.OPTIONS if settings.source(o.name) != "default"})
    return env


def submit_command(settings: Settings, app_args: list[str] | None = None) -> list[str]:
    """A complete ``spark-submit`` command line for the app."""
    spark_submit = str(Path(python_executable()).parent / "spark-submit")
    conf = submit_conf(settings)
    cmd = [spark_submit, "--master", conf.pop("spark.master"), "--name", conf.pop("spark.app.name")]
    cmd += ["--jars", conf.pop("spark.jars"), "--driver-memory", conf.pop("spark.driver.memory")]
    for k, v in conf.items():
        cmd += ["--conf", f"{k}={v}"]
    return [*cmd, str(ENTRY_POINT), *(app_args or [])]


def sink_config(settings: Settings) -> SinkConfig:
    return SinkConfig(
        es_url=settings["es.url"],
        es_username=settings["es.username"],
        es_password=settings["es.password"],
        bootstrap_servers=settings["kafka.bootstrap.servers"],
        quarantine_index=settings["es.index.quarantine"],
        deadletter_topic=settings["kafka.topic.deadletter"],
        bulk_docs=settings["spark.es.bulk.docs"],
        bulk_threads=settings["spark.es.bulk.threads"],
        outage_s=config.duration_ms(settings["spark.outage.timeout"]) / 1000,
    )


# ---------------------------------------------------------------------------- the app


def _percentiles(values: np.ndarray) -> tuple[int, int, int]:
    if not len(values):
        return 0, 0, 0
    p50, p95 = np.percentile(values, [50, 95])
    return int(p50), int(p95), int(values.max())


class StreamApp:
    """Owns the Spark query, the driver state and the stop protocol."""

    def __init__(self, spark: Any, settings: Settings, checkpoint: Path | None = None) -> None:
        self.spark = spark
        self.settings = settings
        self.checkpoint = checkpoint or app_checkpoint(settings)
        self.topic = settings["kafka.topic.events"]
        self.source = settings["spark.source"]
        self.limits = Limits.from_settings(settings)
        self.sink = sink_config(settings)
        self.es = self.sink.es()
        self.window_ms = config.duration_ms(settings["spark.window.duration"])
        self.customer_interval_ms = config.duration_ms(settings["spark.customers.write.interval"])
        self._customers_written_ms = int(time.time() * 1000)
        # (batch id, when applied) of the batches whose customer changes may still wait; the
        # last batch known to be written whole (after a restart: unknown until caught up).
        self._applied_at: deque[tuple[int, int]] = deque()
        self._through = -1
        self.delay_ms = config.duration_ms(settings["spark.watermark"])
        self.store = StateStore(self.checkpoint / "app-state")
        self.state: StreamState | None = None
        self.stop_file = self.checkpoint / STOP_FILE
        self._lock = threading.Lock()
        self._stopping = False
        self._busy = False
        self._group: Any = None
        # Two writer threads: while Spark reads and parses batches, one applies the batches
        # waiting to the state and renders their documents, the other writes the previous group
        # to Elasticsearch (mostly waiting on it) and saves its state.
        self._publisher: WriterQueue[Prepared] = WriterQueue(self._publish)
        self._writer: WriterQueue[Parsed | None] = WriterQueue(
            lambda g: self._publisher.put(self._prepare(g))
        )
        self.batches = 0
        self._status: dict[str, Any] | None = None
        self._next_probe = 0.0
        self._admin: Any = None
        self.detail = ""
        self._query_id: str | None = None

    # -- state
    def _state_for(self, batch_id: int) -> StreamState:
        """The state after ``batch_id - 1``: in memory normally, from disk after a (re)start.

        After a crash, Spark may have committed batches whose documents were not yet written (the
        writer runs a few batches behind Spark): those are read again from Kafka at the offsets
        saved before Spark committed them, and written again, whole and by id.
        """
        if self.state is not None and self.state.batch_id == batch_id - 1:
            return self.state
        saved = self.store.last_saved(batch_id - 1)
        self.state = self.store.load(saved, self.window_ms, self.delay_ms)
        if self.state.batch_id >= 0:
            say(
                f"  state restored at batch {self.state.batch_id} ({len(self.state.cust_ids):,} customers, "
                f"{len(self.state.pending):,} of them to write again)"
            )
        lost = []
        for missing in range(saved + 1, batch_id):
            ranges = self.store.ranges(missing)
            if ranges is None:
                raise RuntimeError(f"batch {missing}: neither its state nor its offsets in {self.store.root}")
            say(f"  batch {missing} was committed by Spark but not written: reading it again ({ranges})")
            now = time.time()
            lost.append(Parsed(missing, self._reread(missing, ranges), ranges, now, now))
        if lost:
            self._publish([self._prepare(lost)])
        self.store.discard_after(batch_id - 1)
        return self.state

    def recover(self) -> None:
        """Bring the state up to the last batch Spark committed (before any new batch runs)."""
        commits = self.checkpoint / "commits"
        done = [int(p.name) for p in commits.iterdir() if p.name.isdigit()] if commits.is_dir() else []
        if done:
            self._state_for(max(done) + 1)

    def _reread(self, batch_id: int, ranges: dict[int, tuple[int, int]]) -> pa.Table:
        """Batch ``batch_id`` parsed again from its Kafka offsets (quarantine rewritten by id)."""
        bad: list[dict[str, Any]] = []
        parsed = parse_chunk(
            self.topic, batch_id, self.limits, read_ranges(self.settings, self.topic, ranges), bad
        )
        write_quarantine(bad, self.sink, self.es)
        return parsed

    # -- one micro-batch
    def process(self, df: Any, batch_id: int) -> None:
        with self._lock:
            if self._stopping:
                raise GracefulStop(f"{STOP_MESSAGE}: not starting batch {batch_id}")
            self._busy = True
        try:
            self._process(df, batch_id)
        finally:
            with self._lock:
                self._busy = False

    def _process(self, df: Any, batch_id: int) -> None:
        """Parse batch N in the executors (the writer thread meanwhile writes earlier ones) and
        hand it to the writer. Spark commits N when this returns: its offset ranges are saved
        first, so a crash before its documents are written loses nothing (see :meth:`_state_for`).
        """
        t0 = time.time()
        if self.source == "python-kafka":
            payloads = df.toArrow()  # parsed by the source's tasks (kafka_source.py)
        else:
            task = ParseTask(self.topic, batch_id, self.limits, self.sink)
            payloads = df.selectExpr(*SOURCE_COLUMNS).mapInArrow(task, PAYLOAD_DDL).toArrow()
        table = from_payloads(payloads)
        ranges = offset_ranges(table)
        self.store.save_ranges(batch_id, ranges)
        self._writer.put(Parsed(batch_id, table, ranges, t0, time.time()))

    def drain(self) -> None:
        """Write every batch handed to the writer and every pending customer; re-raise its error."""
        self._writer.put(FLUSH)
        self._writer.drain()
        self._publisher.drain()

    def flush_if_idle(self, query: Any) -> None:
        """Write the pending customers as soon as the stream has caught up: the writer has
        nothing to do and Spark is waiting for data (no load to spread the writes over)."""
        state = self.state
        if state is None or not state.pending or self._writer.idle_for() < 0.1:
            return
        status = query.status
        if status.get("isDataAvailable") or status.get("isTriggerActive"):
            return
        try:
            self._writer.put(FLUSH)
        except RuntimeError as exc:  # the writer failed: stop (the restart re-reads what is unwritten)
            say(f"✗ {exc}")
            self.request_stop()

    def _prepare(self, group: list[Parsed | None]) -> Prepared:
        """Apply the batches in order, render the touched windows once (as of the group's last
        batch), and the customers whose turn has come (:meth:`_customers_due`)."""
        t_start = time.time()
        batches = [b for b in group if b is not FLUSH]
        state = self._state_for(batches[0].batch_id) if batches else self.state
        now_ms = int(time.time() * 1000)
        windows: dict[str, dict[str, Any]] = {}
        applied = []
        for batch in batches:
            if state.batch_id != batch.batch_id - 1:
                raise RuntimeError(f"batch {batch.batch_id} after batch {state.batch_id}: out of order")
            valid_mask = pc.is_null(batch.table.column("reasons"))
            events = Events.from_arrow(batch.table.filter(valid_mask))
            result = state.apply(batch.batch_id, events, now_ms)
            win = state.window_docs(result.delta, batch.batch_id, now_ms)
            windows.update(win)  # a later batch's whole document replaces an earlier one
            touched = len(result.delta["cust_idx"])
            applied.append(Applied(batch, valid_mask, events, result, touched, len(win)))
        if state is None:  # a flush before any batch
            return Prepared([], {}, {}, 0, 0, -1, None, t_start, time.time())
        due = state.take_pending(self._customers_due(state, now_ms, len(batches) < len(group)))
        if applied:  # a replay then knows these customers were written (see state.py)
            applied[-1].result.delta["written"] = due
        customers = dict(state.customer_docs(due, now_ms))
        oldest = next(iter(state.pending.values())) if state.pending else None
        through = self._customers_through(state, [a.batch.batch_id for a in applied], now_ms, oldest)
        snapshot = self.store.snapshot_if_due(state, [a.result.delta for a in applied])
        return Prepared(
            applied,
            customers,
            windows,
            len(state.pending),
            0 if oldest is None else now_ms - oldest,
            through,
            snapshot,
            t_start,
            time.time(),
        )

    def _customers_through(
        self, state: StreamState, batch_ids: list[int], now_ms: int, oldest: int | None
    ) -> int:
        """The last batch all of whose customer changes are written: the one before the first
        batch applied at or after the oldest pending change (batches remembered since that)."""
        self._applied_at.extend((b, now_ms) for b in batch_ids)
        if oldest is None:
            self._applied_at.clear()
            self._through = state.batch_id
            return self._through
        while self._applied_at and self._applied_at[0][1] < oldest:
            self._through = self._applied_at.popleft()[0]
        return self._through

    def _customers_due(self, state: StreamState, now_ms: int, flush: bool) -> int:
        interval = 0 if flush else self.customer_interval_ms
        due = state.customers_due(now_ms - self._customers_written_ms, interval, now_ms)
        if due:
            self._customers_written_ms = now_ms
        return due

    def _publish(self, prepared: list[Prepared]) -> None:
        """Write the prepared groups waiting as one: each document once (the latest). The windows
        first, duplicates quarantined, refresh (→ the batches' aggregates searchable: their
        latency); then the customers due, refresh; then their deltas saved (the batches are done),
        runtime metrics per batch, monitoring offsets."""
        customers: dict[str, bytes] = {}
        windows: dict[str, dict[str, Any]] = {}
        for p in prepared:
            customers.update(p.customers)
            windows.update(p.windows)
        applied = [a for p in prepared for a in p.applied]
        t_write = time.time()
        if not (applied or customers):
            return
        if windows:
            bulk_write(self.es, ndjson(self.settings["es.index.aggregates"], windows.items()), self.sink)
        dups = [
            doc
            for a in applied
            for doc in self._duplicate_docs(a.events, a.result.duplicates, a.batch.batch_id)
        ]
        write_quarantine(dups, self.sink, self.es)
        refresh = ["aggregates"] if windows else []
        if dups or any(a.batch.table.num_rows > a.result.accepted for a in applied):
            refresh.append("quarantine")  # the executors or this thread quarantined records
        self._refresh(refresh)
        visible = time.time()
        if customers:  # after the aggregates: ~100x more documents, not on their latency's path
            bulk_write(self.es, ndjson(self.settings["es.index.customers"], customers.items()), self.sink)
            self._refresh(["customers"])
        customers_visible = time.time()
        self.detail = (
            f"{len(applied)} batch(es) written together: {len(windows)} windows in "
            f"{visible - t_write:.2f}s (waited {t_write - prepared[0].t_state:.2f}s), "
            f"{len(customers):,} customers in {customers_visible - visible:.2f}s"
        )
        snapshots = [p.snapshot for p in prepared if p.snapshot is not None]
        self.store.save_prepared([a.result.delta for a in applied], snapshots[-1] if snapshots else None)
        if not applied:  # customers written after the stream caught up: no batch to report
            return
        last = prepared[-1]
        group = {
            "write_group": len(applied),
            "customers_written": len(customers),
            "customers_pending": last.pending,
            "customers_behind_ms": last.behind_ms,
            "customers_through_batch": last.through,
            "customers_timestamp": int(customers_visible * 1000),
        }
        metrics = [
            self._metrics(a, group, (a.batch.t0, a.batch.t_parse, p.t_start, p.t_state, visible))
            for p in prepared
            for a in p.applied
        ]
        bulk_write(self.es, ndjson(self.settings["es.index.runtime"], metrics), self.sink)
        if self.source == "spark-kafka":  # the Python source commits them itself (commit())
            self._commit_group([a.batch.ranges for a in applied])
        self.batches += len(applied)

    def _refresh(self, indices: list[str]) -> None:
        if indices:
            names = [self.settings[f"es.index.{k}"] for k in indices]
            retrying(self.sink, lambda: self.es.indices.refresh(index=names))

    def _duplicate_docs(self, events: Events, positions: np.ndarray, batch_id: int) -> list[dict[str, Any]]:
        """Quarantine documents of duplicates, with their raw payloads re-read from Kafka."""
        if not len(positions):
            return []
        dups = events.take(positions)
        wanted = set(zip(dups.partition.tolist(), dups.offset.tolist(), strict=True))
        ranges = {
            p: (min(o for q, o in wanted if q == p), max(o for q, o in wanted if q == p)) for p, _ in wanted
        }
        raw = read_ranges(self.settings, self.topic, ranges)
        found = {
            (p, o): (k, v)
            for p, o, k, v in zip(
                raw.partitions.to_pylist(),
                raw.offsets.to_pylist(),
                raw.keys.to_pylist(),
                raw.values.to_pylist(),
                strict=True,
            )
            if (p, o) in wanted
        }
        docs = []
        for p, o, ms in zip(
            dups.partition.tolist(), dups.offset.tolist(), dups.kafka_ms.tolist(), strict=True
        ):
            key, value = found[(p, o)]
            eid = orjson.loads(value)["event_id"]  # it parsed as a valid event once already
            docs.append(quarantine_doc(self.topic, p, o, ms, key, value, [DUPLICATE_EVENT_ID], batch_id, eid))
        return docs

    def _metrics(
        self, a: Applied, group: dict[str, int], times: tuple[float, float, float, float, float]
    ) -> tuple[str, dict[str, Any]]:
        """The batch's runtime-metrics document (id, doc), also said in the log. ``group``: the
        figures of the write group the batch was written in."""
        t0, t_parse, t_start, t_state, visible = times
        batch_id, table, valid_mask, result = a.batch.batch_id, a.batch.table, a.valid_mask, a.result
        accepted = a.events.take(np.setdiff1d(np.arange(len(a.events)), result.duplicates))
        n = table.num_rows
        quarantined = n - result.accepted  # invalid + duplicates
        invalid = table.filter(pc.invert(valid_mask)).column("reasons").to_pylist()
        reasons: dict[str, int] = {}
        for text in invalid:
            for r in text.split(","):
                reasons[r] = reasons.get(r, 0) + 1
        if len(result.duplicates):
            reasons[DUPLICATE_EVENT_ID] = reasons.get(DUPLICATE_EVENT_ID, 0) + len(result.duplicates)
        lat = int(visible * 1000) - accepted.kafka_ms
        p50, p95, pmax = _percentiles(lat)
        ranges = [format_offset_range(self.topic, p, lo, hi) for p, (lo, hi) in a.batch.ranges.items()]
        duration = visible - t0
        doc = {
            "batch_id": batch_id,
            "query_id": self.query_id(),
            "timestamp": int(visible * 1000),
            "input_rows": n,
            "valid_rows": result.accepted,
            "quarantined": quarantined,
            "duplicates": len(result.duplicates),
            "dropped_late": result.dropped_late,
            "error_rate": quarantined / n if n else 0.0,
            "duration_ms": int(duration * 1000),
            "rows_per_second": n / duration if duration > 0 else 0.0,
            "latency_p50_ms": p50,
            "latency_p95_ms": p95,
            "latency_max_ms": pmax,
            "event_time_lag_ms": int(visible * 1000) - result.max_event_ms if result.max_event_ms else 0,
            "watermark": result.watermark_ms,
            "offsets_processed": n,
            "offset_ranges": ranges,
            "customers_touched": a.customers,
            "aggregates_written": a.windows,
            **group,
            "parse_ms": int((t_parse - t0) * 1000),
            "state_ms": int((t_state - t_start) * 1000),
            "write_ms": int((visible - t_state) * 1000),
            "reasons": reasons,
        }
        say(
            f"batch {batch_id}: {n:,} rows ({quarantined:,} quarantined, {result.dropped_late:,} late) "
            f"in {duration:.2f}s = {doc['rows_per_second']:,.0f}/s [parse {doc['parse_ms']} state "
            f"{doc['state_ms']} write {doc['write_ms']} ms; {a.customers:,} customers touched, "
            f"{a.windows} windows; {group['customers_pending']:,} customers waiting, the longest "
            f"{group['customers_behind_ms'] / 1000:.1f}s] "
            f"latency p50 {p50} p95 {p95} max {pmax} ms ({self.detail})"
        )
        return f"{doc['query_id']}-{batch_id}", doc

    def query_id(self) -> str:
        """The query's id (kept in the checkpoint's metadata, the same across restarts)."""
        if self._query_id is None:
            try:
                self._query_id = str(json.loads((self.checkpoint / "metadata").read_text())["id"])
            except (OSError, ValueError, KeyError):
                return "unknown"
        return self._query_id

    def _commit_group(self, batch_ranges: list[dict[int, tuple[int, int]]]) -> None:
        """Commit processed offsets under ``kafka.consumer.group`` so lag can be monitored."""
        last: dict[int, int] = {}
        for ranges in batch_ranges:
            for p, (_, hi) in ranges.items():
                last[p] = max(last.get(p, hi), hi)
        if not last:
            return
        from confluent_kafka import KafkaException, TopicPartition

        if self._group is None:
            self._group = kafka_consumer(self.settings, self.settings["kafka.consumer.group"])
        offsets = [TopicPartition(self.topic, p, o + 1) for p, o in last.items()]
        try:
            self._group.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # monitoring only: never fail a batch for it
            say(f"  (could not commit monitoring offsets: {exc})")

    # -- query lifecycle
    def _source(self) -> Any:
        if self.source == "python-kafka":
            from streaming_platform.streaming.kafka_source import NAME, KafkaEventsSource, reader_options

            self.spark.dataSource.register(KafkaEventsSource)
            # One equal share per core (see kafka_source.plan_ranges).
            splits = self.spark.sparkContext.defaultParallelism
            options = reader_options(self.settings, self.sink, self.limits, splits)
            return self.spark.readStream.format(NAME).options(**options).load()
        return self._spark_kafka_source()

    def _spark_kafka_source(self) -> Any:
        reader = (
            self.spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", self.settings["kafka.bootstrap.servers"])
            .option("subscribe", self.topic)
            .option("startingOffsets", "earliest")
            .option("maxOffsetsPerTrigger", self.settings["spark.max.offsets.per.trigger"])
            # Records must never vanish unnoticed (e.g. retention overtaking a stopped app).
            .option("failOnDataLoss", "true")
            # Larger fetches: fewer round trips per micro-batch (measured ~1.5x on the read).
            .option("kafka.max.partition.fetch.bytes", str(16 << 20))
            .option("kafka.fetch.max.bytes", str(64 << 20))
            .option("kafka.receive.buffer.bytes", str(4 << 20))
            .option("kafka.max.poll.records", "20000")
            # A cached consumer keeps a prefetch in flight at the end of the range it read; the
            # next task that seeks it waits for that fetch, i.e. up to this long when no new data
            # comes (the end of a burst): 500 ms by default, seen as tasks running 550-650 ms on
            # 30-50 ms of CPU. 100 ms: 44-380 ms (bench/README.md).
            .option("kafka.fetch.max.wait.ms", "100")
            # A broker outage is waited out for spark.outage.timeout (offsets: retried every
            # 10 s; a task's fetch: polls that long) instead of failing the query at once.
            .option("fetchOffset.numRetries", str(math.ceil(self.sink.outage_s / 10)))
            .option("fetchOffset.retryIntervalMs", "10000")
            .option("kafkaConsumer.pollTimeoutMs", str(int(self.sink.outage_s * 1000)))
            # Spark splits a partition only when its share of the batch × minPartitions rounds above
            # 1: with 3 partitions and 2 cores this reads one task per partition (bench/README.md).
            .option("minPartitions", str(2 * self.spark.sparkContext.defaultParallelism))
        )
        return reader.load()

    def start(self, available_now: bool = False) -> Any:
        writer = (
            self._source()
            .writeStream.queryName(APP_NAME.replace("-", "_"))
            .outputMode("append")
            .option("checkpointLocation", str(self.checkpoint))
            .foreachBatch(self.process)
        )
        if available_now:
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=self.settings["spark.trigger.interval"])
        return writer.start()

    def request_stop(self, *_args: Any) -> None:
        with self._lock:
            self._stopping = True

    def run(self, available_now: bool = False) -> int:
        self.checkpoint.mkdir(parents=True, exist_ok=True)
        try:
            pin_result_settings(self.checkpoint, self.settings)
        except ResultSettingsChanged as exc:
            say(f"✗ {exc}")
            return 2
        self.stop_file.unlink(missing_ok=True)
        self.recover()
        query = self.start(available_now)
        say(f"✓ {APP_NAME} started (checkpoint {self.checkpoint}; stop: SIGTERM or touch {self.stop_file})")
        while query.isActive:
            if not self._stopping and self.stop_file.exists():
                say("→ stop file found")
                self.request_stop()
            if self._stopping:
                with self._lock:
                    busy = self._busy
                if not busy:  # between batches: nothing half done
                    query.stop()
                    break
            self.flush_if_idle(query)
            self.probe_dependencies()
            self.report_status()
            try:
                query.awaitTermination(0.25)
            except StreamingQueryException:
                break  # the query ended with an error (or a GracefulStop): _outcome tells which
        return self._outcome(query)

    def probe_dependencies(self) -> None:
        """Every few seconds: do Elasticsearch and Kafka answer the driver? The executors' waits
        (their quarantine writes, their fetches) happen in other processes: this sees them too."""
        now = time.monotonic()
        if now < self._next_probe:
            return
        self._next_probe = now + PROBE_EVERY_S
        from confluent_kafka import KafkaException

        note_reachable("Elasticsearch", bool(self.es.options(request_timeout=3).ping()))
        if self._admin is None:
            self._admin = kafka_admin(self.settings)
        try:
            self._admin.list_topics(self.topic, timeout=3)
            note_reachable("Kafka", True)
        except KafkaException as exc:
            note_reachable("Kafka", False, f"not reachable ({exc.args[0].str() if exc.args else exc})")

    def report_status(self) -> None:
        """Keep ``<checkpoint>/status.json`` saying what the app waits for (pipeline_health and
        the dashboard read it: during an Elasticsearch outage nothing can be read from there)."""
        waiting = {
            name: {"since": since, "retries": n, "failure": why}
            for name, (since, n, why) in outages().items()
        }
        status = {
            "waiting_for": waiting,
            "detail": "; ".join(describe_outage(k, v["since"], v["retries"]) for k, v in waiting.items()),
        }
        if status != self._status:
            self._status = status
            write_status(self.checkpoint, status)

    def _outcome(self, query: Any) -> int:
        try:
            self.drain()  # the batches Spark committed are written before the app exits
        except Exception as exc:  # noqa: BLE001 - reported in words; the restart re-reads them
            say(f"✗ {exc} (the batches not written are read again from Kafka at the next start)")
            return 1
        finally:
            self._writer.close()
            self._publisher.close()
        exc = query.exception()
        if exc is not None and STOP_MESSAGE not in str(exc):
            say(f"✗ query failed: {exc}")
            return 1
        say(f"✓ {APP_NAME} stopped after {self.batches} batch(es) in this run")
        return 0


RESULT_SETTINGS = "result-settings.json"  # in the checkpoint: the settings its results were computed with
# What decides which events count where: a replay after a change would count differently.
RESULT_OPTIONS = ("spark.window.duration", "spark.watermark")


class ResultSettingsChanged(RuntimeError):
    """A setting that changes results differs from the one the checkpoint was built with."""


def result_settings(settings: Settings) -> dict[str, str]:
    names = [o.name for o in config.OPTIONS if o.name.startswith("validation.") or o.name in RESULT_OPTIONS]
    return {name: str(settings[name]) for name in names}


def pin_result_settings(checkpoint: Path, settings: Settings) -> None:
    """Keep the result settings with the checkpoint; refuse to go on under other values.

    A restart replays batches Spark had not committed: under other validation limits, window or
    watermark they would count differently from the batches before them. A setting new to the
    checkpoint (an upgrade) is adopted.
    """
    path = checkpoint / RESULT_SETTINGS
    current = result_settings(settings)
    saved = json.loads(path.read_text()) if path.exists() else {}
    changed = [
        f"{k} was {v!r}, now {current[k]!r}" for k, v in saved.items() if k in current and current[k] != v
    ]
    if changed:
        raise ResultSettingsChanged(
            f"settings that change results differ from those of the checkpoint {checkpoint}: "
            f"{'; '.join(changed)}. Set them back, or start the new values on a new checkpoint "
            "(spark.checkpoint.dir) with new indices: see README, 'Changing what the stream computes'"
        )
    if saved != current:
        path.write_text(json.dumps({**saved, **current}, indent=1))


def offset_ranges(table: pa.Table) -> dict[int, tuple[int, int]]:
    """partition → (first, last) offset of the records in a parsed batch."""
    if not table.num_rows:
        return {}
    agg = table.group_by("partition").aggregate([("offset", "min"), ("offset", "max")])
    cols = (agg.column(c).to_pylist() for c in ("partition", "offset_min", "offset_max"))
    return {p: (lo, hi) for p, lo, hi in zip(*cols, strict=True)}


def read_ranges(settings: Settings, topic: str, ranges: dict[int, tuple[int, int]]) -> Chunk:
    """The records at offsets first..last of each partition, read back from Kafka."""
    from streaming_platform.streaming.kafka_source import consume_range

    consumer = kafka_consumer(settings, f"{APP_NAME}-reread", **{"fetch.wait.max.ms": 10})
    try:
        chunks = [
            c
            for p, (first, last) in ranges.items()
            for c in consume_range(consumer, topic, p, first, last + 1)
        ]
    finally:
        consumer.close()
    return Chunk.concat(chunks)


# ---------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=APP_NAME, description=__doc__.split("\n")[0])
    p.add_argument("--available-now", action="store_true", help="process what is in the topic, then exit")
    p.add_argument(
        "--checkpoint", type=Path, help=f"checkpoint folder (default: <spark.checkpoint.dir>/{APP_NAME})"
    )
    return p


def spark_session(settings: Settings) -> Any:
    """A SparkSession with :func:`submit_conf` (also when started with plain ``python``)."""
    for k, v in submit_env(settings).items():
        if k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "SPARK_LOCAL_IP"):
            os.environ.setdefault(k, v)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for k, v in submit_conf(settings).items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = config.load()
    spark = spark_session(settings)
    app = StreamApp(spark, settings, args.checkpoint)
    gc.freeze()  # what exists now lives as long as the app: keep it out of every collection
    signal.signal(signal.SIGTERM, app.request_stop)
    signal.signal(signal.SIGINT, app.request_stop)
    try:
        return app.run(available_now=args.available_now)
    finally:
        spark.stop()
