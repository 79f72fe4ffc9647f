"""Spark's state across micro-batches and runs, against the reference model: a duplicate arriving
in a later batch, events behind the watermark, and a restart on another number of executors."""

from __future__ import annotations

import time

import orjson
import pytest
from stream_harness import Stream, all_docs, assert_exact, produce_known, produce_values

pytestmark = pytest.mark.integration

MINUTE = 60_000


def event(eid: str, customer: str, at_ms: int, kind: str = "purchase", category: str = "books") -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at_ms / 1000)) + f".{at_ms % 1000:03d}Z"
    return orjson.dumps(
        {
            "event_id": eid,
            "timestamp": stamp,
            "customer_id": customer,
            "event_type": kind,
            "product_category": category,
            "product_id": "p1",
            "amount": 12.5,
            "quantity": 2,
            "location": "Oslo",
        }
    )


def test_duplicates_and_late_events_of_a_later_batch(stream: Stream) -> None:
    """A first run sets the watermark (newest event − 10 minutes); a second run's batch brings
    duplicates of the first run's events (quarantined, not counted twice), events behind the
    watermark (counted for their customers, kept in the quarantine with reason late, not in their
    windows' totals but in the late count of a window counted before) and new ones."""
    now = int(time.time() * 1000)
    counted = now - 20 * MINUTE  # a window the first run counts, behind the watermark it sets
    counted += 1000 - counted % MINUTE  # its first second: the late ones below fall in it too
    first = produce_known(stream, 3000, seed=21)
    first += produce_values(stream, [event(f"early-{i}", "c0000001", counted + i) for i in range(3)])
    proc = stream.app("--available-now", name="first")
    assert stream.wait(proc, name="first") == 0, stream.log_tail("first")
    sent = [r for r in first if r.value and r.value.startswith(b"{") and b'"event_id"' in r.value]
    valid = []
    for r in sent:
        try:
            doc = orjson.loads(r.value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("customer_id"), str):
            valid.append(doc)
    old = now - 30 * MINUTE  # behind the watermark the first run set, in windows never counted
    values = [orjson.dumps(d) for d in valid[:40]]  # resent: duplicates (or bad again)
    values += [event(f"late-{i}", f"c{i % 3:07d}", old + i) for i in range(25)]
    values += [event(f"late-w-{i}", f"c{i % 2:07d}", counted + 100 + i) for i in range(4)]
    values += [event(f"new-{i}", f"c{i % 5:07d}", now - MINUTE + i, "view") for i in range(30)]
    later = produce_values(stream, values)
    proc = stream.app("--available-now", name="second")
    assert stream.wait(proc, name="second") == 0, stream.log_tail("second")
    assert_exact(stream, first, later)
    runtime = all_docs(stream, "runtime")
    assert sum(d["dropped_late"] for d in runtime.values()) == 29
    # Kept with their reason, and counted in the window that had been counted before.
    quarantine = all_docs(stream, "quarantine")
    assert sum(d["reason"] == "late" for d in quarantine.values()) == 29
    windows = all_docs(stream, "aggregates")
    start = counted - counted % MINUTE
    assert windows[f"{start}-books"]["late_events"] == 4
    assert windows[f"{start}-books"]["events"] == 3
    assert sum(d["duplicates"] for d in runtime.values()) >= 1


def test_a_restart_on_another_number_of_executors_keeps_totals_exact(stream: Stream) -> None:
    """The state is partitioned by key in the checkpoint, not by executor: a restart with one core
    instead of two carries on from the same state."""
    records = produce_known(stream, 6000, seed=22)
    small = {"PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER": "1000"}
    proc = stream.app("--available-now", name="two", PLATFORM_SPARK_MASTER="local[2]", **small)
    assert stream.wait(proc, name="two") == 0, stream.log_tail("two")
    more = produce_known(stream, 3000, seed=23)
    proc = stream.app("--available-now", name="one", PLATFORM_SPARK_MASTER="local[1]", **small)
    assert stream.wait(proc, name="one") == 0, stream.log_tail("one")
    assert_exact(stream, records + more)
