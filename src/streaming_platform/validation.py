"""Validation rules of a customer event, as pure functions with stable reason codes.

One Kafka record is checked by :func:`validate`; it returns either a :class:`ValidEvent` (the
normalised values the app aggregates) or the list of every reason the record is invalid.
Reason codes are stable (the quarantine index, dashboards and tests key on them):

=============================  ============================================================
``oversized``                  value longer than ``validation.max.payload.bytes`` (not parsed)
``not_utf8``                   value is not valid UTF-8
``not_json``                   not a JSON document (also: empty or null value)
``not_object``                 JSON, but not an object
``missing_field:<f>``          required field absent or null
``wrong_type:<f>``             field of the wrong JSON type (e.g. ``"quantity": "2"``)
``bad_value:<f>``              identifier empty or longer than ``MAX_ID_LENGTH``
``unknown_event_type``         event_type not in :data:`~streaming_platform.events.EVENT_TYPES`
``unknown_product_category``   product_category not in ``PRODUCT_CATEGORIES``
``negative_amount``            amount < 0
``amount_out_of_range``        amount > ``validation.max.amount``
``negative_quantity``          quantity < 0
``quantity_out_of_range``      quantity > ``validation.max.quantity``
``bad_timestamp``              timestamp not ISO 8601 with a UTC offset
``future_timestamp``           timestamp later than the produce time + ``validation.max.future.seconds``
``duplicate_event_id``         event_id already accepted within the watermark (stateful: the
                               app decides it, see :mod:`streaming_platform.spark_job`)
=============================  ============================================================

"Future" is judged against the Kafka message timestamp (the produce time), not the wall clock,
so a replay of the same record is judged the same way: the result is a function of the record.
This module is plain Python on purpose: the Spark app runs it inside its Python workers (orjson
parses ~2 M events/s per core, far faster than a JVM ``from_json`` plus SQL checks here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from streaming_platform.config import Settings
from streaming_platform.events import (
    EVENT_TYPE_CODE,
    FIELDS,
    MAX_ID_LENGTH,
    PRODUCT_CATEGORIES,
)

NOT_UTF8 = "not_utf8"
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"
OVERSIZED = "oversized"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
UNKNOWN_CATEGORY = "unknown_product_category"
NEGATIVE_AMOUNT = "negative_amount"
AMOUNT_OUT_OF_RANGE = "amount_out_of_range"
NEGATIVE_QUANTITY = "negative_quantity"
QUANTITY_OUT_OF_RANGE = "quantity_out_of_range"
BAD_TIMESTAMP = "bad_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
DUPLICATE_EVENT_ID = "duplicate_event_id"


def missing(field: str) -> str:
    return f"missing_field:{field}"


def wrong_type(field: str) -> str:
    return f"wrong_type:{field}"


def bad_value(field: str) -> str:
    return f"bad_value:{field}"


@dataclass(frozen=True)
class Limits:
    """The configurable bounds (``validation.*`` options)."""

    max_amount: float = 100_000.0
    max_quantity: int = 1_000
    max_payload_bytes: int = 16_384
    max_future_seconds: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_amount=settings["validation.max.amount"],
            max_quantity=settings["validation.max.quantity"],
            max_payload_bytes=settings["validation.max.payload.bytes"],
            max_future_seconds=settings["validation.max.future.seconds"],
        )


class ValidEvent(NamedTuple):
    """A valid event, normalised: times in epoch milliseconds, money in integer cents."""

    event_id: str
    event_time_ms: int
    customer_id: str
    event_type: str
    product_category: str
    product_id: str
    amount_cents: int
    quantity: int
    location: str


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_CATEGORIES = frozenset(PRODUCT_CATEGORIES)
_ID_FIELDS = ("event_id", "customer_id", "product_id")


def parse_timestamp_ms(value: str) -> int | None:
    """Epoch milliseconds of an ISO 8601 timestamp with a UTC offset; None if not one."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a naive time is ambiguous: refuse rather than guess the zone
    return (parsed - _EPOCH) // _MS


def _type_ok(value: Any, kind: str) -> bool:
    # bool is a subclass of int in Python but not a number in the event contract.
    if kind == "string":
        return type(value) is str
    if kind == "integer":
        return type(value) is int
    return type(value) in (int, float)


