"""The driver state against the record-by-record reference model, and recovery from its files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import reference_model as ref

from streaming_platform.producer import EventGenerator
from streaming_platform.streaming.parse import ParseTask
from streaming_platform.streaming.sink import SinkConfig
from streaming_platform.streaming.state import Events, SeenIds, StateStore, StreamState
from streaming_platform.validation import Limits

NOW = 1_714_564_800_000
WINDOW, DELAY = 60_000, 120_000
SINK = SinkConfig("http://127.0.0.1:1", "", "", "127.0.0.1:1", "q", "dlq")


def make_records(n: int, seed: int, bad: float = 0.05) -> list[ref.KafkaRecord]:
    """Events over ~10 minutes of event time, some shuffled far back (late), some bad/duplicated."""
    gen = EventGenerator(customers=40, seed=seed, bad_fraction=bad, start_ms=NOW, step_ms=600_000 / n)
    rng = random.Random(seed)
    out, offsets = [], [0, 0, 0]
    for (key, value, _kind), _ in zip(gen.records(), range(n), strict=False):
        p = rng.randrange(3)
        if rng.random() < 0.03:  # an old event arriving late: rewrite its timestamp 5 minutes back
            value = value.replace(b'"timestamp":"2024-05-01T12:0', b'"timestamp":"2024-05-01T11:5', 1)
        out.append(ref.KafkaRecord(p, offsets[p], NOW + 700_000, value, key))
        offsets[p] += 1
    return out


def to_events(records: list[ref.KafkaRecord]) -> Events:
    rb = pa.RecordBatch.from_pydict(
        {
            "key": pa.array([r.key for r in records], pa.binary()),
            "value": pa.array([r.value for r in records], pa.binary()),
            "partition": pa.array([r.partition for r in records], pa.int32()),
            "offset": pa.array([r.offset for r in records], pa.int64()),
            "kafka_ms": pa.array([r.kafka_ms for r in records], pa.int64()),
        }
    )
    table = ParseTask("t", 0, Limits(), SINK)._parse(rb, [])
    return Events.from_arrow(table.filter(pc.is_null(table.column("reasons"))))


def split(records: list[ref.KafkaRecord], parts: int, seed: int) -> list[list[ref.KafkaRecord]]:
    cuts = sorted(random.Random(seed).sample(range(1, len(records)), parts - 1))
    return [records[a:b] for a, b in zip([0, *cuts], [*cuts, len(records)], strict=True)]


def docs(state: StreamState, indices) -> dict[str, dict]:
    return {cid: orjson.loads(source) for cid, source in state.customer_docs(indices, 0)}


def run(state: StreamState, batches: list[list[ref.KafkaRecord]], first_id: int = 0) -> dict:
    customers, windows, dups, late = {}, {}, 0, 0
    for i, batch in enumerate(batches):
        ev = to_events(batch)
        result = state.apply(first_id + i, ev)
        dups += len(result.duplicates)
        late += result.dropped_late
        customers.update(docs(state, result.delta["cust_idx"]))
        windows.update(state.window_docs(result.delta, first_id + i, 0))
    return {"customers": customers, "windows": windows, "dups": dups, "late": late}


def assert_matches(got: dict, exp: ref.Expected) -> None:
    assert set(got["customers"]) == set(exp.customers)
    for cid, doc in got["customers"].items():
        assert {k: doc[k] for k in ref.CUSTOMER_FIELDS} == {
            k: exp.customers[cid][k] for k in ref.CUSTOMER_FIELDS
        }
    want = {f"{ws}-{cat}": w for (ws, cat), w in exp.windows.items()}
    assert set(got["windows"]) == set(want)
    for wid, doc in got["windows"].items():
        assert {k: doc[k] for k in ref.WINDOW_FIELDS} == {k: want[wid][k] for k in ref.WINDOW_FIELDS}
    assert got["dups"] == sum(1 for r in exp.quarantine.values() if r == ["duplicate_event_id"])
    assert got["late"] == exp.dropped_late


@pytest.mark.parametrize(("seed", "parts"), [(1, 1), (2, 4), (3, 9)])
def test_state_matches_reference(seed: int, parts: int) -> None:
    records = make_records(3000, seed)
    batches = split(records, parts, seed)
    exp = ref.compute(batches, WINDOW, DELAY)
    assert exp.accepted > 2000
    if parts > 4:
        assert exp.dropped_late > 0  # the scenario does exercise the watermark
    assert_matches(run(StreamState(WINDOW, DELAY), batches), exp)


def test_recovery_replays_to_the_same_result(tmp_path: Path) -> None:
    records = make_records(3000, 7)
    batches = split(records, 12, 7)
    store = StateStore(tmp_path / "state", snapshot_every=4, snapshot_ratio=0)
    state = StreamState(WINDOW, DELAY)
    first = {"customers": {}, "windows": {}, "dups": 0, "late": 0}
    for i, batch in enumerate(batches[:8]):
        result = state.apply(i, to_events(batch))
        store.save(state, result.delta)
        first["dups"] += len(result.duplicates)
        first["late"] += result.dropped_late
        first["customers"].update(docs(state, result.delta["cust_idx"]))
        first["windows"].update(state.window_docs(result.delta, i, 0))
    # Crash after batch 8 was written and saved (a snapshot batch: older files pruned) but before
    # Spark committed it: Spark re-runs batch 8, the app restores the state after batch 7.
    store.save(state, state.apply(8, to_events(batches[8])).delta)
    restored = store.load(7, WINDOW, DELAY)
    store.discard_after(7)
    assert not (tmp_path / "state" / "delta-8.pkl").exists()
    rest = run(restored, batches[8:], first_id=8)
    merged = {
        "customers": {**first["customers"], **rest["customers"]},
        "windows": {**first["windows"], **rest["windows"]},
        "dups": first["dups"] + rest["dups"],
        "late": first["late"] + rest["late"],
    }
    assert_matches(merged, ref.compute(batches, WINDOW, DELAY))


def test_empty_batch_is_a_no_op() -> None:
    state = StreamState(WINDOW, DELAY)
    run(state, [make_records(200, 1, bad=0)])
    before = state.cust_rows.copy()
    result = state.apply(1, to_events([]))
    assert result.accepted == 0 and not result.delta["windows"]
    assert (state.cust_rows == before).all()
    assert state.batch_id == 1


def test_changed_window_settings_are_refused(tmp_path: Path) -> None:
    store = StateStore(tmp_path, snapshot_every=1)
    state = StreamState(WINDOW, DELAY)
    store.save(state, state.apply(0, to_events(make_records(50, 2, bad=0))).delta)
    with pytest.raises(RuntimeError, match="new checkpoint"):
        store.load(0, 2 * WINDOW, DELAY)


def test_seen_ids_answer_like_a_plain_dict_whatever_the_runs() -> None:
    """The dedup runs (a small LSM tree) against a dict id → latest accepted event time."""
    rng = np.random.default_rng(7)
    seen, plain = SeenIds(), {}
    watermark = 0
    for batch in range(300):
        h = rng.integers(0, 5_000, 200, dtype=np.int64)  # ids come back often
        t = rng.integers(watermark - 50, watermark + 400, 200, dtype=np.int64)
        want = np.array([plain.get(x, -(2**62)) >= watermark for x in h.tolist()])
        assert (seen.contains(h, watermark) == want).all(), batch
        new = np.unique(h[~want])  # accepted ids (first occurrence in the batch)
        times = {x: int(t[h == x].max()) for x in new.tolist()}
        for x, tx in times.items():
            if tx >= watermark:
                plain[x] = max(plain.get(x, tx), tx)
        keys = np.array(list(times), np.int64)
        seen.add(keys, np.array([times[x] for x in keys.tolist()], np.int64), watermark)
        watermark += rng.integers(0, 40)
        assert len(seen.runs) <= 2 + int(np.log2(batch + 2)) * 2
    live = sum(1 for tx in plain.values() if tx >= watermark)
    assert live <= len(seen)


def test_pending_customers_are_written_oldest_first_and_paced() -> None:
    state = StreamState(WINDOW, DELAY)
    batches = split(make_records(600, 4, bad=0), 3, 4)
    for i, batch in enumerate(batches):
        state.apply(i, to_events(batch), now_ms=1000 * i)
    touched = {int(i) for i in state.pending}
    assert touched == set(range(len(state.cust_ids)))  # every customer changed, none written yet
    order = list(state.pending.values())
    assert order == sorted(order)  # oldest change first
    n = len(state.pending)
    # A fifth of the interval elapsed: a fifth of them (rounded up); none has waited 10 s yet.
    assert state.customers_due(elapsed_ms=2000, interval_ms=10_000, now_ms=3000) == -(-n // 5)
    # Whoever has waited the whole interval is due, whatever the share.
    overdue = sum(1 for t in order if t <= 1000)
    assert state.customers_due(elapsed_ms=1, interval_ms=2000, now_ms=3000) == max(1, overdue)
    assert state.customers_due(elapsed_ms=1, interval_ms=0, now_ms=3000) == n  # interval 0: all
    oldest = list(state.pending)[:3]
    assert state.take_pending(3).tolist() == oldest
    assert len(state.pending) == n - 3 and not set(oldest) & set(state.pending)


def test_replay_restores_which_customers_still_wait(tmp_path: Path) -> None:
    """The customers written are recorded in the delta: snapshot + deltas give the same pending
    customers as the live state, so a restart writes exactly those that may be stale."""
    batches = split(make_records(2000, 9, bad=0), 10, 9)
    store = StateStore(tmp_path / "state", snapshot_every=4)
    state = StreamState(WINDOW, DELAY)
    for i, batch in enumerate(batches):
        result = state.apply(i, to_events(batch), now_ms=1000 * i)
        if i % 3 == 2 or i == len(batches) - 1:  # some batches write half the customers waiting
            result.delta["written"] = state.take_pending(len(state.pending) // 2)
        store.save(state, result.delta)
    assert 0 < len(state.pending) < len(state.cust_ids)
    restored = store.load(len(batches) - 1, WINDOW, DELAY)
    assert list(restored.pending.items()) == list(state.pending.items())


def test_snapshots_cost_about_as_much_as_the_deltas(tmp_path: Path) -> None:
    """A snapshot needs `snapshot_every` batches since the last one *and* deltas weighing as much as
    it: a big state (many dedup ids) is not rewritten every few small batches."""
    records = make_records(4000, 5, bad=0)
    batches = [records[:3000], *split(records[3000:], 50, 5)]  # a big state, then small batches
    store = StateStore(tmp_path, snapshot_every=3)
    state = StreamState(WINDOW, DELAY)
    made, weighed = [], 0
    for i, batch in enumerate(batches):
        result = state.apply(i, to_events(batch))
        snap = store.snapshot_if_due(state, [result.delta])
        store.save_prepared([result.delta], snap)
        if snap is not None:
            made.append(i)
            size, weighed = len(snap[1]), 0
        elif made:
            weighed += (tmp_path / f"delta-{i}.pkl").stat().st_size
            assert weighed < 2 * size  # never far more deltas than a snapshot's weight
    assert made[0] == 2  # the first: `snapshot_every` batches in (nothing to weigh yet)
    assert 2 <= len(made) <= 8, made  # then spaced by weight, not every 3 batches (17 would be)
    restored = StateStore(tmp_path).load(len(batches) - 1, WINDOW, DELAY)  # a restart reads them
    assert list(restored.pending.items()) == list(state.pending.items())
    assert (restored.cust_rows == state.cust_rows).all()
