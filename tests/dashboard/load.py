"""Known runtime-metrics documents (shaped as es_indices.RUNTIME_PROPERTIES) for the API tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streaming_platform import es_indices, topics
from streaming_platform.clients import es_client, kafka_admin
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
        "aggregates_written": 8,
        "customers_written": valid // 5,
    }
