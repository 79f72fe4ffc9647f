"""The embedded Kafka broker: keyed, idempotent produce and exact consume, kept across a restart."""

from __future__ import annotations

import uuid
from collections import defaultdict

from confluent_kafka import TopicPartition

from streaming_platform import config
from streaming_platform.clients import kafka_admin, kafka_consumer
from streaming_platform.runtime import kafka, process
from tests.integration.conftest import N_MESSAGES, expected_messages


def consume_all(settings: config.Settings, topic: str, expected: int, timeout_s: float = 60) -> list:
    """Read every partition of ``topic`` from the beginning until ``expected`` messages arrived."""
    consumer = kafka_consumer(settings, group_id=f"it-{uuid.uuid4().hex[:8]}")
    meta = kafka_admin(settings).list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
    records = []
    import time

    deadline = time.monotonic() + timeout_s
    while len(records) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=5000, timeout=1.0):
            assert msg.error() is None, msg.error()
            records.append((msg.partition(), msg.offset(), msg.key().decode(), msg.value().decode()))
    # Anything beyond the expected count would be a duplicate: poll once more to see it.
    records.extend(
        (m.partition(), m.offset(), m.key().decode(), m.value().decode())
        for m in consumer.consume(num_messages=100, timeout=1.0)
    )
    consumer.close()
    return records


def assert_exactly_expected(records: list) -> None:
    assert len(records) == N_MESSAGES, f"consumed {len(records)} messages, produced {N_MESSAGES}"
    assert sorted((k, v) for _, _, k, v in records) == sorted(expected_messages())
    # Keyed: one key lives in one partition, in produce order.
    by_key: dict[str, list] = defaultdict(list)
    partitions_of_key: dict[str, set] = defaultdict(set)
    for partition, _offset, key, value in sorted(records, key=lambda r: (r[0], r[1])):
        by_key[key].append(value)
        partitions_of_key[key].add(partition)
    assert all(len(p) == 1 for p in partitions_of_key.values())
    expected_by_key: dict[str, list] = defaultdict(list)
    for key, value in expected_messages():
        expected_by_key[key].append(value)
    assert by_key == expected_by_key


def test_topic_created_through_the_airflow_admin_hook(kafka_up, keyed_topic):
    meta = kafka_admin(kafka_up).list_topics(keyed_topic, timeout=10).topics[keyed_topic]
    assert len(meta.partitions) == 3


def test_idempotent_keyed_messages_consumed_back_exactly(kafka_up, keyed_topic):
    assert_exactly_expected(consume_all(kafka_up, keyed_topic, N_MESSAGES))


def test_broker_restart_keeps_messages(kafka_up, keyed_topic, paths):
    assert process.stop("kafka", paths), "kafka was not started by the platform (no PID file)"
    process.start(kafka.spec(kafka_up), paths, kafka_up["bind.host"])
    assert_exactly_expected(consume_all(kafka_up, keyed_topic, N_MESSAGES))
