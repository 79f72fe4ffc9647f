"""The dashboard's cards for a multi-node stack: every node counted, a lost one shown (pure)."""

from __future__ import annotations

from typing import Any

from streaming_platform.dashboard import status


def _probe(data: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "data": data, "error": None}


def test_kafka_card_shows_brokers_and_under_replicated_partitions() -> None:
    three = {
        "brokers": ["h:1", "h:2", "h:3"],
        "expected_brokers": 3,
        "topic_count": 2,
        "under_replicated": [],
    }
    card = status.kafka_card(_probe(three))
    assert card["status"] == "green" and "3 of 3 broker(s)" in card["reason"]
    two = {**three, "brokers": ["h:1", "h:3"], "under_replicated": ["t-0", "t-1"]}
    card = status.kafka_card(_probe(two))
    assert card["status"] == "amber" and "2 partition(s) under-replicated" in card["reason"]
    assert {"label": "under-replicated partitions", "value": 2, "kind": "count"} in card["metrics"]


def test_es_card_names_the_nodes_and_unassigned_shards() -> None:
    shards = {"active": 4, "primaries": 4, "initializing": 0, "relocating": 0, "unassigned": 4}
    state = {"cluster": "c", "status": "yellow", "nodes": ["node-1"], "master": "node-1", "shards": shards}
    data = {"cluster_state": state, "replicated": True, "nodes": 1, "unassigned_shards": 4, "indices": {}}
    data["shards"] = shards
    card = status.es_card(_probe(data))
    # Replicas configured and one node of two left: health.py's model fails it (red).
    assert card["status"] == "red" and "node-1 (master node-1)" in card["reason"]
    assert "4 unassigned" in card["reason"]


def test_spark_card_counts_workers_and_executors() -> None:
    base = {"id": "spark", "title": "t", "status": "green", "reason": "active", "metrics": []}
    cluster = {
        "workers": [{"state": "ALIVE"}, {"state": "DEAD"}],
        "expected_workers": 2,
        "executors": [{"active": True, "tasks": 3}],
    }
    card = status.with_spark_cluster(base, _probe({"cluster": cluster}))
    assert card["status"] == "amber" and "1 worker(s) alive, 1 executor(s)" in card["reason"]
    assert status.with_spark_cluster(base, _probe({"cluster": None})) == base  # local[N]
