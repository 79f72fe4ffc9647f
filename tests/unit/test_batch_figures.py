"""A batch's figures: what the parse tasks count and sample, merged by the driver (pure)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from streaming_platform.streaming.app import weighted_percentiles
from streaming_platform.streaming.parse import LATENCY_SAMPLES, PARSED, StatsParam, task_stats


def parsed(
    kafka_ms: list[int], reasons: list[str | None], event_ms: list[int], partitions: list[int] | None = None
) -> pa.Table:
    n = len(kafka_ms)
    cols = {f.name: pa.nulls(n, f.type) for f in PARSED}
    cols.update(
        partition=pa.array(partitions or [0] * n, pa.int32()),
        kafka_ms=pa.array(kafka_ms, pa.int64()),
        reasons=pa.array(reasons, pa.string()),
        event_ms=pa.array(event_ms, pa.int64()),
    )
    return pa.table(cols, schema=PARSED)


def test_task_stats_leave_backfilled_file_records_out_of_the_latency_sample():
    # A file's record (negative partition) arrives at its file's mtime: no produce-to-index latency.
    stats = task_stats(parsed([5, 7, 9], [None, None, None], [1, 2, 3], partitions=[0, -1, -2]))
    assert stats["kafka_ms"] == [5]
    assert stats["rows"] == 3 and stats["max_event_ms"] == 3


def test_task_stats_count_reasons_and_sample_only_valid_events():
    stats = task_stats(parsed([5, 1, 3, 9], [None, "not_json", "a,b", None], [50, 0, 0, 70]))
    assert stats["rows"] == 4
    assert stats["invalid"] == 2
    assert stats["reasons"] == {"not_json": 1, "a": 1, "b": 1}
    assert stats["kafka_ms"] == [5, 9]
    assert sum(stats["weights"]) == pytest.approx(2)
    assert stats["max_event_ms"] == 70


def test_a_large_task_is_sampled_with_weights_that_keep_its_size():
    n = 10_000
    stats = task_stats(parsed(list(range(n)), [None] * n, [0] * n))
    assert len(stats["kafka_ms"]) == LATENCY_SAMPLES
    assert sum(stats["weights"]) == pytest.approx(n)
    assert stats["kafka_ms"][0] == 0 and stats["kafka_ms"][-1] == n - 1


def test_tasks_merge_into_the_batch():
    param = StatsParam()
    total = param.zero({})
    for t in (
        task_stats(parsed([1, 2], [None, "x"], [10, 0])),
        task_stats(parsed([3], ["x"], [0])),
        task_stats(parsed([4], [None], [40])),
    ):
        total = param.addInPlace(total, t)
    assert (total["rows"], total["invalid"], total["reasons"]) == (4, 2, {"x": 2})
    assert sorted(total["kafka_ms"]) == [1, 4]
    assert total["max_event_ms"] == 40


def test_weighted_percentiles():
    assert weighted_percentiles([], [], (50, 95)) == [0.0, 0.0]
    values = list(range(1, 101))
    assert weighted_percentiles(values, [1.0] * 100, (0, 50, 95)) == [1.0, 50.0, 95.0]
    # One heavy sample (a large task) outweighs many light ones.
    assert weighted_percentiles([10, 20, 30], [1, 1, 98], (50,)) == [30.0]
