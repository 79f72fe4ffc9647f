"""Committed offsets for the consumer-lag check: read with a group consumer, asked again while the
group's coordinator is not ready, never through the admin API that crashes librdkafka."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streaming_platform import health

ROOT = Path(__file__).resolve().parents[2]


class Coordinator:
    """A consumer whose ``committed()`` raises the given errors first, then answers."""

    def __init__(self, *errors: int) -> None:
        self.errors, self.calls = list(errors), 0

    def committed(self, wanted: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return [TopicPartition(tp.topic, tp.partition, 7) for tp in wanted]


def test_a_coordinator_still_loading_is_asked_again() -> None:
    consumer = Coordinator(KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS)
    found = health._committed(consumer, [TopicPartition("t", 0)], time.monotonic() + 10)

    assert [tp.offset for tp in found] == [7] and consumer.calls == 3


def test_other_errors_and_a_passed_deadline_are_raised() -> None:
    with pytest.raises(KafkaException):
        health._committed(Coordinator(KafkaError.GROUP_AUTHORIZATION_FAILED), [], time.monotonic() + 10)
    with pytest.raises(KafkaException):
        health._committed(Coordinator(KafkaError.NOT_COORDINATOR), [], time.monotonic())


def test_no_code_reads_group_offsets_through_the_admin_client() -> None:
    # AdminClient.list_consumer_group_offsets answered NOT_COORDINATOR (a new broker) dereferences
    # librdkafka's NULL consumer group: SIGSEGV of the whole process (librdkafka #5040).
    files = [p for d in ("src", "dags", "bench", "scripts") for p in (ROOT / d).rglob("*.py")]
    users = [str(p.relative_to(ROOT)) for p in files if ".list_consumer_group_offsets(" in p.read_text()]
    assert users == []
