"""A historical JSON-lines file backfilled on the real services: a new version of the results reads
the file beside the topic's history with the stream's own plan; the file's 2024 events land in
2024 windows and in the customers' totals, exactly as the reference model says, and a second
backfill of the same file gives the same documents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import reference_model as ref
from stream_harness import Stream, assert_documents, expected, produce_known
from test_reprocess import _docs

from streaming_platform.orchestration import reprocess
from streaming_platform.producer import EventGenerator

pytestmark = pytest.mark.integration

SEED_SAMPLE = (  # the seed README's sample event, verbatim: no event_id, "Electronics"
    b'{"timestamp": "2024-01-15T10:30:00Z", "customer_id": "cust_001", "event_type": "purchase", '
    b'"product_category": "Electronics", "product_id": "prod_laptop_001", "amount": 999.99, '
    b'"quantity": 1, "location": "New York"}'
)


def history_file(path: Path, n: int) -> list[ref.KafkaRecord]:
    """A 2024 JSON-lines file (bad lines, a resent line, blank lines, the seed's sample) and its
    records as the backfill numbers them: partition -1, offset = line number."""
    start = int(datetime(2024, 1, 15, 9, 0, tzinfo=UTC).timestamp() * 1000)
    gen = EventGenerator(customers=150, seed=57, bad_fraction=0.05, start_ms=start, step_ms=3_600_000 / n)
    values = [v for (_, v, _), _ in zip(gen.records(), range(n), strict=False)]
    values = [v for v in values if v.strip() and b"\n" not in v and b"\r" not in v]  # one per line
    values += [SEED_SAMPLE, values[10]]  # the seed's sample, and a line sent twice
    lines, numbers = [], []
    for value in values:
        if len(lines) % 500 == 499:
            lines.append(b"   ")  # blank lines are not records
        lines.append(value)
        numbers.append(len(lines))
    path.write_bytes(b"\n".join(lines) + b"\n")
    written = int(path.stat().st_mtime * 1000)  # a file record's time of arrival
    return [ref.KafkaRecord(-1, n, written, v) for n, v in zip(numbers, values, strict=True)]


def test_backfill_of_a_historical_file_and_its_rerun(stream: Stream, tmp_path: Path) -> None:
    live = produce_known(stream, 2000, seed=41)
    history = tmp_path / "history-2024.jsonl"
    records = history_file(history, 1500)

    version = reprocess.prepare(stream.settings)
    proc = stream.app(*reprocess.app_args(version, "earliest", str(history)), name="v2")
    assert stream.wait(proc, name="v2") == 0, stream.log_tail("v2")
    assert f"{len(records):,} records of {history.name} staged" in stream.log_tail("v2")

    # One first batch holds the file and the topic: the model of both, as one batch.
    exp = expected(stream, [*records, *live])
    windows = _docs(stream, version, "aggregates")
    assert_documents(exp, _docs(stream, version, "customers"), windows)
    in_2024 = [
        d for d in windows.values() if datetime.fromtimestamp(d["window_start"] / 1000, UTC).year == 2024
    ]
    assert sum(d["events"] for d in in_2024) == expected(stream, records).accepted  # every one of the file's
    assert windows["1705314600000-electronics"]["purchases"] >= 1  # the seed's sample, in its window

    # The file's set-aside records are in the quarantine under the file's name and line, with payloads.
    topic = stream.settings["kafka.topic.events"]
    source = {-1: f"file:{history.name}"}
    quarantine = _docs(stream, version, "quarantine")
    want_q = {f"{source.get(p, topic)}-{p}-{o}": reasons for (p, o), reasons in exp.quarantine.items()}
    assert {qid: doc["reasons"] for qid, doc in quarantine.items()} == want_q
    resent = next(r for r in records if r.value == records[10].value and r.offset != records[10].offset)
    dup = quarantine[f"file:{history.name}--1-{resent.offset}"]
    assert dup["reasons"] == ["duplicate_event_id"]
    assert dup["raw"].encode() == resent.value
    assert orjson.loads(dup["raw"])["event_id"] == dup["event_id"]

    # The same file again into another version: the same documents.
    reprocess.switch(version, stream.settings)
    again = reprocess.prepare(stream.settings)
    proc = stream.app(*reprocess.app_args(again, "earliest", str(history)), name="v3")
    assert stream.wait(proc, name="v3") == 0, stream.log_tail("v3")
    for key in ("customers", "aggregates", "quarantine"):
        assert _docs(stream, again, key) == _docs(stream, version, key), key
