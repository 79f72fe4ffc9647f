"""The expected results of the streaming app, computed record by record in plain Python.

Written from the semantics of the stream (README, "How a batch flows"; ``jvm/state``): the
watermark of a batch is the newest event time of the batches before it minus the delay; an event
older than it is late (counted for its customer, kept in the quarantine with reason ``late``, and
in its window's ``late_events`` while the window is kept: counted before, and its end less than the
late retention behind the watermark; not in its totals); a duplicate is an event whose
id its customer had accepted before, earlier in the batch in (partition, offset) order or with an
event time at or after the watermark. Deliberately without any code of the app except the
validation rules (the record-level specification): the streaming tests compare Elasticsearch
with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from streaming_platform.validation import Limits, ValidEvent, parse_timestamp_ms, validate

TYPE_FIELD = {"view": "views", "add_to_cart": "add_to_cart", "purchase": "purchases", "refund": "refunds"}


@dataclass
class KafkaRecord:
    partition: int
    offset: int
    kafka_ms: int
    value: bytes | None
    key: bytes | None = None


@dataclass
class Expected:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    windows: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    quarantine: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # (partition, offset)
    dropped_late: int = 0
    accepted: int = 0


def cents(amount: float) -> int:
    """Independent of the app's ``round(amount * 100)``: exact decimal of the JSON number."""
    return int((Decimal(repr(amount)) * 100).quantize(Decimal(1), rounding="ROUND_HALF_EVEN"))


def _customer(cid: str) -> dict[str, Any]:
    return {
        "customer_id": cid,
        "total_events": 0,
        "views": 0,
        "add_to_cart": 0,
        "purchases": 0,
        "refunds": 0,
        "spend_cents": 0,
        "refund_cents": 0,
        "first_seen": None,
        "last_seen": None,
        "last_location": None,
        "by_category": Counter(),
    }


def _window(ws: int, window_ms: int, cat: str) -> dict[str, Any]:
    return {
        "window_start": ws,
        "window_end": ws + window_ms,
        "product_category": cat,
        "events": 0,
        "views": 0,
        "add_to_cart": 0,
        "purchases": 0,
        "refunds": 0,
        "units": 0,
        "purchase_cents": 0,
        "refund_cents": 0,
        "customers": set(),
        "late_events": 0,
    }


def compute(
    batches: list[list[KafkaRecord]],
    window_ms: int,
    delay_ms: int,
    limits: Limits | None = None,
    late_retention_ms: int = 3_600_000,
) -> Expected:
    """Expected state after the given micro-batches (each a list of that batch's records)."""
    limits = limits or Limits()
    out = Expected()
    seen: dict[tuple[str, str], int] = {}  # (customer, event id) -> event time when accepted
    watermark, max_event = 0, None
    for batch in batches:
        in_batch: set[tuple[str, str]] = set()
        late: Counter[tuple[int, str]] = Counter()  # the batch's late events by window
        for rec in sorted(batch, key=lambda r: (r.partition, r.offset)):
            result = validate(rec.value, rec.kafka_ms, limits)
            if not isinstance(result, ValidEvent):
                out.quarantine[(rec.partition, rec.offset)] = list(result)
                continue
            doc = orjson.loads(rec.value)  # the raw document, for the independent cents/time
            doc["product_category"] = result.product_category  # as the contract normalises it
            event_ms = parse_timestamp_ms(doc["timestamp"])
            max_event = event_ms if max_event is None else max(max_event, event_ms)
            # Without an event_id, an event is its position (the contract's id policy): unique.
            eid = (doc["customer_id"], doc.get("event_id") or f"@{rec.partition}/{rec.offset}")
            if eid in in_batch or (eid in seen and seen[eid] >= watermark):
                out.quarantine[(rec.partition, rec.offset)] = ["duplicate_event_id"]
                continue
            in_batch.add(eid)
            seen[eid] = event_ms
            out.accepted += 1
            _add_customer(out, doc, event_ms)
            if event_ms < watermark:
                out.dropped_late += 1
                out.quarantine[(rec.partition, rec.offset)] = ["late"]
                late[(event_ms - event_ms % window_ms, doc["product_category"])] += 1
            else:
                _add_window(out, doc, event_ms, window_ms)
        for (ws, cat), n in late.items():  # a window counts late events while it is kept
            if (ws, cat) in out.windows and ws + window_ms + late_retention_ms > watermark:
                out.windows[(ws, cat)]["late_events"] += n
        if max_event is not None:
            watermark = max(watermark, max_event - delay_ms)
    categories = list(limits.contract.categories.values)  # in the contract's order (ties)
    for c in out.customers.values():
        by = c.pop("by_category")
        c["top_category"] = max(categories, key=lambda k: (by[k], -categories.index(k)))
        c["events_by_category"] = {k: v for k, v in by.items() if v}
    for w in out.windows.values():
        w["distinct_customers"] = len(w.pop("customers"))
    return out


def _add_customer(out: Expected, doc: dict[str, Any], event_ms: int) -> None:
    c = out.customers.setdefault(doc["customer_id"], _customer(doc["customer_id"]))
    c["total_events"] += 1
    c[TYPE_FIELD[doc["event_type"]]] += 1
    if doc["event_type"] == "purchase":
        c["spend_cents"] += cents(doc["amount"])
    elif doc["event_type"] == "refund":
        c["refund_cents"] += cents(doc["amount"])
    c["first_seen"] = event_ms if c["first_seen"] is None else min(c["first_seen"], event_ms)
    if c["last_seen"] is None or event_ms >= c["last_seen"]:
        c["last_seen"], c["last_location"] = event_ms, doc["location"]
    c["by_category"][doc["product_category"]] += 1


def _add_window(out: Expected, doc: dict[str, Any], event_ms: int, window_ms: int) -> None:
    ws = event_ms - event_ms % window_ms
    cat = doc["product_category"]
    w = out.windows.setdefault((ws, cat), _window(ws, window_ms, cat))
    w["events"] += 1
    w[TYPE_FIELD[doc["event_type"]]] += 1
    if doc["event_type"] == "purchase":
        w["units"] += doc["quantity"]
        w["purchase_cents"] += cents(doc["amount"])
    elif doc["event_type"] == "refund":
        w["refund_cents"] += cents(doc["amount"])
    w["customers"].add(doc["customer_id"])


# The fields of the app's documents compared with this model.
CUSTOMER_FIELDS = (
    "total_events",
    "views",
    "add_to_cart",
    "purchases",
    "refunds",
    "spend_cents",
    "refund_cents",
    "first_seen",
    "last_seen",
    "last_location",
    "top_category",
    "events_by_category",
)
WINDOW_FIELDS = (
    "window_end",
    "events",
    "views",
    "add_to_cart",
    "purchases",
    "refunds",
    "units",
    "purchase_cents",
    "refund_cents",
    "distinct_customers",
    "late_events",
)
