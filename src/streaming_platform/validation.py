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
``bad_value:<f>``              an id (rule ``id``) empty, whitespace only, holding a control or
                               invisible format character, or longer than its ``max_length``;
                               another string longer than its ``max_length``
``unknown_event_type``         event_type not one of the contract's event types
``unknown_product_category``   product_category not allowed by the contract's category policy
``<below_minimum>``            a number below its ``minimum`` (``negative_amount``, ``negative_quantity``)
``<above_maximum>``            a number above its maximum (``amount_out_of_range``: above
                               ``validation.max.amount``; ``quantity_out_of_range``)
``bad_timestamp``              timestamp not strict RFC 3339 (see :func:`parse_timestamp_ms`)
``future_timestamp``           timestamp later than the produce time + ``validation.max.future.seconds``
``duplicate_event_id``         event_id already accepted within the watermark (stateful: the
                               app decides it, see :mod:`streaming_platform.streaming.app`)
``late``                       a valid event behind the watermark (stateful): counted for its
                               customer and in its window's ``late_events``, not in its totals
=============================  ============================================================

The fields, their types, which are required, the bounds' reason codes, the event types and the
category policy come from the contract (:mod:`streaming_platform.contract`); the editable bounds
from the ``validation.*`` options (:class:`Limits` carries both into the Spark workers).

"Future" is judged against the Kafka message timestamp, not the wall clock, so a replay of the
same record is judged the same way: the result is a function of the record. The events topic
stamps that timestamp with the broker's clock (``LogAppendTime``), so a producer whose clock, or
whose explicit timestamp, lies ahead cannot carry an event past the rule (and the watermark).
This module is plain Python on purpose: the Spark app runs it inside its Python workers (orjson
parses ~2 M events/s per core, far faster than a JVM ``from_json`` plus SQL checks here).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from streaming_platform import contract as ct
from streaming_platform.config import Settings

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
LATE_EVENT = "late"  # valid and counted for its customer, but behind the watermark: kept, not in its window
# Ids no larger than this when the contract does not say (a rule's default).
MAX_ID_LENGTH = 128


def missing(field: str) -> str:
    return f"missing_field:{field}"


def wrong_type(field: str) -> str:
    return f"wrong_type:{field}"


def bad_value(field: str) -> str:
    return f"bad_value:{field}"


@dataclass(frozen=True)
class Limits:
    """What a record is checked against: the contract and the editable bounds (``validation.*``).

    A contract's ``maximum_option: validation.max.x`` reads the attribute ``max_x`` here.
    """

    max_amount: float = 100_000.0
    max_quantity: int = 1_000
    max_payload_bytes: int = 16_384
    max_future_seconds: int = 300
    contract: ct.Contract = field(default_factory=ct.current)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_amount=settings["validation.max.amount"],
            max_quantity=settings["validation.max.quantity"],
            max_payload_bytes=settings["validation.max.payload.bytes"],
            max_future_seconds=settings["validation.max.future.seconds"],
            contract=ct.load(settings["contract.path"]),
        )

    @property
    def spec(self) -> Spec:
        return compile_spec(self.contract, self.max_amount, self.max_quantity)


def option_attribute(option: str) -> str:
    """The :class:`Limits` attribute of an option's bound: ``validation.max.amount`` → ``max_amount``."""
    return option.removeprefix("validation.").replace(".", "_")


class Range(NamedTuple):
    name: str
    minimum: float | None
    below: str | None
    maximum: float | None
    above: str | None


# The field shape the inlined hot paths (here and in streaming/parse.py) are written for; a
# contract of another shape is checked by the generic rules (:func:`_reasons`) alone.
_STANDARD = frozenset(
    {
        ("event_id", "string", "id"),
        ("timestamp", "string", "rfc3339"),
        ("customer_id", "string", "id"),
        ("event_type", "string", "event_type"),
        ("product_category", "string", "category"),
        ("product_id", "string", "id"),
        ("amount", "number", None),
        ("quantity", "integer", None),
        ("location", "string", None),
    }
)


@dataclass(frozen=True)
class Spec:
    """The contract compiled for checking: lookups and bounds, computed once per contract."""

    fields: tuple[tuple[str, str, bool], ...]  # name, JSON type, required
    ids: tuple[tuple[str, int], ...]  # rule id: name, max length
    caps: tuple[tuple[str, int], ...]  # other strings with a max length
    ranges: tuple[Range, ...]
    timestamp: str
    event_type: str
    category: str
    type_code: dict[str, int]
    categories: frozenset[str]  # the canonical categories
    policy: ct.CategoryPolicy
    standard: bool  # the hot paths apply (see _STANDARD)
    id_len: int
    loc_len: int
    event_id_required: bool
    amount: Range | None
    quantity: Range | None

    def category_of(self, value: str) -> str | None:
        """A category value's canonical form (the contract's policy), None if refused."""
        if value in self.categories:
            return value
        value = self.policy.canonical(value)
        return value if value in self.categories else None


