"""Quarantine replay: quarantined records re-validated with the current contract, those now valid
counted into a new version of the results.

After the contract (or a ``validation.*`` bound) accepts what it refused — a new category, a wider
range — :func:`assess` re-checks the selected quarantine records (a time or offset range, some
reasons) with the current rules and reports, per reason, how many are now valid and how many
still fail and why. The replay itself is a reprocess (:mod:`.reprocess`): a fresh instance of the
same app reads the topic's retained history from the earliest offset under the current contract,
so every record quarantined under the old rules is validated again at its own place in the
stream. Each lands in the window of its own event time, before that window's watermark, and counts
once; a second replay is another fresh version with the same documents.

Records no longer in the topic (past its retention) but kept in the quarantine are written to a
JSON-lines file that the new version backfills in its first batch (:mod:`..streaming.backfill`);
a later reprocess carries that file forward. Records the state set aside (a duplicate event id, a
late event) passed validation: they are not the contract's to change and stay where they are.
The selection narrows what is reported and which expired records are backfilled; the new version
re-validates the whole retained history, whatever the selection.
"""

from __future__ import annotations

import base64
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from elasticsearch import helpers

from streaming_platform import clients, config
from streaming_platform.progress import say
from streaming_platform.validation import DUPLICATE_EVENT_ID, LATE_EVENT, Limits, validate

SET_ASIDE = frozenset({DUPLICATE_EVENT_ID, LATE_EVENT})  # valid events the state kept apart
NOW_VALID = "now valid"
UNCHECKED = "not re-checked: the quarantine kept a truncated payload"
STAYS = "stays: set aside by the stream's state, not by the contract"
FOLDER = "replays"  # under spark.checkpoint.dir: a path the driver and the executors share


def parse_bound(text: str, name: str) -> tuple[str, int] | None:
    """A range bound: an integer is an offset (in every partition), anything else an ISO 8601
    time of arrival; empty: unbounded."""
    text = text.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return "offset", int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: {text!r} is neither an offset nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name}: {text!r} has no time zone (add Z or +hh:mm)")
    return "kafka_timestamp", int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Selection:
    """Which quarantine records to re-check: ``start`` ≤ position < ``end`` and any of ``reasons``."""

    start: str = ""
    end: str = ""
    reasons: tuple[str, ...] = ()

    def query(self) -> dict[str, Any]:
        filters: list[dict[str, Any]] = []
        for bound, op in ((parse_bound(self.start, "start"), "gte"), (parse_bound(self.end, "end"), "lt")):
            if bound is not None:
                filters.append({"range": {bound[0]: {op: bound[1]}}})
        if self.reasons:
            filters.append({"terms": {"reasons": list(self.reasons)}})
        return {"bool": {"filter": filters}} if filters else {"match_all": {}}


@dataclass
class Assessment:
    """What the current rules say of the selected records, by the reasons they were quarantined for."""

    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    retained: int = 0  # now valid and still in the topic (or a backfilled file): the reprocess reads them
    expired: list[bytes] = field(default_factory=list)  # now valid, past the topic's retention

    @property
    def replayable(self) -> int:
        return self.retained + len(self.expired)

    def add(self, was: list[str], outcome: str) -> None:
        self.outcomes[",".join(was)][outcome] += 1

    def report(self) -> list[str]:
        """One line per reason quarantined for: how many, and what each is now."""
        lines = []
        for was, outcomes in sorted(self.outcomes.items(), key=lambda kv: -sum(kv[1].values())):
            parts = ", ".join(f"{n:,} {o}" for o, n in outcomes.most_common())
            lines.append(f"{was}: {sum(outcomes.values()):,} quarantined → {parts}")
        total = sum(sum(o.values()) for o in self.outcomes.values())
        lines.append(
            f"{total:,} records re-checked; {self.replayable:,} now valid ({self.retained:,} in the "
            f"topic's history, {len(self.expired):,} past its retention, backfilled from the quarantine)"
        )
        return lines


def payload(doc: dict[str, Any]) -> bytes | None:
    """The quarantined record's bytes as kept (None: truncated, so not the record)."""
    if doc.get("raw_truncated"):
        return None
    raw = doc.get("raw") or ""
    return base64.b64decode(raw) if doc.get("raw_encoding") == "base64" else raw.encode("utf-8")


def classify(
    doc: dict[str, Any], limits: Limits, topic: str, earliest: dict[int, int], out: Assessment
) -> None:
    """Re-check one quarantine document with ``limits`` and count its outcome into ``out``."""
    was = list(doc.get("reasons") or [doc.get("reason", "")])
    if set(was) <= SET_ASIDE:
        return out.add(was, STAYS)
    raw = payload(doc)
    if raw is None:
        return out.add(was, UNCHECKED)
    result = validate(raw, int(doc.get("kafka_timestamp") or 0), limits)
    if isinstance(result, list):
        return out.add(was, f"still invalid ({','.join(result)})")
    out.add(was, NOW_VALID)
    source = doc.get("topic") or ""
    in_topic = source == topic and int(doc.get("offset", -1)) >= earliest.get(int(doc.get("partition", 0)), 0)
    if in_topic or source.startswith("file:"):  # a file's records come back with its backfill
        out.retained += 1
    else:
        out.expired.append(raw)


def earliest_offsets(settings: config.Settings) -> dict[int, int]:
    """The first retained offset of each of the events topic's partitions."""
    from confluent_kafka import TopicPartition

    topic = settings["kafka.topic.events"]
    consumer = clients.kafka_consumer(settings, "quarantine-replay")
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0] for p in parts}
    finally:
        consumer.close()


def assess(selection: Selection, settings: config.Settings | None = None) -> Assessment:
    """Re-check the selected quarantine records (read through the live alias) with the current rules."""
    settings = settings or config.load()
    limits = Limits.from_settings(settings)
    topic, earliest = settings["kafka.topic.events"], earliest_offsets(settings)
    es = clients.es_client(settings)
    out = Assessment()
    index = settings["es.index.quarantine"]
    for hit in helpers.scan(es, index=index, query={"query": selection.query()}, size=2_000):
        classify(hit["_source"], limits, topic, earliest, out)
    say(f"contract {limits.contract.name} v{limits.contract.version}, quarantine {index}:")
    for line in out.report():
        say(f"  {line}")
    return out


def one_line(raw: bytes) -> bytes:
    """The record on one line (JSON may span lines; its re-serialisation is the same event)."""
    return orjson.dumps(orjson.loads(raw)) if b"\n" in raw or b"\r" in raw else raw


def write_backfill(assessment: Assessment, settings: config.Settings | None = None) -> str:
    """The expired now-valid records as a JSON-lines file for the new version; its path ("": none)."""
    if not assessment.expired:
        return ""
    settings = settings or config.load()
    folder = settings.checkpoint_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path, n = folder / f"quarantine-replay-{stamp}.jsonl", 1
    while path.exists():  # never overwrite a file an earlier version backfilled
        n += 1
        path = folder / f"quarantine-replay-{stamp}-{n}.jsonl"
    path.write_bytes(b"".join(one_line(raw) + b"\n" for raw in assessment.expired))
    say(f"{len(assessment.expired):,} records past the topic's retention written to {path} (backfilled)")
    return str(path)
