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


@pytest.mark.parametrize(
    ("source", "bad_fraction"),
    # 5 % bad: the executors go record by record; 0.5 %: mostly the vectorised fast path.
    [("python-kafka", 0.05), ("spark-kafka", 0.05), ("spark-kafka", 0.005)],
)
def test_bounded_run_gives_exact_results(stream: Stream, source: str, bad_fraction: float) -> None:
    records = produce_known(stream, 6000, seed=11, bad_fraction=bad_fraction)
    proc = stream.app("--available-now", PLATFORM_SPARK_SOURCE=source)
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


def test_batches_committed_but_not_written_are_read_again(stream: Stream) -> None:
    """A crash while the writer was one batch behind Spark: Spark committed the last batches, their
    state was never saved. The restarted app reads them again from their saved offsets."""
    first = produce_known(stream, 6000, seed=14)
    small = {"PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER": "1500"}
    proc = stream.app("--available-now", name="first", **small)
    assert stream.wait(proc, name="first") == 0, stream.log_tail("first")
    assert_exact(stream, first)
    state_dir = app_checkpoint(stream.settings) / "app-state"
    deltas = sorted(int(p.stem.split("-")[1]) for p in state_dir.glob("delta-*.pkl"))
    assert len(deltas) >= 4, deltas
    lost = deltas[-2:]
    for b in lost:  # as if the app had died before the writer saved them
        (state_dir / f"delta-{b}.pkl").unlink()
        (state_dir / f"snapshot-{b}.pkl").unlink(missing_ok=True)
    second = produce_known(stream, 3000, seed=15)
    proc = stream.app("--available-now", name="second", **small)
    assert stream.wait(proc, name="second") == 0, stream.log_tail("second")
    log = stream.log_tail("second", 400)
    for b in lost:
        assert f"batch {b} was committed by Spark but not written: reading it again" in log, log
    assert_exact(stream, first + second)
