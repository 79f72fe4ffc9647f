"""A Spark streaming source (Python Data Source API) reading Kafka in the Python workers.

Why: with Spark's Kafka source every record crosses JVM → Arrow → Python before it can be
parsed; on this 2-core machine the JVM read plus that transfer cost more per record than the
whole naive single-consumer pipeline (measured: ~135k rows/s for Kafka source + transfer + parse
on 2 cores, vs ~220k/s per core for librdkafka + orjson + validation in one Python task). Here
each Spark task consumes its share of the offset ranges with librdkafka, parses and validates it
(:func:`.parse.parse_chunk`) and hands Spark the parsed chunks as Arrow IPC payloads.

Spark still owns the offsets: ``latestOffset`` plans ``{partition: end offset}`` (capped by
``maxOffsetsPerTrigger`` like the Kafka source), Spark writes them to its offset log before the
batch runs, and a re-run after a crash reads exactly the same ranges — the exactly-once
contract of the app does not change. Records deleted before being read fail the batch (like
``failOnDataLoss``). ``commit`` (called after Spark committed a batch) stores the processed
offsets under ``kafka.consumer.group``, for lag monitoring only.

Selected with ``spark.source = python-kafka``; the default ``spark-kafka`` uses Spark's Kafka
source (the connector jars from ``jvm/spark``) and a ``mapInArrow`` parse instead: same output,
same tests, ~1.3-1.5x slower on this 2-core machine (bench/README.md).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadLimit, ReadMaxRows, SupportsTriggerAvailableNow

from streaming_platform.streaming.parse import PAYLOAD_DDL, Chunk, freeze_worker_heap, parse_chunk, to_payload
from streaming_platform.streaming.sink import SinkConfig, write_quarantine
from streaming_platform.validation import Limits

NAME = "platform_kafka_events"
FETCH_TIMEOUT_S = 60.0
MIN_SPLIT_RECORDS = 25_000


class OffsetRange(InputPartition):
    """One task's work: ``[start, end)`` of one or more partitions, read one after the other."""

    def __init__(self, segments: list[tuple[int, int, int]]) -> None:
        super().__init__(segments)
        self.segments = segments


def plan_ranges(
    start: dict[str, int], end: dict[str, int], tasks: int, min_records: int
) -> list[OffsetRange]:
    """Cut the batch into ``tasks`` equal shares (fewer if small), segments cut across partitions.

    Equal shares, not one task per partition: 3 partitions on 2 cores would otherwise leave a
    core idle for a third of every batch, and each task pays one consumer start, not one per range.
    """
    # A partition missing from ``start`` was added to the topic since: read it from 0.
    ranges = [(int(p), start.get(p, 0), end[p]) for p in sorted(end, key=int) if end[p] > start.get(p, 0)]
    total = sum(e - s for _, s, e in ranges)
    if not total:
        return []
    n = max(1, min(tasks, total // min_records))
    share = math.ceil(total / n)
    out: list[OffsetRange] = []
    current: list[tuple[int, int, int]] = []
    room = share
    for p, s, e in ranges:
        while s < e:
            take = min(room, e - s)
            current.append((p, s, s + take))
            s += take
            room -= take
            if room == 0:
                out.append(OffsetRange(current))
                current, room = [], share
    if current:
        out.append(OffsetRange(current))
    return out


def _consumer(bootstrap: str, group: str, **extra: Any) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            **extra,
        }
    )


