"""JSON rendered column-wise: what comes out parses to what a dict and orjson would have made."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pytest

from streaming_platform import json_columns as jc
from streaming_platform.events import CONTRACT, PRODUCT_CATEGORIES
from streaming_platform.streaming.documents import customer_sources
from tests.doc_rows import CATS, CUSTOMER_WIDTH, FIRST, LAST, N_TYPES, REFUND, SPEND, customer_rows


@pytest.mark.parametrize(
    ("values", "text"),
    [([0, 5, 1205, -1205, -7, 10**12], ["0.00", "0.05", "12.05", "-12.05", "-0.07", "10000000000.00"])],
)
def test_cents_are_exact_two_digit_decimals(values: list[int], text: list[str]) -> None:
    assert jc.cents(np.array(values)).to_pylist() == text


def test_strings_are_quoted_and_escaped() -> None:
    hostile = ["plain", 'quote " and \\ backslash', "new\nline\ttab\x01", "ünïcødé ✓", ""]
    rendered = jc.rows(["[", jc.strings(hostile), "]"])
    assert [orjson.loads(r)[0] for r in rendered] == hostile


def test_zero_members_are_left_out_and_commas_stay_right() -> None:
    a, b = np.array([0, 3, 0, 2]), np.array([0, 0, 4, 5])
    rows = jc.rows(["{", jc.members([("a", a), ("b", b)]), "}"])
    assert [orjson.loads(r) for r in rows] == [{}, {"a": 3}, {"b": 4}, {"a": 2, "b": 5}]


def expected_customer(cid: str, location: str, r: list[int], batch_id: int, now_ms: int) -> dict:
    """The customer document spelled out field by field (the mapping's order)."""
    cats = r[CATS:]
    top = max(range(len(cats)), key=lambda i: (cats[i], -i))  # ties: the earlier category
    return {
        "customer_id": cid,
        "total_events": sum(r[:N_TYPES]),
        **{t.field: r[i] for i, t in enumerate(CONTRACT.event_types)},
        "spend_cents": r[SPEND],
        "spend": r[SPEND] / 100,
        "refund_cents": r[REFUND],
        "refund_amount": r[REFUND] / 100,
        "first_seen": r[FIRST],
        "last_seen": r[LAST],
        "last_location": location,
        "top_category": PRODUCT_CATEGORIES[top],
        "events_by_category": {c: n for c, n in zip(PRODUCT_CATEGORIES, cats, strict=True) if n},
        "contract_version": CONTRACT.version,
        "batch_id": batch_id,
        "updated_at": now_ms,
    }


def test_customer_sources_match_the_documents_field_by_field() -> None:
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 50, size=(500, CUSTOMER_WIDTH))
    rows[::7, CATS:] = 3  # all tied: the first category wins
    rows[::11, CATS + 1 :] = 0  # one category only
    ids = [f"c{i}" if i % 13 else f'odd "id" {i}\\' for i in range(len(rows))]
    locations = [["Vienna", "São Paulo", 'Q"uote'][i % 3] for i in range(len(rows))]
    sources = customer_sources(customer_rows(ids, locations, rows), 42, 1_790_000_000_000)
    for cid, loc, r, source in zip(ids, locations, rows.tolist(), sources, strict=True):
        doc = orjson.loads(source)
        assert doc == expected_customer(cid, loc, r, 42, 1_790_000_000_000)
        assert list(doc) == list(expected_customer(cid, loc, r, 0, 0))  # same field order
    assert customer_sources(customer_rows([], [], rows[:0]), 1, 0) == []


def test_a_category_the_contract_no_longer_lists_still_renders() -> None:
    rows = customer_rows(["c"], ["Rome"], np.zeros((1, CUSTOMER_WIDTH), np.int64))
    maps = pa.array([[("garden", 2), ("toys", 2)]], pa.map_(pa.string(), pa.int64()))
    rows = rows.set_column(rows.schema.get_field_index("by_category"), "by_category", maps)
    doc = orjson.loads(customer_sources(rows, 1, 0)[0])
    assert (doc["top_category"], doc["events_by_category"]) == ("toys", {"toys": 2, "garden": 2})