def decode(raw: bytes | None, max_payload_bytes: int) -> tuple[Any, str | None]:
    """Parse the raw Kafka value; returns (document, None) or (None, reason)."""
    if raw is None or len(raw) == 0:
        return None, NOT_JSON
    if len(raw) > max_payload_bytes:
        return None, OVERSIZED
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError:
        # orjson also rejects invalid UTF-8; tell the two apart for the quarantine reason.
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, NOT_UTF8
        return None, NOT_JSON


def check_document(doc: Any, produced_ms: int, limits: Limits) -> ValidEvent | list[str]:
    """Check a parsed JSON document: a :class:`ValidEvent`, or every failing rule in field order.

    The fast path below accepts a valid event with one test per rule (~3x faster than the
    rule-by-rule walk); anything it does not accept goes through :func:`_reasons`, which is the
    specification and reports every failing rule.
    """
    if type(doc) is not dict:
        return [NOT_OBJECT]
    g = doc.get
    eid, ts, cid, et, cat = (
        g("event_id"),
        g("timestamp"),
        g("customer_id"),
        g("event_type"),
        g("product_category"),
    )
    pid, amt, qty, loc = g("product_id"), g("amount"), g("quantity"), g("location")
    if (
        type(eid) is str
        and type(cid) is str
        and type(pid) is str
        and type(loc) is str
        and type(ts) is str
        and 0 < len(eid) <= MAX_ID_LENGTH
        and 0 < len(cid) <= MAX_ID_LENGTH
        and 0 < len(pid) <= MAX_ID_LENGTH
        and type(et) is str
        and et in EVENT_TYPE_CODE
        and type(cat) is str
        and cat in _CATEGORIES
        and (type(amt) is float or type(amt) is int)
        and 0 <= amt <= limits.max_amount
        and type(qty) is int
        and 0 <= qty <= limits.max_quantity
    ):
        event_ms = parse_timestamp_ms(ts)
        if event_ms is not None and event_ms <= produced_ms + limits.max_future_seconds * 1000:
            return ValidEvent(eid, event_ms, cid, et, cat, pid, round(amt * 100), qty, loc)
    return _reasons(doc, produced_ms, limits)


def _reasons(doc: dict[str, Any], produced_ms: int, limits: Limits) -> ValidEvent | list[str]:
    """Every rule, one by one, in field order (the reference the fast path must agree with)."""
    reasons: list[str] = []
    for name, kind in FIELDS:
        value = doc.get(name)
        if value is None:
            reasons.append(missing(name))
        elif not _type_ok(value, kind):
            reasons.append(wrong_type(name))
    bad = set(r.split(":", 1)[1] for r in reasons)
    for name in _ID_FIELDS:
        if name not in bad and not 0 < len(doc[name]) <= MAX_ID_LENGTH:
            reasons.append(bad_value(name))
    if "event_type" not in bad and doc["event_type"] not in EVENT_TYPE_CODE:
        reasons.append(UNKNOWN_EVENT_TYPE)
    if "product_category" not in bad and doc["product_category"] not in _CATEGORIES:
        reasons.append(UNKNOWN_CATEGORY)
    if "amount" not in bad:
        if doc["amount"] < 0:
            reasons.append(NEGATIVE_AMOUNT)
        elif doc["amount"] > limits.max_amount:
            reasons.append(AMOUNT_OUT_OF_RANGE)
    if "quantity" not in bad:
        if doc["quantity"] < 0:
            reasons.append(NEGATIVE_QUANTITY)
        elif doc["quantity"] > limits.max_quantity:
            reasons.append(QUANTITY_OUT_OF_RANGE)
    event_ms = None
    if "timestamp" not in bad:
        event_ms = parse_timestamp_ms(doc["timestamp"])
        if event_ms is None:
            reasons.append(BAD_TIMESTAMP)
        elif event_ms > produced_ms + limits.max_future_seconds * 1000:
            reasons.append(FUTURE_TIMESTAMP)
    if reasons or event_ms is None:
        return reasons
    return ValidEvent(
        doc["event_id"],
        event_ms,
        doc["customer_id"],
        doc["event_type"],
        doc["product_category"],
        doc["product_id"],
        round(doc["amount"] * 100),
        doc["quantity"],
        doc["location"],
    )


def validate(raw: bytes | None, produced_ms: int, limits: Limits) -> ValidEvent | list[str]:
    """Validate one Kafka record value; ``produced_ms`` is its Kafka timestamp (epoch ms)."""
    doc, reason = decode(raw, limits.max_payload_bytes)
    if reason is not None:
        return [reason]
    return check_document(doc, produced_ms, limits)
