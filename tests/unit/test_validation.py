"""The validation rules: one reason code per broken rule, every reason reported, fast path = spec."""

from __future__ import annotations

import random

import orjson
import pytest

from streaming_platform import validation as v
from streaming_platform.producer import BAD_KINDS, EventGenerator
from streaming_platform.validation import Limits, ValidEvent, check_document, validate

NOW = 1_714_564_800_000  # 2024-05-01T12:00:00Z
GOOD = {
    "event_id": "e-1",
    "timestamp": "2024-05-01T11:59:59.250+00:00",
    "customer_id": "c0000001",
    "event_type": "purchase",
    "product_category": "books",
    "product_id": "p-books-0001",
    "amount": 19.99,
    "quantity": 2,
    "location": "Rome",
}
# What the producer's bad kinds must be quarantined for (duplicates are decided by the app).
EXPECTED_REASON = {
    "not_json": ["not_json"],
    "not_object": ["not_object"],
    "missing_field": ["missing_field:amount"],
    "null_field": ["missing_field:location"],
    "wrong_type": ["wrong_type:quantity"],
    "bad_value": ["bad_value:product_id"],
    "unknown_event_type": ["unknown_event_type"],
    "unknown_product_category": ["unknown_product_category"],
    "negative_amount": ["negative_amount"],
    "amount_out_of_range": ["amount_out_of_range"],
    "negative_quantity": ["negative_quantity"],
    "quantity_out_of_range": ["quantity_out_of_range"],
    "bad_timestamp": ["bad_timestamp"],
    "future_timestamp": ["future_timestamp"],
    "oversized": ["oversized"],
    "not_utf8": ["not_utf8"],
}


def check(doc: dict, **limits: object) -> ValidEvent | list[str]:
    return validate(orjson.dumps(doc), NOW, Limits(**limits))  # type: ignore[arg-type]


def test_valid_event_is_normalised() -> None:
    ev = check(GOOD)
    assert isinstance(ev, ValidEvent)
    assert ev.event_time_ms == NOW - 750
    assert ev.amount_cents == 1999
    assert ev.quantity == 2


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "not_json"),
        (b"", "not_json"),
        (b"{nope", "not_json"),
        (b"null", "not_object"),
        (b"[1, 2]", "not_object"),
        (b'"text"', "not_object"),
        (b'{"a": "\xff"}', "not_utf8"),
        (b'{"a": "' + b"x" * 20_000 + b'"}', "oversized"),
    ],
)
def test_undecodable_records(raw: bytes | None, reason: str) -> None:
    assert validate(raw, NOW, Limits()) == [reason]


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({"amount": None}, ["missing_field:amount"]),
        ({"quantity": "2"}, ["wrong_type:quantity"]),
        ({"quantity": 2.0}, ["wrong_type:quantity"]),
        ({"quantity": True}, ["wrong_type:quantity"]),
        ({"amount": True}, ["wrong_type:amount"]),
        ({"amount": "19.99"}, ["wrong_type:amount"]),
        ({"event_id": ""}, ["bad_value:event_id"]),
        ({"customer_id": "c" * 129}, ["bad_value:customer_id"]),
        ({"event_type": "wishlist"}, ["unknown_event_type"]),
        ({"event_type": ["view"]}, ["wrong_type:event_type"]),
        ({"product_category": "weapons"}, ["unknown_product_category"]),
        ({"amount": -0.01}, ["negative_amount"]),
        ({"amount": 100_000.01}, ["amount_out_of_range"]),
        ({"quantity": -1}, ["negative_quantity"]),
        ({"quantity": 1001}, ["quantity_out_of_range"]),
        ({"timestamp": "2024-05-01 12:00"}, ["bad_timestamp"]),  # no UTC offset
        ({"timestamp": "yesterday"}, ["bad_timestamp"]),
        ({"timestamp": 1714564800}, ["wrong_type:timestamp"]),
        ({"timestamp": "2024-05-01T12:05:00.001Z"}, ["future_timestamp"]),
    ],
)
def test_one_broken_rule_one_reason(change: dict, reasons: list[str]) -> None:
    assert check({**GOOD, **change}) == reasons


def test_boundaries_are_inclusive() -> None:
    assert isinstance(check({**GOOD, "amount": 100_000, "quantity": 1000}), ValidEvent)
    assert isinstance(check({**GOOD, "amount": 0, "quantity": 0}), ValidEvent)
    assert isinstance(check({**GOOD, "timestamp": "2024-05-01T12:05:00Z"}), ValidEvent)
    assert check({**GOOD, "amount": 5.0}, max_amount=4.0) == ["amount_out_of_range"]


def test_every_reason_is_reported_in_field_order() -> None:
    doc = {**GOOD, "customer_id": 7, "event_type": "x", "amount": -1, "quantity": None}
    del doc["location"]
    assert check(doc) == [
        "wrong_type:customer_id",
        "missing_field:quantity",
        "missing_field:location",
        "unknown_event_type",
        "negative_amount",
    ]


def test_extra_fields_are_allowed() -> None:
    assert isinstance(check({**GOOD, "coupon": "X"}), ValidEvent)


def test_fast_path_agrees_with_rule_by_rule_check() -> None:
    rng = random.Random(3)
    values = [
        None,
        "",
        "x",
        "view",
        "purchase",
        "books",
        -1,
        0,
        5,
        2.5,
        1e9,
        True,
        [],
        {},
        "2024-05-01T12:00:00Z",
    ]
    for _ in range(5000):
        doc = dict(GOOD)
        for name in rng.sample(list(GOOD), rng.randint(0, 3)):
            doc[name] = rng.choice(values)
        assert check_document(doc, NOW, Limits()) == v._reasons(doc, NOW, Limits()), doc


def test_producer_bad_kinds_get_their_reason() -> None:
    gen = EventGenerator(customers=50, seed=1, bad_fraction=0.5, start_ms=NOW - 60_000)
    seen = set()
    for _, value, kind in (r for r, _ in zip(gen.records(), range(2000), strict=False)):
        if kind == "valid":
            assert isinstance(validate(value, NOW, Limits()), ValidEvent)
        elif kind != "duplicate_event_id":
            assert validate(value, NOW, Limits()) == EXPECTED_REASON[kind], (kind, value[:200])
        seen.add(kind)
    assert seen == {"valid", *BAD_KINDS}
