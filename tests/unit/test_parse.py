"""The executors' inlined hot path gives exactly what the validation rules (the spec) give."""

from __future__ import annotations

import random

import numpy as np
import orjson

from streaming_platform.events import EVENT_TYPES, PRODUCT_CATEGORIES
from streaming_platform.producer import EventGenerator
from streaming_platform.streaming.parse import parse_records
from streaming_platform.streaming.state import hash_ids
from streaming_platform.validation import Limits, ValidEvent, validate

NOW = 1_714_564_800_000


def records(seed: int, n: int = 3000) -> list[bytes]:
    rng = random.Random(seed)
    gen = EventGenerator(customers=30, seed=seed, bad_fraction=0.3, start_ms=NOW - 60_000, step_ms=7)
    out = []
    odd = [None, "", "x", -1, 0, 2.5, 1e9, True, [], {}, "2024-05-01T12:00:00Z", "2030-01-01T00:00:00Z"]
    for (_, value, _), _ in zip(gen.records(), range(n), strict=False):
        if rng.random() < 0.3:
            try:
                doc = orjson.loads(value)
                if isinstance(doc, dict):
                    doc[rng.choice(list(doc) or ["x"])] = rng.choice(odd)
                    value = orjson.dumps(doc)
            except orjson.JSONDecodeError:
                pass
        out.append(value)
    return out


def test_hot_path_agrees_with_validate() -> None:
    limits = Limits()
    for seed in (1, 2, 3):
        values = records(seed)
        n = len(values)
        bad: list[dict] = []
        rb = parse_records("t", 7, limits, values, [None] * n, [0] * n, list(range(n)), [NOW] * n, bad)
        got = rb.to_pylist()
        by_offset = {d["offset"]: d["reasons"] for d in bad}
        for i, (value, row) in enumerate(zip(values, got, strict=True)):
            want = validate(value, NOW, limits)
            if isinstance(want, ValidEvent):
                assert row["reasons"] is None, value
                assert row["event_key"] == int(hash_ids(np.array([want.event_id], object))[0])
                assert row["event_ms"] == want.event_time_ms
                assert row["customer_id"] == want.customer_id
                assert EVENT_TYPES[row["event_type"]] == want.event_type
                assert PRODUCT_CATEGORIES[row["category"]] == want.product_category
                assert (row["amount_cents"], row["quantity"], row["location"]) == (
                    want.amount_cents,
                    want.quantity,
                    want.location,
                )
            else:
                assert row["reasons"] == ",".join(want), value
                assert by_offset[i] == want
        assert len(bad) == sum(r["reasons"] is not None for r in got)
