"""The producer's bad inputs get a clear error, and a record Kafka refuses is counted, not lost silently."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from streaming_platform import producer


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replay", "/nonexistent/events.jsonl"], "no such file"),
        (["--mix", "view=abc"], "could not convert"),
        (["--mix", "browse=1"], "unknown name 'browse'"),
        (["--customers", "0"], "must be greater than 0"),
        (["--count", "-5"], "must be greater than 0"),
        (["--rate", "-1"], "--rate must be 0"),
        (["--bad-fraction", "1.5"], "between 0 and 1"),
    ],
)
def test_bad_arguments_are_refused_in_words(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        producer.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_record_refused_by_the_client_is_reported_and_the_rest_still_sent():
    # No broker needed: librdkafka refuses a message over message.max.bytes before sending it.
    client = Producer({"bootstrap.servers": "127.0.0.1:1", "message.max.bytes": 10_000})
    records = [(None, b"x" * 20_000, "replay")]
    summary = producer.send(client, "any-topic", records, progress_every=0)
    assert (summary.sent, summary.failed) == (1, 1)
    assert "record 1:" in summary.errors[0] and "too large" in summary.errors[0].lower()
