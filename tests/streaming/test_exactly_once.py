"""Exactly once, proven on the real services: Kafka → Spark app → Elasticsearch.

A known event set (every kind of bad record included) is produced; the expected customer
documents, window aggregates and quarantine (position → reasons) are computed record by record
by ``tests/reference_model.py``; Elasticsearch must hold exactly those — after a clean bounded
run, and after the app was SIGKILLed mid-stream and restarted from its checkpoint.
"""

from __future__ import annotations

import re
import time

import pytest
from stream_harness import Stream, all_docs, assert_exact, kill, produce_known

from streaming_platform.streaming import app_checkpoint, stop_file

pytestmark = pytest.mark.integration


# 5 % bad: the executors go record by record; 0.5 %: mostly the vectorised fast path.
@pytest.mark.parametrize("bad_fraction", [0.05, 0.005])
def test_bounded_run_gives_exact_results(stream: Stream, bad_fraction: float) -> None:
    records = produce_known(stream, 6000, seed=11, bad_fraction=bad_fraction)
    proc = stream.app("--available-now")
    assert stream.wait(proc) == 0, stream.log_tail()
    assert_exact(stream, records)


def test_sigkill_mid_stream_then_restart_is_exact(stream: Stream) -> None:
    records = produce_known(stream, 30_000, seed=12)
    small = {
        "PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER": "2000",
        "PLATFORM_SPARK_TRIGGER_INTERVAL": "1 second",
        # Customers changed but not yet written at the kill: the restart must write them.
        "PLATFORM_SPARK_CUSTOMERS_WRITE_INTERVAL": "1 hour",
    }
    runtime_index = stream.settings["es.index.runtime"]
    proc = stream.app(name="killed", **small)
    # Kill once a few batches are done, i.e. mid-stream (a batch is running or starting).
    deadline = time.monotonic() + 300
    while True:
        assert proc.poll() is None, stream.log_tail("killed")
        assert time.monotonic() < deadline, "no batch completed within 300 s\n" + stream.log_tail("killed")
        if stream.es.indices.exists(index=runtime_index):
            stream.es.indices.refresh(index=runtime_index)
            if stream.es.count(index=runtime_index)["count"] >= 3:
                break
        time.sleep(0.2)
    time.sleep(0.7)
    kill(proc)
    partial = sum(c["total_events"] for c in all_docs(stream, "customers").values())
    assert 0 < partial < len(records) - 1500, "the kill must land mid-stream"
    restarted = stream.app("--available-now", name="restarted", **small)
    assert stream.wait(restarted, name="restarted") == 0, stream.log_tail("restarted")
    log = stream.log_tail("restarted", 400)
    restored = re.search(r"state restored at batch \d+ \([\d,]+ customers, ([\d,]+) of them to write", log)
    assert restored and int(restored.group(1).replace(",", "")) > 0, log
    assert_exact(stream, records)


def test_stop_file_stops_between_batches_and_loses_nothing(stream: Stream) -> None:
    records = produce_known(stream, 8000, seed=13)
    small = {"PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER": "1000"}
    proc = stream.app(name="stopped", **small)
    runtime_index = stream.settings["es.index.runtime"]
    deadline = time.monotonic() + 300
    while not (
        stream.es.indices.exists(index=runtime_index) and stream.es.count(index=runtime_index)["count"]
    ):
        assert proc.poll() is None and time.monotonic() < deadline, stream.log_tail("stopped")
        time.sleep(0.2)
    stop_file(stream.settings).touch()
    assert stream.wait(proc, 120, name="stopped") == 0, stream.log_tail("stopped")
    assert "stopped after" in stream.log_tail("stopped", 400)
    rest = stream.app("--available-now", name="rest", **small)
    assert stream.wait(rest, name="rest") == 0, stream.log_tail("rest")
    assert_exact(stream, records)


def test_batches_written_but_not_committed_run_again_with_the_same_results(stream: Stream) -> None:
    """A crash after the last batch's documents were written but before Spark committed it: the
    restart runs it again from the same offsets and the same state, and writes the same documents."""
    first = produce_known(stream, 6000, seed=14)
    small = {"PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER": "1500"}
    proc = stream.app("--available-now", name="first", **small)
    assert stream.wait(proc, name="first") == 0, stream.log_tail("first")
    assert_exact(stream, first)
    commits = app_checkpoint(stream.settings) / "commits"
    done = sorted(int(p.name) for p in commits.iterdir() if p.name.isdigit())
    assert len(done) >= 4, done
    lost = done[-1]  # as if the app had died between the writes and the commit
    (commits / str(lost)).unlink()
    (commits / f".{lost}.crc").unlink(missing_ok=True)
    second = produce_known(stream, 3000, seed=15)
    proc = stream.app("--available-now", name="second", **small)
    assert stream.wait(proc, name="second") == 0, stream.log_tail("second")
    log = stream.log_tail("second", 400)
    assert re.search(rf"^\[ *[\d.]+s\] batch {lost}: ", log, re.M), log
    assert_exact(stream, first + second)