@functools.lru_cache(maxsize=16)
def compile_spec(contract: ct.Contract, max_amount: float, max_quantity: int) -> Spec:
    bounds = {"max_amount": max_amount, "max_quantity": max_quantity}
    by_rule = {f.rule: f.name for f in contract.fields if f.rule}
    ids = tuple((f.name, f.max_length or MAX_ID_LENGTH) for f in contract.fields if f.rule == "id")
    caps = tuple(
        (f.name, f.max_length) for f in contract.fields if f.rule != "id" and f.max_length is not None
    )
    ranges = tuple(
        Range(
            f.name,
            f.minimum,
            f.below_minimum,
            bounds[option_attribute(f.maximum_option)] if f.maximum_option else f.maximum,
            f.above_maximum,
        )
        for f in contract.fields
        if f.minimum is not None or f.maximum is not None or f.maximum_option
    )
    shape = frozenset((f.name, f.type, f.rule) for f in contract.fields)
    req = {f.name: f.required for f in contract.fields}
    cap = dict(caps)
    rng = {r.name: r for r in ranges}
    standard = (
        shape == _STANDARD
        and all(req[n] for n in req if n != "event_id")
        and len({n for _, n in ids}) == 1
        and "location" in cap
        and all(
            n in rng and None not in (rng[n].minimum, rng[n].maximum, rng[n].below, rng[n].above)
            for n in ("amount", "quantity")
        )
    )
    return Spec(
        fields=tuple((f.name, f.type, f.required) for f in contract.fields),
        ids=ids,
        caps=caps,
        ranges=ranges,
        timestamp=by_rule["rfc3339"],
        event_type=by_rule["event_type"],
        category=by_rule["category"],
        type_code={t: i for i, t in enumerate(contract.event_type_names)},
        categories=frozenset(contract.categories.values),
        policy=contract.categories,
        standard=standard,
        id_len=ids[0][1] if ids else MAX_ID_LENGTH,
        loc_len=cap.get("location", 0),
        event_id_required=req.get("event_id", False),
        amount=rng.get("amount"),
        quantity=rng.get("quantity"),
    )


class ValidEvent(NamedTuple):
    """A valid event, normalised: times in epoch milliseconds, money in integer cents, the
    category in its canonical form; ``event_id`` None when the event has none (its id is then
    its Kafka position, which only the caller knows)."""

    event_id: str | None
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

# RFC 3339 section 5.6 date-time, ASCII digits only, upper-case T and Z, 1-9 fractional digits,
# no leap second (datetime cannot hold one). Offsets at most 14:00 either way: the widest real
# one is UTC+14:00, so "+23:59" is a broken clock or a forgery, not a zone.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))",
    re.ASCII,
)
# C0 and C1 controls, DEL, and the invisible format characters (zero-width, bidi controls, BOM,
# line and paragraph separators): ids that print alike must be alike.
_NOT_IN_ID = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


def parse_timestamp_ms(value: str) -> int | None:
    """Epoch milliseconds (fraction floored) of a strict RFC 3339 timestamp; None if not one.

    Refused although ``datetime.fromisoformat`` takes them: the basic format
    (``20240501T120000Z``), week and ordinal dates, a space or lower-case separator, omitted
    seconds or offset, hour-only or ``+hhmm`` offsets, offsets beyond 14:00, non-ASCII digits.
    """
    if _RFC3339.fullmatch(value) is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # the grammar is checked: this checks the calendar
    except ValueError:
        return None
    return (parsed - _EPOCH) // _MS


def id_ok(value: str, max_length: int = MAX_ID_LENGTH) -> bool:
    """An identifier: 1..max_length characters, not only whitespace, no control or format ones."""
    return 0 < len(value) <= max_length and not value.isspace() and _NOT_IN_ID.search(value) is None


