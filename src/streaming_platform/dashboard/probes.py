"""Blocking probes of the real services, each run in a worker thread with its own timeout.

Every probe returns plain data (no status judgement); :mod:`.status` turns the data into cards.
Field names of the Spark app's runtime-metrics documents are looked up tolerantly through
:data:`RUNTIME_FIELDS` (the app's runtime-metrics schema).
"""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from elasticsearch import Elasticsearch

from streaming_platform import health
from streaming_platform.config import Settings
from streaming_platform.es_indices import parse_offset_range
from streaming_platform.runtime.process import Paths, read_pid

# Below the monitor's probe timeout: the card is re-probed every few seconds, a slow UI shows as such.
UI_WAIT_S = 3.0

# role -> field of the runtime-metrics index. The app owns that schema (es_indices.RUNTIME_PROPERTIES,
# a strict mapping), so the names are fixed: tests/dashboard/test_units.py checks they exist.
RUNTIME_FIELDS: dict[str, str] = {
    "timestamp": "timestamp",
    "batch_id": "batch_id",
    "input_rows": "input_rows",
    "output_rows": "valid_rows",
    "processed_rate": "rows_per_second",
    "batch_duration_ms": "duration_ms",
    "quarantined": "quarantined",
    "error_rate": "error_rate",
    "latency_p50_ms": "latency_p50_ms",
    "latency_p95_ms": "latency_p95_ms",
    "latency_max_ms": "latency_max_ms",
    "event_time_lag_ms": "event_time_lag_ms",
    "end_offsets": "offset_ranges",
}


def pick(doc: dict[str, Any], role: str) -> Any:
    """The value of ``role``'s field in a runtime-metrics document (None when absent)."""
    return doc.get(RUNTIME_FIELDS[role])


def offsets_total(value: Any, topic: str) -> int | None:
    """Sum of per-partition offsets for ``topic`` from Spark's ``{"topic": {"0": n}}`` shape."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get(topic), dict):
        return sum(int(v) for v in value[topic].values())
    if isinstance(value, list) and all(isinstance(r, str) for r in value):
        return _ranges_total(value, topic)
    if isinstance(value, list):  # [{"topic": t, "partition": p, "offset": n}, ...]
        rows = [r for r in value if isinstance(r, dict) and r.get("topic") == topic]
        return sum(int(r.get("offset", 0)) for r in rows) if rows else None
    return None


def _ranges_total(ranges: list[str], topic: str) -> int | None:
    """Sum of the ``to`` offsets of ``["topic/partition:from-to", ...]`` (es_indices' offset_ranges)."""
    ends: dict[int, int] = {}
    for text in ranges:
        parsed = parse_offset_range(text)
        if parsed is not None and parsed[0] == topic:
            ends[parsed[1]] = parsed[3]
    return sum(ends.values()) if ends else None


# --------------------------------------------------------------------------- kafka


def _end_offsets(admin: AdminClient, topic: str, partitions: int, timeout: float) -> dict[int, int]:
    request = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(partitions)}
    futures = admin.list_offsets(request, request_timeout=timeout)
    return {tp.partition: int(f.result(timeout=timeout).offset) for tp, f in futures.items()}


def _committed(consumer: Consumer, topic: str, partitions: int, timeout: float) -> int | None:
    """Committed offsets of the consumer's group on ``topic``, summed (None: nothing committed).

    Read with a group consumer's ``committed()``, not ``AdminClient.list_consumer_group_offsets``:
    the latter crashes librdkafka (NULL cgrp on NOT_COORDINATOR, librdkafka #5040) on a young broker.
    """
    found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=timeout)
    offsets = [tp.offset for tp in found if tp.error is None and tp.offset >= 0]
    return sum(offsets) if offsets else None


