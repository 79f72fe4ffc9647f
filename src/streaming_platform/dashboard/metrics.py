"""Chart series from the Spark app's runtime-metrics index (date_histogram + metric aggs only).

The embedded Elasticsearch has no pipeline aggregations and no scripts, so ratios (error rate,
rows per second from row counts) are computed here from per-bucket sums.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from streaming_platform.dashboard.probes import RUNTIME_FIELDS

# range key -> (seconds covered, histogram interval in seconds)
RANGES: dict[str, tuple[int, int]] = {"15m": (900, 15), "1h": (3600, 60), "24h": (86400, 1200)}
SUMS = ("input_rows", "output_rows", "quarantined")
AVGS = ("processed_rate", "batch_duration_ms", "latency_p50_ms", "latency_p95_ms", "error_rate")
MAXES = ("latency_max_ms", "event_time_lag_ms")


class MetricsError(ValueError):
    """Bad metrics request (unknown range); the message lists the valid ones."""


def range_spec(key: str) -> tuple[int, int]:
    try:
        return RANGES[key]
    except KeyError:
        raise MetricsError(f"unknown range {key!r}; one of {', '.join(RANGES)}") from None


def _aggs(fields: dict[str, str]) -> dict[str, Any]:
    aggs: dict[str, Any] = {}
    for kind, roles in (("sum", SUMS), ("avg", AVGS), ("max", MAXES)):
        for role in roles:
            if role in fields:
                aggs[role] = {kind: {"field": fields[role]}}
    return aggs


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


def bucket_point(
    bucket: dict[str, Any], fields: dict[str, str], interval_s: int, now_ms: int
) -> dict[str, Any]:
    """One chart point from one histogram bucket; None where the bucket has no data.

    Rates divide by the time the bucket covers so far: the newest bucket is still filling up.
    """
    covered_s = max(1.0, min(float(interval_s), (now_ms - bucket["key"]) / 1000))
    v = {role: (bucket.get(role) or {}).get("value") for role in (*SUMS, *AVGS, *MAXES)}
    empty = bucket["doc_count"] == 0
    in_rate = None if empty else v["input_rows"] / covered_s
    out_rate = None if empty else v["output_rows"] / covered_s
    error_rate = v["error_rate"] if v["error_rate"] is not None else _ratio(v["quarantined"], v["input_rows"])
    return {
        "t": bucket["key"],
        "batches": bucket["doc_count"],
        "in_rate": in_rate,
        "out_rate": out_rate,
        "input_rows": None if empty else v["input_rows"],
        "quarantined": None if empty else v["quarantined"],
        "error_rate": None if empty else error_rate,
        "batch_duration_ms": v["batch_duration_ms"],
        "latency_p50_ms": v["latency_p50_ms"],
        "latency_p95_ms": v["latency_p95_ms"],
        "latency_max_ms": v["latency_max_ms"],
        "event_time_lag_ms": v["event_time_lag_ms"],
    }


def runtime_series(es: Elasticsearch, index: str, range_key: str, now_ms: int) -> dict[str, Any]:
    span_s, interval_s = range_spec(range_key)
    answer: dict[str, Any] = {
        "range": range_key,
        "interval_s": interval_s,
        "index": index,
        "now_ms": now_ms,
        "points": [],
    }
    if not es.indices.exists(index=index):
        return {**answer, "exists": False, "fields": {}}
    fields = RUNTIME_FIELDS
    answer.update(exists=True, fields=fields)
    start = now_ms - span_s * 1000
    result = es.search(
        index=index,
        size=0,
        query={"range": {fields["timestamp"]: {"gte": start, "lte": now_ms, "format": "epoch_millis"}}},
        aggs={
            "over_time": {
                "date_histogram": {
                    "field": fields["timestamp"],
                    "fixed_interval": f"{interval_s}s",
                    "min_doc_count": 0,
                    "extended_bounds": {"min": start, "max": now_ms},
                },
                "aggs": _aggs(fields),
            }
        },
    )
    buckets = result["aggregations"]["over_time"]["buckets"]
    answer["points"] = [bucket_point(b, fields, interval_s, now_ms) for b in buckets]
    answer["batches"] = result["hits"]["total"]["value"]
    return answer
