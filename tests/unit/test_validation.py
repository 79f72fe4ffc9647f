"""The validation rules: one reason code per broken rule, every reason reported, fast path = spec."""

from __future__ import annotations

import random

import orjson
import pytest

from streaming_platform import validation as v
from streaming_platform.events import FIELDS, MAX_LENGTH, MAX_LOCATION_LENGTH
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
        ({"timestamp": "2024-05-01T12:00:00"}, ["bad_timestamp"]),  # no UTC offset
        ({"timestamp": "yesterday"}, ["bad_timestamp"]),
        ({"timestamp": 1714564800}, ["wrong_type:timestamp"]),
        ({"timestamp": "2024-05-01T12:05:00.001Z"}, ["future_timestamp"]),
    ],
)
def test_one_broken_rule_one_reason(change: dict, reasons: list[str]) -> None:
    assert check({**GOOD, **change}) == reasons


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01T11:59:59.250+00:00",
        "2024-05-01T11:59:59.2Z",
        "2024-05-01T11:59:59.123456789Z",  # nanoseconds: floored to the millisecond
        "2024-05-01T13:59:59+02:00",
        "2024-05-01T06:29:59.5-05:30",
        "2024-05-02T01:59:59+14:00",  # the widest real offset (Line Islands)
        "2024-04-30T22:00:00-14:00",
        "2024-05-01T12:00:00-00:00",  # RFC 3339: UTC, local offset unknown
        "2024-02-29T00:00:00Z",
    ],
)
def test_rfc3339_timestamps_are_accepted(timestamp: str) -> None:
    assert isinstance(check({**GOOD, "timestamp": timestamp}), ValidEvent)


def test_rfc3339_fraction_and_offset_are_applied() -> None:
    assert v.parse_timestamp_ms("2024-05-01T12:00:00.123456789Z") == NOW + 123
    assert v.parse_timestamp_ms("2024-05-01T14:00:00.5+02:00") == NOW + 500
    assert v.parse_timestamp_ms("2024-05-01T06:30:00-05:30") == NOW
    assert v.parse_timestamp_ms("1969-12-31T23:59:59.999Z") == -1


@pytest.mark.parametrize(
    "timestamp",
    [
        "20240501T120000Z",  # ISO 8601 basic format
        "2024-W18-3T12:00:00Z",  # week date
        "2024-122T12:00:00Z",  # ordinal date
        "2024-05-01 12:00:00Z",  # space separator
        "2024-05-01t12:00:00z",  # lower case
        "2024-05-01T12:00Z",  # no seconds
        "2024-05-01T12Z",
        "2024-05-01T12:00:00",  # no offset: ambiguous
        "2024-05-01",
        "2024-05-01T12:00:00,5Z",  # comma decimal sign
        "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00.1234567891Z",  # beyond nanoseconds
        "2024-05-01T12:00:00+0100",  # offset without colon
        "2024-05-01T12:00:00+01",
        "2024-05-01T12:00:00+01:00:30",  # seconds in the offset
        "2024-05-01T12:00:00+23:59",  # no such zone
        "2024-05-01T12:00:00+14:01",
        "2024-05-01T12:00:00-15:00",
        "2024-05-01T12:00:00+01:60",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:60:00Z",
        "2024-05-01T12:00:60Z",  # leap second: not representable
        "2024-02-30T12:00:00Z",
        "2023-02-29T12:00:00Z",
        "2024-13-01T12:00:00Z",
        "0000-01-01T00:00:00Z",
        "+2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00Z\n",  # a trailing newline ($ would let it through)
        " 2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00 Z",
        "\uff12\uff10\uff12\uff14-05-01T12:00:00Z",  # full-width digits
        "\u0662\u0660\u0662\u0664-05-01T12:00:00Z",  # Arabic-Indic digits
        "",
    ],
)
def test_only_strict_rfc3339_timestamps(timestamp: str) -> None:
    assert check({**GOOD, "timestamp": timestamp}) == ["bad_timestamp"]
    assert v.parse_timestamp_ms(timestamp) is None


