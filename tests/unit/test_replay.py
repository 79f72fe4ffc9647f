"""Quarantine replay's pure parts: the selection, the re-check of a quarantine document, the
backfill file of expired records and the files a new version carries forward."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from streaming_platform import config
from streaming_platform.orchestration import replay, reprocess
from streaming_platform.streaming import app_checkpoint, backfill
from streaming_platform.streaming.sink import quarantine_doc
from streaming_platform.validation import DUPLICATE_EVENT_ID, Limits

EVENT = {
    "timestamp": "2024-01-15T10:30:00Z",
    "customer_id": "cust_001",
    "event_type": "purchase",
    "product_category": "Electronics",
    "product_id": "prod_laptop_001",
    "amount": 999.99,
    "quantity": 1,
    "location": "New York",
}
ARRIVED = 1_705_314_700_000  # after the event: not from the future


def _doc(raw: bytes, reasons: list[str], partition: int = 0, offset: int = 5, topic: str = "events") -> dict:
    return quarantine_doc(topic, partition, offset, ARRIVED, None, raw, reasons, 3)


def test_bounds_are_offsets_or_zoned_iso_times() -> None:
    assert replay.parse_bound("", "start") is None
    assert replay.parse_bound(" 120 ", "start") == ("offset", 120)
    assert replay.parse_bound("2024-01-15T10:30:00Z", "end") == ("kafka_timestamp", 1_705_314_600_000)
    with pytest.raises(ValueError, match="start: 'yesterday' is neither an offset nor an ISO 8601 time"):
        replay.parse_bound("yesterday", "start")
    with pytest.raises(ValueError, match="no time zone"):
        replay.parse_bound("2024-01-15T10:30:00", "end")


def test_selection_query() -> None:
    assert replay.Selection().query() == {"match_all": {}}
    query = replay.Selection("10", "2024-01-15T10:30:00+00:00", ("unknown_product_category",)).query()
    assert query == {
        "bool": {
            "filter": [
                {"range": {"offset": {"gte": 10}}},
                {"range": {"kafka_timestamp": {"lt": 1_705_314_600_000}}},
                {"terms": {"reasons": ["unknown_product_category"]}},
            ]
        }
    }


def _assess(docs: list[dict], earliest: dict[int, int] | None = None) -> replay.Assessment:
    out = replay.Assessment()
    for doc in docs:
        replay.classify(doc, Limits(), "events", earliest or {}, out)
    return out


def test_classify_by_what_the_current_rules_say() -> None:
    fixed = orjson.dumps(EVENT)  # refused once (say, before its category existed), valid now
    still = orjson.dumps({**EVENT, "product_category": "weapons"})
    out = _assess(
        [
            _doc(fixed, ["unknown_product_category"], offset=7),
            _doc(fixed, ["unknown_product_category"], offset=2),  # before the topic's first offset
            _doc(still, ["unknown_product_category"]),
            _doc(fixed, [DUPLICATE_EVENT_ID]),  # valid, set aside by the state: never replayed
            {**_doc(fixed, ["payload_too_large"]), "raw_truncated": True},
            _doc(fixed, ["unknown_product_category"], partition=-1, topic="file:h.jsonl"),
        ],
        earliest={0: 5},
    )
    assert dict(out.outcomes["unknown_product_category"]) == {
        replay.NOW_VALID: 3,
        "still invalid (unknown_product_category)": 1,
    }
    assert dict(out.outcomes[DUPLICATE_EVENT_ID]) == {replay.STAYS: 1}
    assert dict(out.outcomes["payload_too_large"]) == {replay.UNCHECKED: 1}
    assert (out.retained, out.expired, out.replayable) == (2, [fixed], 3)  # the file's: retained
    report = out.report()
    assert report[0] == (
        f"unknown_product_category: 4 quarantined → 3 {replay.NOW_VALID}, "
        "1 still invalid (unknown_product_category)"
    )
    assert report[-1].startswith("6 records re-checked; 3 now valid (2 in the topic's history, 1 past")


def test_base64_payloads_are_decoded() -> None:
    raw = orjson.dumps(EVENT)
    doc = {**_doc(raw, ["x"]), "raw": base64.b64encode(raw).decode(), "raw_encoding": "base64"}
    assert replay.payload(doc) == raw


def test_the_backfill_file_has_one_record_a_line_and_never_overwrites(tmp_path: Path) -> None:
    settings = config.load(env={"PLATFORM_SPARK_CHECKPOINT_DIR": str(tmp_path)}, overrides={})
    spread = b'{\n "a": 1}'  # JSON over two lines: one line in the file
    out = replay.Assessment(expired=[b'{"a":2}', spread])
    first = Path(replay.write_backfill(out, settings))
    second = Path(replay.write_backfill(out, settings))
    assert first != second and first.parent == tmp_path / replay.FOLDER
    assert first.read_bytes().splitlines() == [b'{"a":2}', b'{"a":1}']
    assert replay.write_backfill(replay.Assessment(), settings) == ""


def test_a_new_version_backfills_the_live_versions_files_again(tmp_path: Path) -> None:
    settings = config.load(env={"PLATFORM_SPARK_CHECKPOINT_DIR": str(tmp_path / "cp")}, overrides={})
    old = tmp_path / "history.jsonl"
    old.write_bytes(b'{"a":1}\n')
    backfill.stage(app_checkpoint(settings), [old])
    new = tmp_path / "more.jsonl"
    new.write_bytes(b'{"a":2}\n')
    assert reprocess.backfill_files(f"{new},{old}", settings) == f"{old.resolve()},{new.resolve()}"
    assert reprocess.backfill_files("", settings) == str(old.resolve())
    old.unlink()
    with pytest.raises(FileNotFoundError, match=r"history\.jsonl, which is gone"):
        reprocess.backfill_files("", settings)