def plain_id(value: str, max_length: int = MAX_ID_LENGTH) -> bool:
    """A cheap test for the usual id (printable ASCII, not only spaces); it implies :func:`id_ok`."""
    return 0 < len(value) <= max_length and value.isascii() and value.isprintable() and not value.isspace()


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

    The fast path below accepts a valid event of the standard shape with one test per rule (~3x
    faster than the rule-by-rule walk); anything it does not accept goes through
    :func:`_reasons`, which is the specification and reports every failing rule.
    """
    if type(doc) is not dict:
        return [NOT_OBJECT]
    spec = limits.spec
    if spec.standard:
        g = doc.get
        eid, ts, cid, et, cat = (
            g("event_id"),
            g("timestamp"),
            g("customer_id"),
            g("event_type"),
            g("product_category"),
        )
        pid, amt, qty, loc = g("product_id"), g("amount"), g("quantity"), g("location")
        amount, quantity, n = spec.amount, spec.quantity, spec.id_len
        if (
            ((type(eid) is str and plain_id(eid, n)) or (eid is None and not spec.event_id_required))
            and type(cid) is str
            and type(pid) is str
            and type(loc) is str
            and type(ts) is str
            and plain_id(cid, n)
            and plain_id(pid, n)
            and len(loc) <= spec.loc_len
            and type(et) is str
            and et in spec.type_code
            and type(cat) is str
            and (name := spec.category_of(cat)) is not None
            and (type(amt) is float or type(amt) is int)
            and amount.minimum <= amt <= amount.maximum  # type: ignore[union-attr,operator]
            and type(qty) is int
            and quantity.minimum <= qty <= quantity.maximum  # type: ignore[union-attr,operator]
        ):
            event_ms = parse_timestamp_ms(ts)
            if event_ms is not None and event_ms <= produced_ms + limits.max_future_seconds * 1000:
                return ValidEvent(eid, event_ms, cid, et, name, pid, round(amt * 100), qty, loc)
    return _reasons(doc, produced_ms, limits)


def _reasons(doc: dict[str, Any], produced_ms: int, limits: Limits) -> ValidEvent | list[str]:
    """Every rule of the contract, one by one, in field order (the reference of the fast paths)."""
    spec = limits.spec
    reasons: list[str] = []
    skip: set[str] = set()  # absent or mistyped: no further rule applies
    for name, kind, required in spec.fields:
        value = doc.get(name)
        if value is None:
            skip.add(name)
            if required:
                reasons.append(missing(name))
        elif not _type_ok(value, kind):
            skip.add(name)
            reasons.append(wrong_type(name))
    for name, cap in spec.ids:
        if name not in skip and not id_ok(doc[name], cap):
            reasons.append(bad_value(name))
    for name, cap in spec.caps:
        if name not in skip and len(doc[name]) > cap:
            reasons.append(bad_value(name))
    if spec.event_type not in skip and doc[spec.event_type] not in spec.type_code:
        reasons.append(UNKNOWN_EVENT_TYPE)
    category = None
    if spec.category not in skip:
        category = spec.category_of(doc[spec.category])
        if category is None:
            reasons.append(UNKNOWN_CATEGORY)
    for r in spec.ranges:
        if r.name in skip:
            continue
        if r.minimum is not None and doc[r.name] < r.minimum:
            reasons.append(r.below)  # type: ignore[arg-type]
        elif r.maximum is not None and doc[r.name] > r.maximum:
            reasons.append(r.above)  # type: ignore[arg-type]
    event_ms = None
    if spec.timestamp not in skip:
        event_ms = parse_timestamp_ms(doc[spec.timestamp])
        if event_ms is None:
            reasons.append(BAD_TIMESTAMP)
        elif event_ms > produced_ms + limits.max_future_seconds * 1000:
            reasons.append(FUTURE_TIMESTAMP)
    if reasons or event_ms is None or category is None:
        return reasons
    return ValidEvent(
        doc.get("event_id"),
        event_ms,
        doc["customer_id"],
        doc[spec.event_type],
        category,
        doc["product_id"],
        round(doc["amount"] * 100),
        doc["quantity"],
        doc["location"],
    )


def position_id(topic: str, partition: int, offset: int) -> str:
    """The id of an event without ``event_id``: its Kafka position (the contract's id policy).

    It starts with a control character, which no event_id may hold, so it never equals one.
    """
    return f"\x1f{topic}/{partition}/{offset}"


def validate(raw: bytes | None, produced_ms: int, limits: Limits) -> ValidEvent | list[str]:
    """Validate one Kafka record value; ``produced_ms`` is its Kafka timestamp (epoch ms)."""
    doc, reason = decode(raw, limits.max_payload_bytes)
    if reason is not None:
        return [reason]
    return check_document(doc, produced_ms, limits)