@pytest.mark.parametrize("name", ["event_id", "customer_id", "product_id"])
@pytest.mark.parametrize(
    "value",
    [
        " ",
        "   ",
        "\t",
        "\n",
        "\u00a0",  # no-break space
        "\u3000",  # ideographic space
        "\u2003\u2003",
        "c1\x00",
        "c\x07",
        "\x1b[31mred",  # terminal escape
        "c\x7f",
        "c\x85",  # C1 next line
        "c\u200b",  # zero-width space: prints like "c"
        "c\ufeff",
        "\u202eevil",  # right-to-left override
        "c\u2028",
        "c" * 129,
        "",
    ],
)
def test_blank_control_or_long_ids_are_bad_values(name: str, value: str) -> None:
    assert check({**GOOD, name: value}) == [f"bad_value:{name}"]


@pytest.mark.parametrize("value", ["c 1", " c1", "Zürich-7", "\u4e2d\u6587", "x" * 128, "\U0001f600"])
def test_ids_with_inner_spaces_or_letters_beyond_ascii_are_fine(value: str) -> None:
    assert isinstance(check({**GOOD, "customer_id": value}), ValidEvent)


def test_location_is_capped() -> None:
    assert isinstance(check({**GOOD, "location": "x" * MAX_LOCATION_LENGTH}), ValidEvent)
    assert isinstance(check({**GOOD, "location": ""}), ValidEvent)
    assert check({**GOOD, "location": "x" * (MAX_LOCATION_LENGTH + 1)}) == ["bad_value:location"]
    assert check({**GOOD, "location": "\u00fc" * (MAX_LOCATION_LENGTH + 1)}) == ["bad_value:location"]


def test_every_string_field_is_bounded() -> None:
    """Free-text fields by a cap; the others by their value set or grammar (none is unbounded)."""
    strings = {name for name, kind in FIELDS if kind == "string"}
    assert strings == {*MAX_LENGTH, "event_type", "product_category", "timestamp"}
    for name, cap in MAX_LENGTH.items():
        assert check({**GOOD, name: "y" * (cap + 1)}) == [f"bad_value:{name}"]
    for name in ("event_type", "product_category"):
        assert check({**GOOD, name: "view" * 1000}) == [f"unknown_{name}"]
    assert check({**GOOD, "timestamp": "2024-05-01T12:00:00." + "0" * 1000 + "Z"}) == ["bad_timestamp"]


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
        "20240501T120000Z",
        " ",
        "c\x00",
        "\u00e9",
        "x" * 300,
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


# The seed README's sample event, as it stands.
SEED_SAMPLE = (
    b'{"timestamp": "2024-01-15T10:30:00Z", "customer_id": "cust_001", "event_type": "purchase", '
    b'"product_category": "Electronics", "product_id": "prod_laptop_001", "amount": 999.99, '
    b'"quantity": 1, "location": "New York"}'
)


def test_the_seed_sample_is_accepted_verbatim_and_with_a_current_timestamp() -> None:
    ev = validate(SEED_SAMPLE, NOW, Limits())
    assert isinstance(ev, ValidEvent)
    assert ev.event_id is None  # its id is its Kafka position (position_id)
    assert ev.product_category == "electronics"  # the contract's canonical form
    assert (ev.amount_cents, ev.quantity) == (99999, 1)
    current = orjson.loads(SEED_SAMPLE) | {"timestamp": "2024-05-01T11:59:00Z"}
    assert isinstance(validate(orjson.dumps(current), NOW, Limits()), ValidEvent)


@pytest.mark.parametrize("raw", ["Books", " books ", "BOOKS", "\tBoOkS\n"])
def test_categories_are_normalised_by_the_contract(raw: str) -> None:
    ev = check({**GOOD, "product_category": raw})
    assert isinstance(ev, ValidEvent) and ev.product_category == "books"


@pytest.mark.parametrize("raw", ["book", "b ooks", "", "electronics2"])
def test_categories_outside_the_list_are_quarantined(raw: str) -> None:
    assert check({**GOOD, "product_category": raw}) == ["unknown_product_category"]


def test_event_id_is_optional_but_checked_when_given() -> None:
    assert isinstance(check({k: x for k, x in GOOD.items() if k != "event_id"}), ValidEvent)
    assert isinstance(check({**GOOD, "event_id": None}), ValidEvent)
    assert check({**GOOD, "event_id": 7}) == ["wrong_type:event_id"]
    assert v.position_id("t", 1, 2) != v.position_id("t", 12, 0)
    assert not v.id_ok(v.position_id("t", 1, 2))  # no event_id can equal a position id
