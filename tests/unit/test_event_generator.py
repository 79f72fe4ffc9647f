"""The event generator: seeded, unique ids across blocks, clock-following timestamps, exact amounts."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from itertools import islice

import orjson
import pytest

from streaming_platform.producer import PRICES, EventGenerator

START = 1_790_000_000_000


def take(gen: EventGenerator, n: int) -> list[tuple[bytes | None, bytes, str]]:
    return list(islice(gen.records(), n))


def test_same_seed_same_records_other_seed_others() -> None:
    def make(seed: int) -> EventGenerator:
        return EventGenerator(customers=9, seed=seed, bad_fraction=0.1, start_ms=START, run_id="r", block=64)

    assert take(make(1), 500) == take(make(1), 500)
    assert take(make(1), 500) != take(make(2), 500)


def test_event_ids_are_unique_across_blocks_and_bad_records() -> None:
    records = take(EventGenerator(customers=20, seed=3, bad_fraction=0.2, block=50), 1_000)
    ids = [orjson.loads(v)["event_id"] for _, v, kind in records if kind == "valid"]
    assert len(ids) == len(set(ids)) > 700
    assert ids == sorted(ids)  # one sequence, in order


def test_fixed_start_timestamps_advance_one_step_per_record() -> None:
    records = take(EventGenerator(customers=5, seed=1, start_ms=START, step_ms=10, block=8), 30)
    for i, (_, value, _) in enumerate(records, start=1):
        ts = datetime.fromisoformat(orjson.loads(value)["timestamp"])
        assert int(ts.timestamp() * 1000) == START + 10 * i


def test_timestamps_follow_the_clock_when_taken_not_when_drawn() -> None:
    records = EventGenerator(customers=5, seed=1).records()  # one block of 4,096 drawn at once
    first = orjson.loads(next(records)[1])["timestamp"]
    time.sleep(0.05)
    second = orjson.loads(next(records)[1])["timestamp"]
    gap = datetime.fromisoformat(second) - datetime.fromisoformat(first)
    assert gap.total_seconds() >= 0.05


def test_amounts_are_exact_cents_within_the_category_prices() -> None:
    for key, value, _ in take(EventGenerator(customers=50, seed=5, block=256), 2_000):
        ev = orjson.loads(value)
        assert key == ev["customer_id"].encode()
        assert '"amount":' in value.decode() and isinstance(ev["amount"], float)
        cents = round(ev["amount"] * 100)
        assert abs(ev["amount"] * 100 - cents) < 1e-6  # two decimals at most
        if ev["event_type"] == "view":
            assert (ev["amount"], ev["quantity"]) == (0.0, 1)
            continue
        low, high = PRICES[ev["product_category"]]
        assert 1 <= ev["quantity"] <= 4
        assert low * ev["quantity"] - 0.01 <= ev["amount"] <= high * ev["quantity"] + 0.01


@pytest.mark.parametrize(
    ("mix", "categories"),
    [({"view": 1.0}, {"books": 1.0}), ({"view": 3, "purchase": 1}, {"toys": 0.0, "home": 2, "fashion": 2})],
)
def test_mix_and_category_weights_are_followed(mix: dict, categories: dict) -> None:
    n = 8_000
    events = [orjson.loads(v) for _, v, _ in take(EventGenerator(seed=2, mix=mix, categories=categories), n)]
    for field, weights in (("event_type", mix), ("product_category", categories)):
        counts = Counter(e[field] for e in events)
        total = sum(weights.values())
        for name, weight in weights.items():
            assert abs(counts[name] / n - weight / total) < 0.03, (field, name, counts)
        assert set(counts) <= {k for k, w in weights.items() if w > 0}