class KafkaEventsSource(DataSource):
    """``spark.readStream.format("platform_kafka_events").option(...)``; see :class:`KafkaEventsReader`."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return PAYLOAD_DDL  # parsed chunks as Arrow IPC payloads (see parse.PAYLOAD)

    def streamReader(self, schema: Any) -> DataSourceStreamReader:
        return KafkaEventsReader(dict(self.options))


class KafkaEventsReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Options: bootstrap, topic, group, max_offsets, splits, limits (JSON), sink (JSON)."""

    def __init__(self, options: dict[str, str]) -> None:
        self.bootstrap = options["bootstrap"]
        self.topic = options["topic"]
        self.group = options["group"]
        self.max_offsets = int(options["max_offsets"])
        self.splits = int(options.get("splits", "4"))
        self.limits = Limits(**json.loads(options["limits"]))
        self.sink = SinkConfig(**json.loads(options["sink"]))
        self.target: dict[str, int] | None = None
        self._meta: Any = None

    # -- driver side (Spark runs these in a planner Python process)
    def _watermarks(self) -> dict[str, tuple[int, int]]:
        from confluent_kafka import TopicPartition

        if self._meta is None:
            # The app's monitoring group itself: commit() stores the processed offsets there for lag
            # checks (health, dashboard). The consumer never subscribes, so it never joins the group.
            self._meta = _consumer(self.bootstrap, self.group)
        parts = self._meta.list_topics(self.topic, timeout=30).topics[self.topic].partitions
        return {
            str(p): self._meta.get_watermark_offsets(TopicPartition(self.topic, p), timeout=30)
            for p in sorted(parts)
        }

    def initialOffset(self) -> dict[str, int]:
        return {p: low for p, (low, _high) in self._watermarks().items()}

    def getDefaultReadLimit(self) -> ReadLimit:
        return ReadMaxRows(self.max_offsets)

    def prepareForTriggerAvailableNow(self) -> None:
        self.target = {p: high for p, (_low, high) in self._watermarks().items()}

    def latestOffset(self, start: dict[str, int], limit: ReadLimit) -> dict[str, int]:
        marks = self._watermarks()
        latest = self.target or {p: high for p, (_low, high) in marks.items()}
        begin = {p: start.get(p, marks[p][0]) for p in latest}
        lag = {p: max(0, latest[p] - begin[p]) for p in latest}
        total = sum(lag.values())
        if not isinstance(limit, ReadMaxRows) or total <= limit.max_rows:
            return {p: max(latest[p], begin[p]) for p in latest}
        # Like Spark's Kafka source: the allowance is shared in proportion to each partition's lag.
        return {p: begin[p] + math.floor(lag[p] * limit.max_rows / total) for p in latest}

    def partitions(self, start: dict[str, int], end: dict[str, int]) -> Sequence[InputPartition]:
        return plan_ranges(start, end, self.splits, MIN_SPLIT_RECORDS)

    def commit(self, end: dict[str, int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        if self._meta is None:
            return
        try:
            self._meta.commit(
                offsets=[TopicPartition(self.topic, int(p), o) for p, o in end.items()], asynchronous=False
            )
        except KafkaException:
            pass  # lag monitoring only: never fail the stream for it

    # -- executor side
    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, OffsetRange)
        freeze_worker_heap()
        bad: list[dict[str, Any]] = []
        consumer = _consumer(self.bootstrap, f"{self.group}-reader", **{"fetch.wait.max.ms": 10})
        try:
            for p, start, end in partition.segments:
                for parsed in read_range(consumer, self.topic, p, start, end, self.limits, bad):
                    yield to_payload(parsed)
        finally:
            consumer.close()
        write_quarantine(bad, self.sink)


def read_range(
    consumer: Any,
    topic: str,
    partition: int,
    start: int,
    end: int,
    limits: Limits,
    bad: list[dict[str, Any]],
    chunk: int = 20_000,
) -> Iterator[pa.Table]:
    """Consume [start, end) of one partition and yield it parsed, ``chunk`` records at a time."""
    for records in consume_range(consumer, topic, partition, start, end, chunk):
        yield parse_chunk(topic, None, limits, records, bad)


def consume_range(
    consumer: Any, topic: str, partition: int, start: int, end: int, chunk: int = 20_000
) -> Iterator[Chunk]:
    """The records at offsets [start, end) of one partition, ``chunk`` at a time (one sequential
    scan: batched consumption is ~100x cheaper per record than a seek + fetch per record)."""
    from confluent_kafka import TopicPartition

    consumer.assign([TopicPartition(topic, partition, start)])
    nxt = start
    while nxt < end:
        values: list[bytes | None] = []
        keys: list[bytes | None] = []
        offsets: list[int] = []
        stamps: list[int] = []
        deadline = time.monotonic() + FETCH_TIMEOUT_S
        while nxt < end and len(values) < chunk:
            msgs = consumer.consume(num_messages=min(10_000, end - nxt), timeout=1.0)
            if not msgs and time.monotonic() > deadline:
                raise RuntimeError(f"no records from {topic}/{partition}@{nxt} within {FETCH_TIMEOUT_S} s")
            for msg in msgs:
                if msg.error() is not None:
                    raise RuntimeError(f"{topic}/{partition}: {msg.error()}")
                off = msg.offset()
                if off >= end:
                    break
                if off > nxt == start:
                    # The range starts before what the broker still has: records were deleted
                    # (retention) before being processed. Never lose data silently.
                    raise RuntimeError(f"data loss: {topic}/{partition} starts at {off}, expected {start}")
                values.append(msg.value())
                keys.append(msg.key())
                offsets.append(off)
                stamps.append(msg.timestamp()[1])
                nxt = off + 1
        if values:
            yield Chunk(
                pa.array(values, pa.binary()),
                pa.array(keys, pa.binary()),
                pa.array([partition] * len(values), pa.int32()),
                pa.array(offsets, pa.int64()),
                pa.array(stamps, pa.int64()),
            )


def reader_options(settings: Any, sink: SinkConfig, limits: Limits, splits: int) -> dict[str, str]:
    return {
        "bootstrap": settings["kafka.bootstrap.servers"],
        "topic": settings["kafka.topic.events"],
        "group": settings["kafka.consumer.group"],
        "max_offsets": str(settings["spark.max.offsets.per.trigger"]),
        "splits": str(splits),
        "limits": json.dumps(asdict(limits)),
        "sink": json.dumps(asdict(sink)),
    }
