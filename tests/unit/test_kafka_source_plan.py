"""How a micro-batch's offset ranges are cut into Spark tasks (pure planning, no Kafka)."""

from __future__ import annotations

from streaming_platform.streaming.kafka_source import plan_ranges


def covered(plan: list) -> list[tuple[int, int]]:
    return sorted((p, o) for r in plan for p, s, e in r.segments for o in range(s, e))


def test_equal_shares_cover_every_offset_once() -> None:
    start = {"0": 10, "1": 0, "2": 5}
    end = {"0": 110, "1": 70, "2": 65}
    plan = plan_ranges(start, end, tasks=2, min_records=10)
    assert len(plan) == 2
    sizes = [sum(e - s for _, s, e in r.segments) for r in plan]
    assert sizes == [115, 115]
    want = sorted((int(p), o) for p in end for o in range(start[p], end[p]))
    assert covered(plan) == want


def test_small_batches_are_not_split_and_empty_ones_have_no_task() -> None:
    assert len(plan_ranges({"0": 0, "1": 0}, {"0": 30, "1": 30}, tasks=4, min_records=100)) == 1
    assert plan_ranges({"0": 5}, {"0": 5}, tasks=2, min_records=1) == []


def test_a_new_partition_is_read_from_zero() -> None:
    plan = plan_ranges({"0": 3}, {"0": 3, "1": 4}, tasks=2, min_records=1)
    assert covered(plan) == [(1, 0), (1, 1), (1, 2), (1, 3)]
