"""Both executor paths (the vectorised fast path and the inlined loop) give exactly what the
validation rules (the spec) give, record by record — also for input crafted to tell them apart."""

from __future__ import annotations

import random

import numpy as np
import orjson
import pyarrow as pa
import pytest

from streaming_platform.events import EVENT_TYPES
from streaming_platform.producer import EventGenerator
from streaming_platform.streaming import parse
from streaming_platform.streaming.parse import (
    Chunk,
    Sources,
    hash_ids,
    parse_chunk,
    parse_records,
    screen,
    vector_accept,
)
from streaming_platform.validation import Limits, ValidEvent, position_id, validate

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


VALID = orjson.loads(next(EventGenerator(customers=3, seed=1, start_ms=NOW - 1000).records())[1])


def with_raw(field: str, raw: bytes) -> bytes:
    """VALID with the JSON text of one field replaced by ``raw`` (which may not be JSON at all)."""
    return orjson.dumps({**VALID, field: "@@"}).replace(b'"@@"', raw)


# Records on which Arrow's JSON reader and orjson (the spec's parser) could disagree.
HOSTILE = [
    b"null",
    b"null\n" + orjson.dumps(VALID),
    orjson.dumps(VALID) + b" null",
    orjson.dumps(VALID) + b"\n" + orjson.dumps(VALID),
    orjson.dumps(VALID) + b" " + orjson.dumps(VALID),
    orjson.dumps(VALID)[:-1] + b',"x":NaN}',
    orjson.dumps(VALID)[:-1] + b',"x":-Infinity}',
    orjson.dumps(VALID)[:-1] + b',"x":' + b"[" * 2000 + b"]" * 2000 + b"}",
    orjson.dumps(VALID)[:-1] + b',"x":123456789012345678901234567890}',
    orjson.dumps(VALID)[:-1] + b',"event_id":"other"}',  # duplicate key: the last one counts
    orjson.dumps(VALID)[:-1] + b',"\\u0065vent_id":"other"}',  # the same key, escaped
    with_raw("amount", b"NaN"),
    with_raw("amount", b"Infinity"),
    with_raw("amount", b"true"),
    with_raw("amount", b'"12.5"'),
    with_raw("amount", b"1e400"),
    with_raw("quantity", b"1.0"),
    with_raw("quantity", b"01"),
    with_raw("quantity", b"99999999999999999999"),
    with_raw("customer_id", b"17"),
    with_raw("customer_id", b"null"),
    with_raw("location", b'"\t"'),
    with_raw("location", b'"\xff"'),
    with_raw("location", b'"\\ud800"'),
    with_raw("location", b'"Z\\u00fcrich"'),
    with_raw("location", b'"x\\u0000y"'),
    with_raw("timestamp", b'"2024-05-01T12:00:00"'),
    with_raw("timestamp", b'"2099-05-01T12:00:00Z"'),
    with_raw("event_type", b'"VIEW"'),
    b"\xef\xbb\xbf" + orjson.dumps(VALID),
    b"  " + orjson.dumps(VALID) + b"  ",
    b"{}",
    orjson.dumps(VALID).replace(b",", b"\n,"),  # newlines between tokens: valid JSON
    orjson.dumps(VALID).replace(b'"amount"', b'"am\nount"'),
    orjson.dumps({**VALID, "note": "x" * 900}),  # valid, but longer than the fast path takes
    # Timestamps datetime.fromisoformat takes and RFC 3339 does not.
    with_raw("timestamp", b'"20240501T120000Z"'),
    with_raw("timestamp", b'"2024-W18-3T12:00:00Z"'),
    with_raw("timestamp", b'"2024-05-01 12:00:00Z"'),
    with_raw("timestamp", b'"2024-05-01T12:00:00+23:59"'),
    with_raw("timestamp", b'"2024-05-01T12:00:00+0100"'),
    with_raw("timestamp", b'"2024-05-01T12:00:00Z\\n"'),
    with_raw("timestamp", b'"\\uff12024-05-01T12:00:00Z"'),
    with_raw("timestamp", b'"2024-05-01T12:00:00.123456789+14:00"'),  # valid
    # Ids of whitespace, control or invisible characters; ids beyond ASCII (valid).
    with_raw("customer_id", b'" "'),
    with_raw("customer_id", b'"\\u00a0"'),
    with_raw("customer_id", b'"\\u0000"'),
    with_raw("customer_id", b'"c\\u200b"'),
    with_raw("customer_id", b'"Z\\u00fcrich"'),
    with_raw("customer_id", '"Zürich"'.encode()),
    with_raw("event_id", b'"\\t\\n"'),
    with_raw("event_id", b'"e\\u007f"'),
    with_raw("event_id", b'"e 1"'),
    with_raw("product_id", b'"\\u001b[31mred"'),
    with_raw("product_id", b'"\\u202ep"'),
    # Location: capped in characters, not bytes.
    orjson.dumps({**VALID, "location": "x" * 256}),
    orjson.dumps({**VALID, "location": "x" * 257}),
    orjson.dumps({**VALID, "location": "\u00fc" * 256}),
    orjson.dumps({**VALID, "location": "\u00fc" * 257}),
    # Categories the contract normalises (trim, case-fold) or refuses; events without an id.
    with_raw("product_category", b'" Books\t"'),
    with_raw("product_category", b'"BOOKS"'),
    with_raw("product_category", b'"\u0042ooks"'),
    with_raw("product_category", b'"\u00a0books"'),
    with_raw("product_category", b'"b\u00f6oks"'),
    with_raw("product_category", b'"\u1e9ee"'),
    with_raw("product_category", b'"b o o k s"'),
    with_raw("event_id", b"null"),
    orjson.dumps({k: v for k, v in VALID.items() if k != "event_id"}),
    b"",
    b"   ",
    None,
]


