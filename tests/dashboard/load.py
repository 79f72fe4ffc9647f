"""Test load for the dashboard: real Kafka writes and real runtime-metrics documents in Elasticsearch.

:class:`PipelineLoad` stands in for the producer and the Spark app where a test needs numbers
that move: it writes events to the events topic (and a share to the dead-letter topic) and
indexes one runtime-metrics document per simulated micro-batch, shaped exactly as
:data:`streaming_platform.es_indices.RUNTIME_PROPERTIES` (the index has a strict mapping).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from streaming_platform import es_indices, topics
from streaming_platform.clients import es_client, kafka_admin, kafka_producer
from streaming_platform.config import Settings


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def setup_stores(settings: Settings) -> None:
    """Topics and index templates as the platform_setup DAG makes them."""
    topics.ensure_topics(settings, kafka_admin(settings))
    es_indices.ensure_templates(es_client(settings), settings)


def runtime_doc(
    batch_id: int,
    ts: float,
    input_rows: int,
    quarantined: int,
    offsets: dict[int, int],
    topic: str,
    latency_p50: int = 400,
    latency_p95: int = 900,
) -> dict[str, Any]:
    valid = input_rows - quarantined
    return {
        "batch_id": batch_id,
        "query_id": "test-query",
        "timestamp": iso(ts),
        "input_rows": input_rows,
        "valid_rows": valid,
        "quarantined": quarantined,
        "duplicates": 0,
        "dropped_late": 0,
        "error_rate": quarantined / input_rows if input_rows else 0.0,
        "duration_ms": 350,
        "rows_per_second": input_rows / 2.0,
        "latency_p50_ms": latency_p50,
        "latency_p95_ms": latency_p95,
        "latency_max_ms": latency_p95 + 300,
        "event_time_lag_ms": 1500,
        "watermark": iso(ts - 600),
        "offsets_processed": input_rows,
        "offset_ranges": [f"{topic}/{p}:{max(0, o - 1)}-{o}" for p, o in sorted(offsets.items())],
        "customers_written": valid,
        "aggregates_written": 8,
    }


class PipelineLoad(threading.Thread):
    """Writes ``rate`` events/s (every ``dlq_every``-th also to the DLQ) and one batch doc per 2 s."""

    def __init__(self, settings: Settings, rate: int = 50, dlq_every: int = 20):
        super().__init__(daemon=True, name="pipeline-load")
        self.settings, self.rate, self.dlq_every = settings, rate, dlq_every
        self.stop_event = threading.Event()
        self.sent = 0
        self.batches = 0

    def run(self) -> None:
        s = self.settings
        producer = kafka_producer(s)
        es = es_client(s)
        events, dlq = s["kafka.topic.events"], s["kafka.topic.deadletter"]
        partitions = s["kafka.topic.partitions"]
        offsets = dict.fromkeys(range(partitions), 0)
        while not self.stop_event.is_set():
            started, batch_in, batch_q = time.time(), 0, 0
            for _ in range(self.rate * 2):
                part = self.sent % partitions
                value = json.dumps({"event_id": f"e{self.sent}", "ts": iso(time.time())}).encode()
                producer.produce(events, value=value, partition=part)
                offsets[part] += 1
                if self.sent % self.dlq_every == 0:
                    producer.produce(dlq, value=value, partition=part)
                    batch_q += 1
                self.sent += 1
                batch_in += 1
            producer.flush(10)
            doc = runtime_doc(self.batches, time.time(), batch_in, batch_q, offsets, events)
            es.index(index=s["es.index.runtime"], document=doc)
            self.batches += 1
            self.stop_event.wait(max(0.0, 2.0 - (time.time() - started)))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=15)
