"""The platform's topics on the real broker: broker time on the events topic, size-bounded retention."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import orjson
import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME, KafkaException, TopicPartition
from confluent_kafka.admin import ConfigResource, NewTopic

from streaming_platform import config, topics
from streaming_platform.clients import kafka_admin, kafka_consumer, kafka_producer
from streaming_platform.validation import FUTURE_TIMESTAMP, Limits, ValidEvent, validate

HOUR_MS = 3_600_000


@pytest.fixture
def topic_settings(kafka_up: config.Settings) -> Iterator[config.Settings]:
    """Settings naming topics of this test only (deleted afterwards)."""
    run = f"it-topics-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if k.startswith("PLATFORM_")},
        "PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka_up["kafka.bootstrap.servers"],
        "PLATFORM_KAFKA_TOPIC_EVENTS": f"{run}-events",
        "PLATFORM_KAFKA_TOPIC_DEADLETTER": f"{run}-dlq",
    }
    settings = config.load(env=env, overrides={})
    yield settings
    names = [settings["kafka.topic.events"], settings["kafka.topic.deadletter"]]
    admin = kafka_admin(settings)
    for future in admin.delete_topics(names).values():
        try:
            future.result(30)
        except KafkaException:
            pass


def topic_config(settings: config.Settings, topic: str) -> dict[str, str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    admin = kafka_admin(settings)  # held: a collected client cancels its futures
    deadline = time.monotonic() + 15
    while True:  # a topic just created may not be known to the broker's metadata yet
        try:
            entries = admin.describe_configs([resource])[resource].result(30)
            return {k: v.value for k, v in entries.items()}
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def event(event_ms: int) -> bytes:
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event_ms / 1000)) + f".{event_ms % 1000:03d}Z"
    return orjson.dumps(
        {
            "event_id": uuid.uuid4().hex,
            "timestamp": iso,
            "customer_id": "c1",
            "event_type": "view",
            "product_category": "books",
            "product_id": "p1",
            "amount": 1.0,
            "quantity": 1,
            "location": "Rome",
        }
    )


def produce_and_read_back(
    settings: config.Settings, topic: str, value: bytes, create_ms: int
) -> tuple[int, int]:
    """(timestamp type, timestamp) the consumer sees for one record produced with ``create_ms``."""
    producer = kafka_producer(settings)
    delivered: list = []
    producer.produce(
        topic,
        value=value,
        key=b"c1",
        timestamp=create_ms,
        on_delivery=lambda err, msg: delivered.append((err, msg)),
    )
    assert producer.flush(30) == 0
    [(err, delivered_msg)] = delivered
    assert err is None, err
    consumer = kafka_consumer(settings, group_id=f"it-{uuid.uuid4().hex[:8]}")
    consumer.assign([TopicPartition(topic, delivered_msg.partition(), delivered_msg.offset())])
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None:
                assert msg.error() is None, msg.error()
                # Producers learn the broker's stamp too (the streaming tests' model relies on it).
                assert delivered_msg.timestamp() == msg.timestamp()
                return msg.timestamp()
    finally:
        consumer.close()
    raise AssertionError(f"the record produced to {topic} was not read back within 30 s")


def assert_broker_time(settings: config.Settings, topic: str) -> None:
    """A record whose CreateTime and event time lie an hour ahead carries the broker's time instead,
    so validation calls it future instead of accepting it (and moving the watermark)."""
    ahead = int(time.time() * 1000) + HOUR_MS
    value = event(ahead)
    before = int(time.time() * 1000)
    kind, stamped = produce_and_read_back(settings, topic, value, ahead)
    after = int(time.time() * 1000)
    assert kind == TIMESTAMP_LOG_APPEND_TIME
    assert before - 1000 <= stamped <= after + 1000, (stamped, before, after)
    assert validate(value, stamped, Limits()) == [FUTURE_TIMESTAMP]
    # Under CreateTime the same record would have been valid: the producer's clock decided.
    assert isinstance(validate(value, ahead, Limits()), ValidEvent)


def assert_bounded(settings: config.Settings) -> None:
    for name in (settings["kafka.topic.events"], settings["kafka.topic.deadletter"]):
        got = topic_config(settings, name)
        assert got["retention.bytes"] == str(settings["kafka.topic.retention.bytes"]), name
        assert got["retention.ms"] == str(settings["kafka.topic.retention.ms"]), name
        assert int(got["segment.bytes"]) * 4 == settings["kafka.topic.retention.bytes"], name


def test_new_events_topic_uses_broker_time_and_both_are_size_bounded(topic_settings: config.Settings) -> None:
    s = topic_settings
    report = topics.ensure_topics(s, kafka_admin(s))
    assert sorted(report.created) == sorted([s["kafka.topic.events"], s["kafka.topic.deadletter"]])
    assert topic_config(s, s["kafka.topic.events"])["message.timestamp.type"] == "LogAppendTime"
    assert_bounded(s)
    assert_broker_time(s, s["kafka.topic.events"])
    assert topics.ensure_topics(s, kafka_admin(s)).changed == {}  # idempotent


def test_existing_topics_are_switched_to_broker_time_and_bounded(topic_settings: config.Settings) -> None:
    s = topic_settings
    events, dlq = s["kafka.topic.events"], s["kafka.topic.deadletter"]
    admin = kafka_admin(s)
    # As an older platform created them: CreateTime, no size bound.
    for future in admin.create_topics([NewTopic(t, 3, 1) for t in (events, dlq)]).values():
        future.result(30)
    assert topic_config(s, events)["message.timestamp.type"] == "CreateTime"
    kind, stamped = produce_and_read_back(s, events, event(0), 1_000)
    assert (kind, stamped) == (TIMESTAMP_CREATE_TIME, 1_000)  # the producer's word, before
    report = topics.ensure_topics(s, admin)
    assert report.created == []
    assert any(
        c.startswith("message.timestamp.type CreateTime -> LogAppendTime") for c in report.changed[events]
    )
    # retention.bytes may match already: the broker's default is the same bound (runtime/kafka.py).
    assert any(c.startswith("segment.bytes") for c in report.changed[dlq])
    assert topic_config(s, events)["message.timestamp.type"] == "LogAppendTime"
    assert topic_config(s, dlq)["message.timestamp.type"] == "CreateTime"  # dead letters keep theirs
    assert_bounded(s)
    assert_broker_time(s, events)


def test_broker_bounds_other_topics_by_size_too(kafka_up: config.Settings) -> None:
    resource = ConfigResource(ConfigResource.Type.BROKER, "1")
    admin = kafka_admin(kafka_up)
    entries = admin.describe_configs([resource])[resource].result(30)
    assert entries["log.retention.bytes"].value == str(kafka_up["kafka.topic.retention.bytes"])