def kafka(admin: AdminClient, consumer: Consumer, settings: Settings, timeout: float = 3.0) -> dict[str, Any]:
    meta = admin.list_topics(timeout=timeout)
    if not meta.brokers:
        raise KafkaException("no broker answered the metadata request")
    cluster = health.kafka_cluster_state(admin)
    topics: dict[str, Any] = {}
    for role, name in (
        ("events", settings["kafka.topic.events"]),
        ("deadletter", settings["kafka.topic.deadletter"]),
    ):
        found = meta.topics.get(name)
        if found is None or found.error is not None:
            topics[role] = {"name": name, "exists": False}
            continue
        ends = _end_offsets(admin, name, len(found.partitions), timeout)
        topics[role] = {
            "name": name,
            "exists": True,
            "partitions": len(found.partitions),
            "end_offsets": {str(p): o for p, o in sorted(ends.items())},
            "total": sum(ends.values()),
        }
    committed: dict[str, int] = {}
    events = topics["events"]
    if events["exists"]:
        try:
            total = _committed(consumer, events["name"], events["partitions"], timeout)
        except KafkaException:
            total = None
        if total is not None:
            committed[events["name"]] = total
    return {
        "brokers": [f"{b.host}:{b.port}" for b in meta.brokers.values()],
        "expected_brokers": health.expected_brokers(settings),
        "under_replicated": cluster["under_replicated"],
        "offline_partitions": cluster["offline"],
        "topic_count": len([t for t in meta.topics if not t.startswith("__")]),
        "topics": topics,
        "group": settings["kafka.consumer.group"],
        "committed": committed,
    }


# --------------------------------------------------------------------------- elasticsearch


def platform_indices(settings: Settings) -> dict[str, str]:
    """role -> index name of every index the platform writes."""
    return {
        "aggregates": settings["es.index.aggregates"],
        "customers": settings["es.index.customers"],
        "quarantine": settings["es.index.quarantine"],
        "runtime": settings["es.index.runtime"],
        "quality": settings["es.index.quality"],
    }


def elasticsearch(es: Elasticsearch, settings: Settings) -> dict[str, Any]:
    state = health.es_cluster_state(es)
    names = platform_indices(settings)
    # All indices (a handful on this node): naming a missing one would fail the whole request.
    stats = es.indices.stats(metric="docs,indexing")
    found = stats.get("indices", {})
    # The app's names are aliases of its live version (es_indices): their concrete index counts.
    aliased = es.options(ignore_status=404).indices.get_alias(name=",".join(names.values())).body
    concrete = {
        alias: index
        for index, body in aliased.items()
        if isinstance(body, dict) and "aliases" in body
        for alias in body["aliases"]
    }
    indices = {}
    for role, name in names.items():
        primaries = (found.get(concrete.get(name, name)) or {}).get("primaries") or {}
        indices[role] = {
            "name": name,
            "exists": concrete.get(name, name) in found,
            "docs": (primaries.get("docs") or {}).get("count", 0),
            "indexed_total": (primaries.get("indexing") or {}).get("index_total", 0),
        }
    return {
        "cluster": state["cluster"],
        "health": state["status"],
        "nodes": len(state["nodes"]),
        "node_names": state["nodes"],
        "master": state["master"],
        "shards": state["shards"],
        "unassigned_shards": state["shards"]["unassigned"],
        "cluster_state": state,  # judged by health.py's model
        "replicated": settings["es.replicas"] > 0,
        "indices": indices,
    }


def spark(es: Elasticsearch, settings: Settings) -> dict[str, Any]:
    """The newest runtime-metrics document (the app writes one per micro-batch)."""
    index = settings["es.index.runtime"]
    cluster = _spark_cluster(settings)
    if not es.indices.exists(index=index):
        return {"index": index, "exists": False, "latest": None, "cluster": cluster}
    field = RUNTIME_FIELDS["timestamp"]
    answer = es.search(index=index, size=1, sort=[{field: {"order": "desc"}}])
    hits = answer["hits"]["hits"]
    return {
        "index": index,
        "exists": True,
        "latest": hits[0]["_source"] if hits else None,
        "cluster": cluster,
    }


def _spark_cluster(settings: Settings) -> dict[str, Any] | None:
    """Workers and executors on a standalone master (None on local[N]; an error in words)."""
    try:
        return health.spark_cluster_state(settings, UI_WAIT_S)
    except (OSError, ValueError) as exc:
        return {"error": f"master unreachable: {exc}"}


# --------------------------------------------------------------------------- processes


def process(paths: Paths, name: str) -> dict[str, Any]:
    pid = read_pid(paths, name)
    return {"name": name, "running": pid is not None, "pid": pid}
