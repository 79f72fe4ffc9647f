"""Quarantine replay on the real services: events of an unknown category are quarantined; the
category is added to a copy of the contract; the replay re-checks the quarantine, reprocesses the
topic's history (and backfills the records Kafka no longer retains from the quarantine) into a new
version, whose totals equal the reference model under the new contract; a second replay after the
switch gives the same documents (a record replayed twice counts once)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import reference_model as ref
import yaml
from confluent_kafka import TopicPartition
from stream_harness import Stream, all_docs, assert_documents, expected, produce_known, produce_values
from test_reprocess import _docs

from streaming_platform import config, contract, es_indices
from streaming_platform.orchestration import replay, reprocess
from streaming_platform.validation import Limits

pytestmark = pytest.mark.integration

UNKNOWN = "unknown_product_category"


def _garden_contract(tmp_path: Path) -> Path:
    doc = yaml.safe_load(Path(contract.load().source).read_text(encoding="utf-8"))
    doc["version"] += 1
    doc["categories"]["values"].append("garden")
    path = tmp_path / "customer_event.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _garden(n: int, tag: str, with_ids: bool) -> list[bytes]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    events = []
    for i in range(n):
        event = {
            "timestamp": now,
            "customer_id": f"cust_{i % 7:03d}",
            "event_type": ("purchase", "view", "refund")[i % 3],
            "product_category": (" Garden", "garden", "GARDEN ")[i % 3],
            "product_id": f"prod_rake_{i:03d}",
            "amount": 10.0 + i,
            "quantity": 1 + i % 2,
            "location": "New York",
        }
        if with_ids:
            event["event_id"] = f"{tag}-{i}"
        events.append(orjson.dumps(event))
    return events


def test_quarantined_events_count_after_the_contract_accepts_their_category(
    stream: Stream, tmp_path: Path
) -> None:
    topic = stream.settings["kafka.topic.events"]
    expired = produce_values(stream, _garden(20, "old", with_ids=True))  # partition 0, offsets 0..19
    known = produce_known(stream, 1200, seed=61)
    retained = produce_values(stream, _garden(20, "new", with_ids=False))
    proc = stream.app("--available-now", name="v1")
    assert stream.wait(proc, name="v1") == 0, stream.log_tail("v1")
    garden = [d for d in all_docs(stream, "quarantine").values() if d["reasons"] == [UNKNOWN]]
    assert len([d for d in garden if "rake" in (d["raw"] or "")]) == 40  # the shipped contract refuses them

    # The first 20 records of partition 0 pass the topic's retention; the quarantine still has them.
    [done] = stream.admin.delete_records([TopicPartition(topic, 0, expired[-1].offset + 1)]).values()
    done.result(30)
    history = [r for r in known if r.partition != 0 or r.offset > expired[-1].offset] + retained

    # The contract gains the category (platform_setup puts it on the indices); the dry run reports.
    path = _garden_contract(tmp_path)
    env = {**stream.env, "PLATFORM_CONTRACT_PATH": str(path)}
    settings = config.load(env=env, overrides={})
    es_indices.ensure_templates(stream.es, settings)
    limits = Limits.from_settings(settings)
    shipped = replay.assess(replay.Selection(), stream.settings)
    assert shipped.replayable == 0  # under the contract they failed, nothing is valid
    unknown = replay.assess(replay.Selection(reasons=(UNKNOWN,)), settings)
    was = expected(stream, [*expired, *known, *retained]).quarantine.values()  # the shipped contract's
    assert sum(sum(c.values()) for c in unknown.outcomes.values()) == sum(UNKNOWN in r for r in was)
    assert sum(c[replay.NOW_VALID] for c in unknown.outcomes.values()) == 40  # the rest: other reasons
    assert (unknown.retained, len(unknown.expired)) == (20, 20)
    assert any(line.startswith(f"{UNKNOWN}: ") for line in unknown.report())

    # The replay: a new version from the earliest retained offset, the expired ones backfilled.
    file = Path(replay.write_backfill(unknown, settings))
    written = int(file.stat().st_mtime * 1000)
    backfilled = [
        ref.KafkaRecord(-1, i + 1, written, v) for i, v in enumerate(file.read_bytes().splitlines())
    ]
    version = reprocess.prepare(settings)
    files = reprocess.backfill_files(str(file), settings)
    proc = stream.app(
        *reprocess.app_args(version, "earliest", files), name="v2", PLATFORM_CONTRACT_PATH=str(path)
    )
    assert stream.wait(proc, name="v2") == 0, stream.log_tail("v2")

    # One first batch: the backfilled file and the retained history, under the new contract.
    exp = expected(stream, [*backfilled, *history], limits=limits)
    windows = _docs(stream, version, "aggregates")
    assert_documents(exp, _docs(stream, version, "customers"), windows)
    assert sum(d["events"] for d in windows.values() if d["product_category"] == "garden") == 40
    assert not [d for d in _docs(stream, version, "quarantine").values() if "rake" in (d["raw"] or "")]

    # After the switch the quarantine has no garden record left; a second replay carries the
    # backfilled file forward and computes the same documents: each record counted once.
    reprocess.switch(version, settings)
    again = replay.assess(replay.Selection(reasons=(UNKNOWN,)), settings)
    assert again.outcomes[UNKNOWN][replay.NOW_VALID] == 0
    third = reprocess.prepare(settings)
    files = reprocess.backfill_files(replay.write_backfill(again, settings), settings)
    assert files == str(file.resolve())
    proc = stream.app(
        *reprocess.app_args(third, "earliest", files), name="v3", PLATFORM_CONTRACT_PATH=str(path)
    )
    assert stream.wait(proc, name="v3") == 0, stream.log_tail("v3")
    for key in ("customers", "aggregates"):
        assert _docs(stream, third, key) == _docs(stream, version, key), key
