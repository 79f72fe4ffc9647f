"""The streaming query and its lifecycle (entry point: ``spark_apps/customer_events_stream.py``).

:func:`build_query` is the whole plan: Kafka source → parse + validate (executors, Arrow; invalid
records quarantined by the tasks) → event-time watermark → state keyed by customer (summary,
event-id dedup within the watermark, distinct customers per window) → state keyed by window ×
category (running totals) → ``foreachBatch`` writing each batch's whole documents by id from the
executors (:mod:`.documents`). All state is Spark's (RocksDB state store, checkpointed with the
Kafka offsets, partitioned by key across executors); the driver plans, reports and stops.

Why ``transformWithState`` processors in Java (``jvm/state``) and not Spark's streaming
aggregations: duplicates must be quarantined, not dropped (``dropDuplicatesWithinWatermark``
drops them); late events must still count for their customer (aggregations drop rows behind the
watermark); and update-mode allows one aggregation per query where the stream needs two keys.
Measured on 600k events, 10k customers, local[2]: Python processors
(``transformWithStateInPandas``) 125 s, ``applyInPandasWithState`` 74 s, a native aggregation
11 s — per-key Python calls cost ~1-2 ms, so the per-event state work runs in the JVM.
The processors run in processing-time mode: their timers pace the customer documents
(``spark.customers.write.interval``) and sweep expired state, while what is a duplicate or late is
judged against the batch's event-time watermark, which they read.

Exactly once: a batch's documents are whole and their ids deterministic, and Spark commits the
batch (offsets and state) only after ``foreachBatch`` returned; a crash re-runs the batch from the
same offsets and state, so the same documents are written again.

An unreachable Elasticsearch or Kafka is waited out (:mod:`.sink`: capped backoff for up to
``spark.outage.timeout``, the batch held, so Spark takes no new data; ``<checkpoint>/status.json``
says what the app waits for); only a longer outage stops the app.

Versions (reprocessing, the Kappa way): the app writes the indices of one version of the results
(:mod:`streaming_platform.es_indices`: ``<name>-v<N>`` behind the readers' aliases) from a
checkpoint of its own. The live app runs the aliases' version; ``--version N --from earliest
--catch-up`` computes version N afresh from the topic's retained history, until it has caught up
with the live topic (the ``reprocess`` DAG then switches the aliases and restarts the live app on
it). ``--backfill FILE`` adds historical JSON-lines files to such a new version: the same plan
reads them beside the topic, all in its first batch (:mod:`.backfill`).

Stop: ``--available-now`` processes what is in the topic and exits; otherwise the app runs until
SIGTERM/SIGINT or until the stop file (default ``<checkpoint>/STOP``) appears, and then stops
between micro-batches. Customers whose documents wait for their turn are written when the app
stops and, after a crash, when it starts again (read from the state store).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import signal
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.errors import StreamingQueryException

from streaming_platform import config, es_indices
from streaming_platform.clients import kafka_admin, kafka_consumer
from streaming_platform.config import Settings
from streaming_platform.contract import Contract
from streaming_platform.es_indices import format_offset_range
from streaming_platform.health import end_offsets
from streaming_platform.progress import say
from streaming_platform.streaming import (
    APP_NAME,
    STOP_FILE,
    app_checkpoint,
    backfill,
    record_live_version,
    write_status,
)
from streaming_platform.streaming.documents import CUSTOMER, WRITTEN_DDL, Indices, WriteTask
from streaming_platform.streaming.parse import EVENTS_DDL, SOURCE_COLUMNS, ParseTask, Sources, StatsParam
from streaming_platform.streaming.sink import (
    SinkConfig,
    bulk_write,
    describe_outage,
    ndjson,
    note_reachable,
    outages,
    retrying,
)
from streaming_platform.streaming.submit import submit_conf, submit_env
from streaming_platform.validation import DUPLICATE_EVENT_ID, Limits

STOP_MESSAGE = "GracefulStop"
PROBE_EVERY_S = 5.0  # how often the driver checks that Elasticsearch and Kafka answer
CUSTOMERS_OPERATOR = 1  # Spark numbers the stateful operators from the sink: windows 0, customers 1


class GracefulStop(RuntimeError):
    """Raised at the start of a micro-batch once a stop was requested: Spark does not commit it."""


# ---------------------------------------------------------------------------- configuration


def sink_config(settings: Settings, quarantine_index: str | None = None) -> SinkConfig:
    return SinkConfig(
        es_url=settings["es.url"],
        es_username=settings["es.username"],
        es_password=settings["es.password"],
        bootstrap_servers=settings["kafka.bootstrap.servers"],
        quarantine_index=quarantine_index or settings["es.index.quarantine"],
        deadletter_topic=settings["kafka.topic.deadletter"],
        bulk_docs=settings["spark.es.bulk.docs"],
        bulk_threads=settings["spark.es.bulk.threads"],
        outage_s=config.duration_ms(settings["spark.outage.timeout"]) / 1000,
    )


# ---------------------------------------------------------------------------- the plan


def build_query(app: StreamApp) -> Any:
    """Source → parse/validate → watermark → state by customer → state by window → sink."""
    spark, settings = app.spark, app.settings
    records = kafka_source(spark, settings, app.sink.outage_s, app.start_from).selectExpr(*SOURCE_COLUMNS)
    if app.sources.files:  # a backfill: its files, all in the first batch (.backfill)
        records = records.unionByName(backfill.file_source(spark, app.checkpoint))
    # Parse + validate (Arrow, in the executors); the invalid records are quarantined by the tasks.
    events = records.mapInArrow(ParseTask(app.sources, app.limits, app.sink, app.stats), EVENTS_DDL)
    # Event time and its watermark: how late an event may arrive and still count in its window.
    events = events.selectExpr("*", "timestamp_millis(event_ms) AS event_time").withWatermark(
        "event_time", settings["spark.watermark"]
    )
    # transformWithState by customer: its summary, dedup within the watermark, its windows (Java).
    window_ms, interval_ms = app.window_ms, app.customer_interval_ms
    customers = _jvm_step(spark, "customers", events, window_ms, interval_ms, *_codes(app.limits.contract))
    # transformWithState by window × category: running totals and late counts; the rest passes through.
    late_ms = config.duration_ms(settings["spark.late.retention"])
    types = len(app.limits.contract.event_types)
    rows = _jvm_step(spark, "windows", customers, window_ms, late_ms, types)
    # Sink: each batch's rows as whole documents by id, written by the executors (append mode).
    return (
        rows.writeStream.queryName(APP_NAME.replace("-", "_"))
        .outputMode("append")
        .option("checkpointLocation", str(app.checkpoint))
        .foreachBatch(app.write_batch)
    )


def _codes(contract: Contract) -> tuple[int, int, int]:
    """Event types as the processors count them (codes: parse.py; categories go by name), and the
    types that add to revenue (and units) and subtract from it (-1: none), as the contract says."""
    return (
        len(contract.event_types),
        contract.type_index("revenue", "adds"),
        contract.type_index("revenue", "subtracts"),
    )


def _jvm_step(spark: Any, name: str, df: Any, *args: Any) -> Any:
    from pyspark.sql import DataFrame

    step = getattr(spark._jvm.io.github.streamingplatform.state.StatefulPlan, name)
    return DataFrame(step(df._jdf, *args), spark)


def kafka_source(spark: Any, settings: Settings, outage_s: float, start_from: int | None = None) -> Any:
    """The events topic through Spark's Kafka source (offsets in the checkpoint). A new checkpoint
    starts at the earliest retained offset, or at the first record stamped at ``start_from`` (ms)
    or later."""
    reader = spark.readStream.format("kafka")
    if start_from is None:
        reader = reader.option("startingOffsets", "earliest")
    else:
        reader = reader.option("startingTimestamp", str(start_from))
        reader = reader.option("startingOffsetsByTimestampStrategy", "latest")  # none that late: the end
    reader = (
        reader.option("kafka.bootstrap.servers", settings["kafka.bootstrap.servers"])
        .option("subscribe", settings["kafka.topic.events"])
        .option("maxOffsetsPerTrigger", settings["spark.max.offsets.per.trigger"])
        # Records must never vanish unnoticed (e.g. retention overtaking a stopped app).
        .option("failOnDataLoss", "true")
        # Larger fetches: fewer round trips per micro-batch (measured ~1.5x on the read).
        .option("kafka.max.partition.fetch.bytes", str(16 << 20))
        .option("kafka.fetch.max.bytes", str(64 << 20))
        .option("kafka.receive.buffer.bytes", str(4 << 20))
        .option("kafka.max.poll.records", "20000")
        # A cached consumer keeps a prefetch in flight at the end of the range it read; the next
        # task that seeks it waits for that fetch when no new data comes: 500 ms by default.
        .option("kafka.fetch.max.wait.ms", "100")
        # A broker outage is waited out for spark.outage.timeout (offsets: retried every 10 s; a
        # task's fetch: polls that long) instead of failing the query at once.
        .option("fetchOffset.numRetries", str(math.ceil(outage_s / 10)))
        .option("fetchOffset.retryIntervalMs", "10000")
        .option("kafkaConsumer.pollTimeoutMs", str(int(outage_s * 1000)))
        # One task per partition and core share (bench/README.md).
        .option("minPartitions", str(2 * spark.sparkContext.defaultParallelism))
    )
    return reader.load()


# ---------------------------------------------------------------------------- the app


def weighted_percentiles(values: list[float], weights: list[float], qs: tuple[float, ...]) -> list[float]:
    """Percentiles (0-100) of a weighted sample (the tasks' quantiles of their Kafka times)."""
    if not values:
        return [0.0 for _ in qs]
    order = np.argsort(values)
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cum = np.cumsum(w) / w.sum()
    return [float(v[min(np.searchsorted(cum, q / 100), len(v) - 1)]) for q in qs]


class StreamApp:
    """Owns the Spark query, the stop protocol and what the app reports; the state is Spark's."""

    def __init__(
        self,
        spark: Any,
        settings: Settings,
        checkpoint: Path | None = None,
        version: int | None = None,
        start_from: int | None = None,
        backfill_files: list[Path] | None = None,
    ) -> None:
        self.spark = spark
        self.settings = settings
        self.live = version is None  # the aliases' version (else a reprocess beside it)
        self.sink = sink_config(settings)
        self.es = self.sink.es()
        self.version = self._live_version() if version is None else version
        self.index = es_indices.version_indices(settings, self.version)
        self.sink = sink_config(settings, self.index["quarantine"])
        self.checkpoint = checkpoint or app_checkpoint(settings, self.version)
        self.start_from = start_from
        self.backfill_files = backfill_files or []
        self.topic = settings["kafka.topic.events"]
        self.sources = Sources(self.topic)  # and a backfill's files, once staged (run)
        self.limits = Limits.from_settings(settings)
        self.window_ms = config.duration_ms(settings["spark.window.duration"])
        self.customer_interval_ms = config.duration_ms(settings["spark.customers.write.interval"])
        self.indices = Indices(self.index["aggregates"], self.index["customers"])
        # The parse tasks' figures of the batch running (reset by write_batch).
        self.stats = spark.sparkContext.accumulator(StatsParam().zero({}), StatsParam())
        self.stop_file = self.checkpoint / STOP_FILE
        self._lock = threading.Lock()
        self._stopping = False
        self._busy = False
        self._writing = threading.Lock()  # a batch's writes, or an idle flush of waiting customers
        self._waiting = False  # customers may wait for their turn (paced) since the last flush
        self._last_batch = time.monotonic()
        self._group: Any = None
        self._started: deque[tuple[int, float]] = deque()  # (batch, start) within the write interval
        self.batches = 0
        self._status: dict[str, Any] | None = None
        self._next_probe = 0.0
        self._admin: Any = None
        self._query_id: str | None = None

    # -- one micro-batch
    def write_batch(self, df: Any, batch_id: int) -> None:
        """``foreachBatch``: run batch N (parse → state → documents written by the executors) with
        one action, make it searchable and report it. Spark commits N when this returns."""
        with self._lock:
            if self._stopping:
                raise GracefulStop(f"{STOP_MESSAGE}: not starting batch {batch_id}")
            self._busy = True
        self._writing.acquire()  # after an idle flush of older state, never during it
        try:
            t0 = time.time()
            self.stats.value = StatsParam().zero({})
            task = self._write_task(batch_id)
            figures = df.mapInArrow(task, WRITTEN_DDL).toArrow()
            written = {name: int(sum(figures.column(name).to_pylist())) for name in figures.column_names}
            t_written = time.time()
            self._refresh(self._touched(written))
            self._report(batch_id, written, t0, t_written, time.time())
        finally:
            self._waiting = self._waiting or bool(self.customer_interval_ms)
            self._last_batch = time.monotonic()
            self._writing.release()
            with self._lock:
                self._busy = False

    def _write_task(self, batch_id: int) -> WriteTask:
        contract, where = self.limits.contract, str(self.checkpoint)
        return WriteTask(batch_id, self.window_ms, self.indices, self.sink, contract, self.sources, where)

    def _touched(self, written: dict[str, int]) -> list[str]:
        """The indices this batch wrote to (a refresh of the others would be wasted)."""
        touched = {"aggregates": written["windows"], "customers": written["customers"]}
        touched["quarantine"] = (
            written["duplicates"] + written["late"] + written["rejected"] + self.stats.value["invalid"]
        )
        return [k for k, n in touched.items() if n]

    def _refresh(self, indices: list[str]) -> None:
        if not indices:
            return
        names = [self.index[k] for k in indices]
        retrying(self.sink, lambda: self.es.options(ignore_status=404).indices.refresh(index=names))

    def _report(
        self, batch_id: int, written: dict[str, int], t0: float, t_written: float, visible: float
    ) -> None:
        """The batch's runtime-metrics document, also said in the log; monitoring offsets."""
        stats = self.stats.value
        offsets = self._offsets(batch_id)
        n, invalid, dups, late = stats["rows"], stats["invalid"], written["duplicates"], written["late"]
        quarantined = invalid + dups
        reasons = dict(stats["reasons"])
        if dups:
            reasons[DUPLICATE_EVENT_ID] = dups
        visible_ms = int(visible * 1000)
        q5, q50, q0 = weighted_percentiles(stats["kafka_ms"], stats["weights"], (5, 50, 0))
        p50, p95, pmax = (
            (max(0, int(visible_ms - q)) for q in (q50, q5, q0)) if stats["kafka_ms"] else (0, 0, 0)
        )
        self._started.append((batch_id, t0))
        while len(self._started) > 1 and self._started[1][1] <= visible - self.customer_interval_ms / 1000:
            self._started.popleft()
        duration = visible - t0
        doc = {
            "batch_id": batch_id,
            "query_id": self.query_id(),
            "timestamp": visible_ms,
            "input_rows": n,
            "valid_rows": n - quarantined,
            "quarantined": quarantined,
            "duplicates": dups,
            "dropped_late": late,
            "error_rate": quarantined / n if n else 0.0,
            "duration_ms": int(duration * 1000),
            "rows_per_second": n / duration if duration > 0 else 0.0,
            "latency_p50_ms": p50,
            "latency_p95_ms": p95,
            "latency_max_ms": pmax,
            "event_time_lag_ms": visible_ms - stats["max_event_ms"] if stats["max_event_ms"] else 0,
            "watermark": offsets["watermark"],
            "offsets_processed": n,
            "offset_ranges": offsets["ranges"],
            "aggregates_written": written["windows"],
            "customers_written": written["customers"],
            # Every customer change of the batches up to this one is written: each waits at most
            # the write interval (the state's timers), so those that started that long ago.
            "customers_through_batch": batch_id if not self.customer_interval_ms else self._started[0][0] - 1,
            "customers_timestamp": visible_ms,
            "write_ms": int((visible - t_written) * 1000),
            "reasons": reasons,
        }
        bulk_write(
            self.es,
            ndjson(self.index["runtime"], [(f"{doc['query_id']}-{batch_id}", doc)]),
            self.sink,
        )
        if self.live:  # the monitoring group follows the live app only
            self._commit_group(offsets["next"])
        self.batches += 1
        say(
            f"batch {batch_id}: {n:,} rows ({quarantined:,} quarantined, {late:,} late) in {duration:.2f}s "
            f"= {doc['rows_per_second']:,.0f}/s; {written['windows']} windows, {written['customers']:,} "
            f"customers written; latency p50 {p50} p95 {p95} max {pmax} ms"
        )

    def _offsets(self, batch_id: int) -> dict[str, Any]:
        """What Spark's offset log says of batch N: its watermark and the Kafka ranges it read."""

        def read(n: int) -> tuple[dict[str, Any], dict[int, int]]:
            try:
                lines = (self.checkpoint / "offsets" / str(n)).read_text().splitlines()
            except OSError:
                return {}, {}
            meta = json.loads(lines[1])
            ends = json.loads(lines[2]).get(self.topic, {}) if len(lines) > 2 and lines[2] else {}
            return meta, {int(p): int(o) for p, o in ends.items()}

        meta, ends = read(batch_id)
        _, starts = read(batch_id - 1)
        ranges = [
            format_offset_range(self.topic, p, starts.get(p, 0), end - 1)
            for p, end in sorted(ends.items())
            if end > starts.get(p, 0)
        ]
        return {"watermark": int(meta.get("batchWatermarkMs", 0)), "ranges": ranges, "next": ends}

    def query_id(self) -> str:
        """The query's id (kept in the checkpoint's metadata, the same across restarts)."""
        if self._query_id is None:
            try:
                self._query_id = str(json.loads((self.checkpoint / "metadata").read_text())["id"])
            except (OSError, ValueError, KeyError):
                return "unknown"
        return self._query_id

    def _commit_group(self, next_offsets: dict[int, int]) -> None:
        """Commit processed offsets under ``kafka.consumer.group`` so lag can be monitored."""
        if not next_offsets:
            return
        from confluent_kafka import KafkaException, TopicPartition

        if self._group is None:
            self._group = kafka_consumer(self.settings, self.settings["kafka.consumer.group"])
        offsets = [TopicPartition(self.topic, p, o) for p, o in next_offsets.items()]
        try:
            self._group.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # monitoring only: never fail a batch for it
            say(f"  (could not commit monitoring offsets: {exc})")

    # -- customers waiting for their turn
    def write_waiting_customers(self, at_start: bool) -> None:
        """Write the customers whose documents wait for their turn (the state's timers), read from
        Spark's state store as of the last committed batch: at a stop, and at a start after a crash."""
        last = self._last_committed()
        if last is None:
            return
        _ = self.spark.streams  # starts Spark's state store coordinator, which the reader asks
        summary = (
            self.spark.read.format("statestore")
            .option("operatorId", CUSTOMERS_OPERATOR)
            .option("stateVarName", "summary")
            .option("batchId", last)
            .load(str(self.checkpoint))
        )
        waiting = summary.where("value.dirty").selectExpr(
            f"CAST({CUSTOMER} AS TINYINT) AS kind",
            "key.customer_id AS customer_id",
            "value.by_type AS by_type",
            "value.spend AS purchase_cents",
            "value.refund AS refund_cents",
            "value.first AS first_seen",
            "value.last AS last_seen",
            "value.location AS last_location",
            "value.by_category AS by_category",
        )
        task = self._write_task(last)
        figures = waiting.mapInArrow(task, WRITTEN_DDL).toArrow()
        n = int(sum(figures.column("customers").to_pylist()))
        if n:
            self._refresh(["customers"])
        if at_start:
            total = summary.count()
            say(f"  state restored at batch {last} ({total:,} customers, {n:,} of them to write again)")
        elif n:
            say(f"  {n:,} customers written at the stop (their turn had not come)")

    def flush_if_idle(self, query: Any) -> None:
        """Once no batch has run for a write interval (no batch runs without data to fire the
        state's timers), write the customers still waiting for their turn."""
        if not self._waiting or self._stopping:
            return
        if time.monotonic() - self._last_batch < max(1.0, self.customer_interval_ms / 1000):
            return
        status = query.status
        if status.get("isDataAvailable") or status.get("isTriggerActive"):
            return
        with self._writing:
            self._waiting = False
            self.write_waiting_customers(at_start=False)

    def _last_committed(self) -> int | None:
        commits = self.checkpoint / "commits"
        done = [int(p.name) for p in commits.iterdir() if p.name.isdigit()] if commits.is_dir() else []
        return max(done) if done else None

    # -- query lifecycle
    def start(self, available_now: bool = False) -> Any:
        writer = build_query(self)
        if available_now:
            return writer.trigger(availableNow=True).start()
        return writer.trigger(processingTime=self.settings["spark.trigger.interval"]).start()

    def request_stop(self, *_args: Any) -> None:
        with self._lock:
            self._stopping = True

    def run(self, available_now: bool = False, catch_up: bool = False) -> int:
        self.checkpoint.mkdir(parents=True, exist_ok=True)
        try:
            pin_result_settings(self.checkpoint, self.settings)
            backfill.stage(self.checkpoint, self.backfill_files)
        except (ResultSettingsChanged, backfill.BackfillError) as exc:
            say(f"✗ {exc}")
            return 2
        self.sources = backfill.sources(self.checkpoint, self.topic)
        retrying(self.sink, self._prepare_indices)
        self.stop_file.unlink(missing_ok=True)
        self.write_waiting_customers(at_start=True)  # a crash may have left some behind
        if not catch_up:
            return self._run_query(available_now)
        while True:  # until the topic's end is less than a batch ahead of what this version wrote
            code = self._run_query(available_now=True)
            backlog = self._backlog()
            if code or self._stopping or backlog <= self.settings["spark.max.offsets.per.trigger"]:
                say(f"✓ version {self.version} caught up ({backlog:,} records behind the topic's end)")
                return code
            say(f"→ {backlog:,} records arrived meanwhile: catching up with them")

    def _live_version(self) -> int:
        live = retrying(self.sink, lambda: es_indices.versions(self.es, self.settings)[0])
        return 1 if live is None else live

    def _prepare_indices(self) -> None:
        """The indices of this version; the aliases on it if there are none yet (a new platform)."""
        es_indices.ensure_version(self.es, self.settings, self.version)
        if es_indices.versions(self.es, self.settings)[0] is None:
            es_indices.point_aliases(self.es, self.settings, self.version)
        if self.live:
            record_live_version(self.settings, self.version)

    def _backlog(self) -> int:
        """Records in the topic after the last batch this checkpoint committed."""
        last = self._last_committed()
        done = self._offsets(last)["next"] if last is not None else {}
        ends = end_offsets(kafka_admin(self.settings), self.topic)
        return sum(hi - max(lo, done.get(p, lo)) for p, (lo, hi) in ends.items())

    def _run_query(self, available_now: bool) -> int:
        query = self.start(available_now)
        say(
            f"✓ {APP_NAME} started: version {self.version} of the results, checkpoint {self.checkpoint}"
            f" (stop: SIGTERM or touch {self.stop_file})"
        )
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
        (their writes, their fetches) happen in other processes: this sees them too."""
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
        exc = query.exception()
        if exc is not None and STOP_MESSAGE not in str(exc):
            say(f"✗ query failed: {exc}")
            return 1
        try:
            self.write_waiting_customers(at_start=False)
        except Exception as err:  # noqa: BLE001 - reported in words; the next start writes them
            say(f"✗ could not write the waiting customers: {err} (the next start writes them)")
            return 1
        say(f"✓ {APP_NAME} stopped after {self.batches} batch(es) in this run")
        return 0


RESULT_SETTINGS = "result-settings.json"  # in the checkpoint: the settings its results were computed with
# The shape of the state rows (jvm/state), pinned with the settings: Spark cannot resume another.
# 3: customers keyed by (hash, id), their ids in minute entries, their windows by start;
# 2: categories by name; 1 (checkpoints from before it was pinned): by code.
STATE_FORMAT = "3"
# What decides which events count where: a replay after a change would count differently.
RESULT_OPTIONS = ("spark.window.duration", "spark.watermark", "spark.late.retention")


class ResultSettingsChanged(RuntimeError):
    """A setting that changes results differs from the one the checkpoint was built with."""


def result_settings(settings: Settings) -> dict[str, str]:
    names = [o.name for o in config.OPTIONS if o.name.startswith("validation.") or o.name in RESULT_OPTIONS]
    return {name: str(settings[name]) for name in names}


def pin_result_settings(checkpoint: Path, settings: Settings) -> None:
    """Keep the result settings with the checkpoint; refuse to go on under other values.

    A restart replays batches Spark had not committed: under other validation limits, window or
    watermark they would count differently from the batches before them. A setting new to the
    checkpoint (an upgrade) is adopted; a state format is not (:data:`STATE_FORMAT`).
    """
    path = checkpoint / RESULT_SETTINGS
    current = {**result_settings(settings), "state.format": STATE_FORMAT}
    saved = json.loads(path.read_text()) if path.exists() else {}
    offsets = checkpoint / "offsets"
    started = offsets.is_dir() and any(offsets.iterdir())  # a batch was planned: state may exist
    found = saved.get("state.format", "1" if started else STATE_FORMAT)
    if found != STATE_FORMAT:
        raise ResultSettingsChanged(
            f"the checkpoint {checkpoint} holds state of format {found}, this app needs format "
            f"{STATE_FORMAT}: it cannot go on from it. Compute a new version from the topic's history "
            "with the reprocess DAG: see README, 'Changing what the stream computes'"
        )
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


# ---------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=APP_NAME, description=__doc__.split("\n")[0])
    p.add_argument("--available-now", action="store_true", help="process what is in the topic, then exit")
    p.add_argument(
        "--checkpoint", type=Path, help=f"checkpoint folder (default: <spark.checkpoint.dir>/{APP_NAME}[-vN])"
    )
    p.add_argument("--version", type=int, help="version of the results to write (default: the live one)")
    p.add_argument(
        "--from",
        dest="start_from",
        type=start_timestamp_ms,
        help="where a new checkpoint starts: earliest (default) or an ISO 8601 time",
    )
    p.add_argument("--catch-up", action="store_true", help="run until caught up with the topic, then exit")
    p.add_argument(
        "--backfill",
        type=backfill.parse_files,
        default=[],
        help="JSON-lines files (comma-separated) a new version reads beside the topic, in its first batch",
    )
    return p


def start_timestamp_ms(text: str) -> int | None:
    """``earliest`` → None; an ISO 8601 time (``2026-12-01T00:00:00Z``) → epoch milliseconds."""
    if text == "earliest":
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not 'earliest' or an ISO 8601 time: {text!r}") from None
    return int((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp() * 1000)


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
    app = StreamApp(spark, settings, args.checkpoint, args.version, args.start_from, args.backfill)
    gc.freeze()  # what exists now lives as long as the app: keep it out of every collection
    signal.signal(signal.SIGTERM, app.request_stop)
    signal.signal(signal.SIGINT, app.request_stop)
    try:
        return app.run(available_now=args.available_now, catch_up=args.catch_up)
    finally:
        spark.stop()
