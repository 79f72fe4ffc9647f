"""Service clients built from the configuration, so every entry point connects the same way."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from streaming_platform.config import Settings, es_hosts


def kafka_common(settings: Settings) -> dict[str, Any]:
    return {"bootstrap.servers": settings["kafka.bootstrap.servers"]}


def kafka_admin(settings: Settings, **overrides: Any) -> AdminClient:
    return AdminClient({**kafka_common(settings), **overrides})


def kafka_producer(settings: Settings, **overrides: Any) -> Producer:
    """An idempotent, acks=all producer: retries never duplicate or reorder within a partition."""
    conf = {
        **kafka_common(settings),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "compression.type": "lz4",
        **overrides,
    }
    return Producer(conf)


def kafka_consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    conf = {
        **kafka_common(settings),
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        **overrides,
    }
    return Consumer(conf)


def es_client(settings: Settings, **kwargs: Any) -> Elasticsearch:
    auth = None
    if settings["es.username"]:
        auth = (settings["es.username"], settings["es.password"])
    # Every node of es.url: a request to a node that is down is retried on another.
    return Elasticsearch(es_hosts(settings["es.url"]), basic_auth=auth, request_timeout=30, **kwargs)
