"""The app's writes: bulks cut by count and bytes, refused documents turned into quarantine
records, bounded quarantine records, and outages waited out for a bounded time."""

from __future__ import annotations

import time

import orjson
import pytest

from streaming_platform.streaming import sink
from streaming_platform.streaming.sink import (
    MAX_KEY_CHARS,
    Retrier,
    WriteError,
    chunks,
    ndjson,
    outages,
    quarantine_doc,
    rejection_doc,
)


def test_chunks_are_bounded_by_count_and_bytes() -> None:
    ops = [b"x" * 100] * 10
    assert [len(c) for c in chunks(ops, max_docs=4, max_bytes=10_000)] == [4, 4, 2]
    assert [len(c) for c in chunks(ops, max_docs=100, max_bytes=350)] == [3, 3, 3, 1]
    assert [len(c) for c in chunks([b"y" * 1000, b"z"], max_docs=100, max_bytes=10)] == [1, 1]
    assert [op for c in chunks(ops, 3, 250) for op in c] == ops  # nothing lost, order kept


def test_a_refused_quarantine_record_keeps_its_id_and_position_without_its_key() -> None:
    doc = quarantine_doc("events", 2, 41, 1000, b"k" * 50_000, b"not json", ["not_json"], 7)
    [op] = ndjson("q", [("events-2-41", doc)])
    doc_id, safe = rejection_doc(op, {"type": "document_parsing_exception"}, "q")
    assert doc_id == "events-2-41"
    assert (safe["topic"], safe["partition"], safe["offset"], safe["raw"]) == ("events", 2, 41, "not json")
    assert safe["key"] is None
    assert safe["reasons"] == ["not_json", "rejected_by_elasticsearch:document_parsing_exception"]
    assert safe["reason"] == "not_json"


def test_any_other_refused_document_is_kept_whole_as_text() -> None:
    [op] = ndjson("pipeline-metrics", [("123-books", {"events": "many"})])
    doc_id, doc = rejection_doc(op, {"type": "mapper_parsing_exception"}, "q")
    assert doc_id == "rejected-pipeline-metrics-123-books"
    assert doc["key"] == "pipeline-metrics/123-books"
    assert orjson.loads(doc["raw"]) == {"events": "many"}
    assert doc["reasons"] == ["rejected_by_elasticsearch:mapper_parsing_exception"]


def test_quarantine_records_are_bounded() -> None:
    doc = quarantine_doc("t", 0, 1, 0, b"k" * 40_000, b"v" * 200_000, ["oversized"], 1, "e" * 5000)
    assert len(doc["key"]) == MAX_KEY_CHARS and len(doc["event_id"]) == MAX_KEY_CHARS
    assert doc["raw_truncated"] and len(doc["raw"]) == sink.MAX_RAW_CHARS
    assert len(orjson.dumps(doc)) < 1_000_000  # fits a default Kafka message (dead-letter topic)


def test_an_outage_is_reported_while_waited_out_and_ends_in_one_line_after_the_limit() -> None:
    retrier = Retrier("TestService", limit_s=0.5, backoff_s=0.05)
    retrier.wait("connection error")
    since, retries, failure = outages()["TestService"]
    assert retries == 1 and failure == "connection error" and since <= time.time()
    with pytest.raises(WriteError) as err:
        for _ in range(100):
            retrier.wait("connection error")
    assert "TestService unavailable for" in str(err.value) and "\n" not in str(err.value)
    retrier.done()
    assert "TestService" not in outages()


def test_success_ends_the_outage() -> None:
    retrier = Retrier("Other", limit_s=60, backoff_s=0.01)
    retrier.wait("HTTP 503")
    assert "Other" in outages()
    retrier.done()
    assert "Other" not in outages()
