"""A 10,000-message keyed topic shared by the Kafka and Spark integration tests."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from streaming_platform import config
from streaming_platform.clients import kafka_producer

N_MESSAGES = 10_000
N_KEYS = 97


@pytest.fixture(scope="session")
def airflow_connections(settings: config.Settings) -> None:
    """Expose the platform's Airflow connections (AIRFLOW_CONN_*) to in-process provider hooks."""
    from streaming_platform.runtime.airflow import connections

    for conn_id, conn in connections(settings).items():
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)


def expected_messages() -> list[tuple[str, str]]:
    return [(f"customer-{i % N_KEYS}", json.dumps({"seq": i})) for i in range(N_MESSAGES)]


@pytest.fixture(scope="session")
def keyed_topic(kafka_up: config.Settings, airflow_connections: None) -> str:
    """Create a topic through the Airflow Kafka provider's admin hook and fill it idempotently."""
    from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook

    topic = f"it-keyed-{uuid.uuid4().hex[:8]}"
    KafkaAdminClientHook(kafka_config_id="kafka_default").create_topic(topics=[(topic, 3, 1, {})])
    producer = kafka_producer(kafka_up)
    failures: list[str] = []

    def on_delivery(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    for key, value in expected_messages():
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} messages still undelivered after 60 s"
    assert not failures, f"delivery failures: {failures[:5]}"
    return topic