@pytest.fixture(autouse=True)
def fast_path_on() -> None:
    """Each test starts with the fast path enabled (it switches off after a dirty chunk)."""
    parse.RECENT.invalid_share = 0.0


def check_against_spec(values: list[bytes | None], got: list[dict], bad: list[dict], limits: Limits) -> None:
    """Every row (keyed by offset = position) is what validate() says of its record."""
    by_offset = {d["offset"]: d["reasons"] for d in bad}
    rows = {row["offset"]: row for row in got}
    assert sorted(rows) == list(range(len(values)))
    for i, value in enumerate(values):
        row = rows[i]
        want = validate(value, NOW, limits)
        if isinstance(want, ValidEvent):
            assert row["reasons"] is None, value
            eid = want.event_id or position_id("t", row["partition"], row["offset"])
            assert row["event_key"] == int(hash_ids(np.array([eid], object))[0])
            assert row["event_ms"] == want.event_time_ms
            assert row["customer_id"] == want.customer_id
            assert EVENT_TYPES[row["event_type"]] == want.event_type
            assert row["category"] == want.product_category
            assert (row["amount_cents"], row["quantity"], row["location"]) == (
                want.amount_cents,
                want.quantity,
                want.location,
            ), value
        else:
            assert row["reasons"] == ",".join(want), value
            assert by_offset[i] == want
    assert len(bad) == sum(r["reasons"] is not None for r in got)


def chunk_of(values: list[bytes | None]) -> Chunk:
    n = len(values)
    return Chunk(
        pa.array(values, pa.binary()),
        pa.nulls(n, pa.binary()),
        pa.array([0] * n, pa.int32()),
        pa.array(range(n), pa.int64()),
        pa.array([NOW] * n, pa.int64()),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_record_loop_agrees_with_validate(seed: int) -> None:
    values, limits, bad = records(seed), Limits(), []
    n = len(values)
    rb = parse_records(Sources("t"), limits, values, [None] * n, [0] * n, list(range(n)), [NOW] * n, bad)
    check_against_spec(values, rb.to_pylist(), bad, limits)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_and_fallback_agree_with_validate(seed: int) -> None:
    rng = random.Random(seed)
    values = records(seed) + HOSTILE
    rng.shuffle(values)
    limits, bad = Limits(), []
    got = parse_chunk(Sources("t"), limits, chunk_of(values), bad).to_pylist()
    check_against_spec(values, got, bad, limits)


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_record_alone_and_among_valid_ones(value: bytes | None) -> None:
    """First in the reader's buffer, and in the middle of a block of valid records."""
    clean = [r for r in records(9, 200) if isinstance(validate(r, NOW, Limits()), ValidEvent)][:64]
    for values in ([value], [*clean[:32], value, *clean[32:]]):
        parse.RECENT.invalid_share = 0.0
        bad: list[dict] = []
        got = parse_chunk(Sources("t"), Limits(), chunk_of(values), bad).to_pylist()
        check_against_spec(values, got, bad, Limits())


def test_fast_path_takes_every_clean_event_and_only_valid_ones() -> None:
    """The point of the fast path: well-formed producer output never goes record by record."""
    gen = EventGenerator(customers=50, seed=4, start_ms=NOW - 60_000, step_ms=3).records()
    values = [next(gen)[1] for _ in range(2000)]
    idx, table = vector_accept(Sources("t"), chunk_of(values), Limits())
    assert len(idx) == len(values) == table.num_rows
    mixed = records(5)
    idx, _ = vector_accept(Sources("t"), chunk_of(mixed), Limits())
    assert 0 < len(idx) < len(mixed)
    assert all(isinstance(validate(mixed[i], NOW, Limits()), ValidEvent) for i in idx)


def test_screen_keeps_what_arrow_could_read_differently_away() -> None:
    keep = screen(pa.array(HOSTILE, pa.binary()), Limits().max_payload_bytes)
    kept = {HOSTILE[i] for i in np.flatnonzero(keep)}
    assert b"null" not in kept and None not in kept and b"" not in kept
    assert not any(b"NaN" in v or b"Infinity" in v or v.startswith(b"\xef") for v in kept)
    assert orjson.dumps(VALID)[:-1] + b',"x":' + b"[" * 2000 + b"]" * 2000 + b"}" not in kept
    assert with_raw("location", b'"\xff"') not in kept
    assert with_raw("location", b'"Z\\u00fcrich"') in kept


def test_dirty_stream_goes_record_by_record_until_it_is_clean_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = parse.vector_accept
    monkeypatch.setattr(
        parse, "vector_accept", lambda topic, chunk, limits: calls.append(1) or real(topic, chunk, limits)
    )
    monkeypatch.setattr(parse, "RECENT", parse._Recent())
    dirty = records(6)  # ~30 % bad
    gen = EventGenerator(customers=5, seed=8, start_ms=NOW - 60_000, step_ms=3).records()
    clean = [next(gen)[1] for _ in range(500)]
    limits = Limits()
    for values, fast_tried in ((dirty, True), (dirty, False), (clean, False), (clean, True)):
        before, bad = len(calls), []
        got = parse_chunk(Sources("t"), limits, chunk_of(values), bad).to_pylist()
        assert (len(calls) > before) == fast_tried
        check_against_spec(values, got, bad, limits)
