"""Realistic customer events for the platform: a seeded generator and a Kafka sender.

:class:`EventGenerator` yields ``(key, value, kind)`` records: ``kind`` is ``"valid"`` or the
name of the deliberately bad record (one of :data:`BAD_KINDS`, chosen round-robin so a small
fraction still covers every kind). Same seed, same options → same records, except timestamps
and event ids, which follow the clock and the run id unless ``start_ms`` / ``run_id`` are given.

:func:`send` publishes records with the platform's idempotent, acks=all producer (keyed by
``customer_id``, so one customer's events stay in order on one partition), paces them to a rate,
prints progress lines and returns a :class:`Summary`; delivery failures are counted and
reported, never dropped silently. The CLI is ``produce-events`` (``scripts/kafka_producer.py``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import KafkaException

from streaming_platform import clients, config
from streaming_platform import json_columns as jc
from streaming_platform.events import CONTRACT, EVENT_TYPES, LOCATIONS, PRODUCT_CATEGORIES
from streaming_platform.progress import say

Record = tuple[bytes | None, bytes, str]  # key, value, kind

# The contract's event types with their sample weights.
DEFAULT_MIX = {t.name: t.sample_weight for t in CONTRACT.event_types}
# Each bad kind breaks exactly one rule (so its expected reason is known); see validation.py.
BAD_KINDS = (
    "not_json",
    "not_object",
    "missing_field",
    "null_field",
    "wrong_type",
    "bad_value",
    "unknown_event_type",
    "unknown_product_category",
    "negative_amount",
    "amount_out_of_range",
    "negative_quantity",
    "quantity_out_of_range",
    "bad_timestamp",
    "future_timestamp",
    "oversized",
    "not_utf8",
    "duplicate_event_id",
)
# Unit prices by category: (low, high) in currency units; a category new to the contract: DEFAULT_PRICE.
DEFAULT_PRICE = (5.0, 100.0)
PRICES = {
    "electronics": (20.0, 1500.0),
    "fashion": (10.0, 300.0),
    "home": (5.0, 800.0),
    "beauty": (3.0, 120.0),
    "sports": (8.0, 600.0),
    "books": (4.0, 60.0),
    "toys": (5.0, 150.0),
    "grocery": (1.0, 40.0),
}
PRODUCTS_PER_CATEGORY = 500
UNKNOWN_TYPE = "teleport" + "_" * max(len(t) for t in EVENT_TYPES)  # in no contract's types


def customer_id(i: int) -> str:
    """The id of the generator's customer number ``i`` (0 ≤ i < customers)."""
    return f"c{i:07d}"


def parse_mix(text: str, allowed: Iterable[str]) -> dict[str, float]:
    """``"view=60,purchase=15"`` → weights; names must be allowed, weights ≥ 0, some > 0."""
    allowed = tuple(allowed)
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        if name not in allowed:
            raise ValueError(f"unknown name {name!r} in mix; allowed: {', '.join(allowed)}")
        mix[name] = float(weight)
        if mix[name] < 0:
            raise ValueError(f"weight of {name} must be >= 0")
    if not mix or sum(mix.values()) <= 0:
        raise ValueError("mix needs at least one positive weight")
    return mix


@dataclass
class EventGenerator:
    """Seeded source of customer events (and a fraction of deliberately bad records).

    Valid events are drawn a block at a time with numpy and rendered to JSON with Arrow's string
    kernels (:mod:`.json_columns`; ~1.5 µs a record instead of ~5.5 with a dict and
    ``orjson.dumps`` each, measured): the producer shares its cores with the pipeline it feeds.
    Only the timestamp is added per event, when the record is taken, so it follows the clock at
    any rate.
    """

    customers: int = 10_000
    seed: int = 42
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    categories: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PRODUCT_CATEGORIES, 1.0))
    bad_fraction: float = 0.0
    max_payload_bytes: int = 16_384
    start_ms: int | None = None  # fixed event-time base (tests); None: the wall clock
    step_ms: float = 1.0  # event-time advance per event when start_ms is fixed
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    block: int = 4096  # events drawn at once

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # bad records: which, and how
        self._np = np.random.default_rng(self.seed)  # valid events, a block at a time
        cats = list(self.categories)
        self._cats = pa.array(cats)
        self._cat_cum = np.cumsum(list(self.categories.values()))
        self._types = pa.array(list(self.mix))
        self._type_cum = np.cumsum(list(self.mix.values()))
        self._view = list(self.mix).index("view") if "view" in self.mix else -1
        # Unit prices in cents, so amounts are exact decimals (no float formatting).
        self._low = np.array([PRICES.get(c, DEFAULT_PRICE)[0] * 100 for c in cats])
        self._high = np.array([PRICES.get(c, DEFAULT_PRICE)[1] * 100 for c in cats])
        self._seq = 0
        self._bad_seq = 0
        self._recent: list[tuple[bytes, bytes]] = []  # valid records a duplicate can copy
        self._ts_cache: tuple[int, bytes] = (-1, b"")
        self._customer_ids = pa.array([customer_id(i) for i in range(self.customers)])
        self._locations = pa.array(LOCATIONS)
        self._products = pa.array([f"p-{c}-{i:04d}" for c in cats for i in range(PRODUCTS_PER_CATEGORY)])

    # -- valid events
    def _timestamp(self, ms: int) -> bytes:
        if self._ts_cache[0] != ms:  # formatting dominates at high rates: once per millisecond
            iso = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
            self._ts_cache = (ms, iso.encode())
        return self._ts_cache[1]

    def _event_ms(self) -> int:
        if self.start_ms is None:
            return time.time_ns() // 1_000_000
        return self.start_ms + int(self._seq * self.step_ms)

    def _draw(self) -> list[list[bytes]]:
        """The next block of valid events as (keys, JSON up to the timestamp's value, the rest)."""
        n, rnd, integers = self.block, self._np.random, self._np.integers
        cust = integers(0, self.customers, n)
        cat = np.searchsorted(self._cat_cum, rnd(n) * self._cat_cum[-1], side="right")
        kind = np.searchsorted(self._type_cum, rnd(n) * self._type_cum[-1], side="right")
        view = kind == self._view
        quantity = np.where(view, 1, 1 + integers(0, 4, n))
        # A customer's home location, so "last location" is mostly stable but not constant.
        home = rnd(n) < 0.9
        location = np.where(home, cust % len(LOCATIONS), integers(0, len(LOCATIONS), n))
        price = np.rint(self._low[cat] + (self._high[cat] - self._low[cat]) * rnd(n)).astype(np.int64)
        product = cat * PRODUCTS_PER_CATEGORY + integers(0, PRODUCTS_PER_CATEGORY, n)
        ids = self._customer_ids.take(cust)
        seq = jc.ints(np.arange(self._seq + 1, self._seq + 1 + n))
        head = [f'{{"event_id":"{self.run_id}-', pc.utf8_lpad(seq, 10, "0"), '","timestamp":"']
        tail = [
            *('","customer_id":"', ids, '","event_type":"', self._types.take(kind)),
            *('","product_category":"', self._cats.take(cat)),
            *('","product_id":"', self._products.take(product)),
            *('","amount":', jc.cents(np.where(view, 0, price * quantity))),
            *(',"quantity":', jc.ints(quantity), ',"location":"', self._locations.take(location), '"}'),
        ]
        return [ids.cast(pa.binary()).to_pylist(), jc.rows(head), jc.rows(tail)]

    # -- bad records
    def _bad(self, kind: str, key: bytes, valid: bytes) -> tuple[bytes, bytes]:
        """A record breaking one rule, made from the valid event it replaces."""
        ev = orjson.loads(valid)
        mutate: dict[str, Callable[[dict[str, Any]], Any]] = {
            "missing_field": lambda e: e.pop("amount"),
            "null_field": lambda e: e.update(location=None),
            "wrong_type": lambda e: e.update(quantity=str(e["quantity"])),
            "bad_value": lambda e: e.update(product_id=""),
            "unknown_event_type": lambda e: e.update(event_type=UNKNOWN_TYPE),
            # A dot: no contract's category can hold one.
            "unknown_product_category": lambda e: e.update(product_category="weapons.unknown"),
            "negative_amount": lambda e: e.update(amount=-12.5),
            "amount_out_of_range": lambda e: e.update(amount=1e9),
            "negative_quantity": lambda e: e.update(quantity=-1),
            "quantity_out_of_range": lambda e: e.update(quantity=10**6),
            "bad_timestamp": lambda e: e.update(timestamp="yesterday at noon"),
            # One day ahead: far beyond any configured clock skew allowance.
            "future_timestamp": lambda e: e.update(
                timestamp=self._timestamp(self._event_ms() + 86_400_000).decode()
            ),
            "oversized": lambda e: e.update(notes="x" * (self.max_payload_bytes + 1)),
        }
        if kind == "not_json":
            return key, b'{"event_id": "' + ev["event_id"].encode() + b'", truncated'
        if kind == "not_object":
            return key, orjson.dumps([ev["event_id"], ev["amount"]])
        if kind == "not_utf8":
            return key, valid.replace(b'"location":"', b'"location":"\xff\xfe', 1)
        if kind == "duplicate_event_id" and self._recent:
            return self._recent[self._rng.randrange(len(self._recent))]
        if kind == "duplicate_event_id":  # nothing valid sent yet: break a rule instead
            return key, b"null"
        mutate[kind](ev)
        return key, orjson.dumps(ev)

    def records(self) -> Iterator[Record]:
        """An endless stream of records."""
        rng = self._rng
        while True:
            for key, head, tail in zip(*self._draw(), strict=True):
                self._seq += 1
                value = head + self._timestamp(self._event_ms()) + tail
                if self.bad_fraction and rng.random() < self.bad_fraction:
                    kind = BAD_KINDS[self._bad_seq % len(BAD_KINDS)]
                    self._bad_seq += 1
                    yield (*self._bad(kind, key, value), kind)
                    continue
                if self.bad_fraction:
                    if len(self._recent) < 256:
                        self._recent.append((key, value))
                    else:
                        self._recent[rng.randrange(256)] = (key, value)
                yield key, value, "valid"


def replay(path: Path) -> Iterator[Record]:
    """Records from a JSON-lines file, values sent byte for byte (keyed by customer_id if any)."""
    with path.open("rb") as fh:
        for line in fh:
            value = line.rstrip(b"\r\n")
            if not value:
                continue
            key = None
            try:
                doc = orjson.loads(value)
                if isinstance(doc, dict) and isinstance(doc.get("customer_id"), str):
                    key = doc["customer_id"].encode()
            except orjson.JSONDecodeError:
                pass
            yield key, value, "replay"


@dataclass
class Summary:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    bad: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # first few delivery errors, verbatim

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"sent {self.sent:,} delivered {self.delivered:,} failed {self.failed:,} "
            f"bad {self.bad:,} in {self.seconds:.1f}s ({self.rate:,.0f} events/s)"
        )


class _Pacer:
    """Sleeps so that ``n`` records take ``n / rate`` seconds (no pacing when rate is 0)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.t0 = time.monotonic()

    def wait(self, n: int) -> None:
        if self.rate <= 0:
            return
        ahead = n / self.rate - (time.monotonic() - self.t0)
        if ahead > 0.001:
            time.sleep(ahead)


def send(
    producer: Any,
    topic: str,
    records: Iterable[Record],
    *,
    count: int | None = None,
    duration: float | None = None,
    rate: float = 0.0,
    progress_every: float = 5.0,
    on_sent: Callable[[int, float], None] | None = None,
) -> Summary:
    """Produce ``records`` until ``count`` or ``duration`` is reached (or the iterable ends)."""
    summary = Summary()
    errors = summary.errors

    def delivered(err: Any, _msg: Any) -> None:
        if err is None:
            summary.delivered += 1
        else:
            summary.failed += 1
            if len(errors) < 10:
                errors.append(str(err))

    pacer = _Pacer(rate)
    t0 = time.monotonic()
    next_progress = t0 + progress_every
    deadline = t0 + duration if duration else None
    check_every = 1000 if rate <= 0 else max(1, min(1000, int(rate / 200)))
    for key, value, kind in records:
        if count is not None and summary.sent >= count:
            break
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=delivered)
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                producer.poll(0.05)
            except KafkaException as exc:  # refused locally (e.g. larger than message.max.bytes)
                summary.failed += 1
                if len(errors) < 10:
                    errors.append(f"record {summary.sent + 1}: {exc.args[0].str()}")
                break
        summary.sent += 1
        if kind != "valid":
            summary.by_kind[kind] = summary.by_kind.get(kind, 0) + 1
            summary.bad += kind != "replay"
        if summary.sent % check_every == 0:
            producer.poll(0)
            pacer.wait(summary.sent)
            now = time.monotonic()
            if on_sent is not None:
                on_sent(summary.sent, now - t0)
            if deadline is not None and now >= deadline:
                break
            if progress_every and now >= next_progress:
                say(f"  {summary.sent:,} sent, {summary.sent / (now - t0):,.0f}/s, {summary.failed} failed")
                next_progress += progress_every
    remaining = producer.flush(60)
    summary.seconds = time.monotonic() - t0
    if remaining:
        summary.failed += remaining
        errors.append(f"{remaining} records still undelivered after 60 s flush")
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="produce-events", description=__doc__.split("\n")[0])
    p.add_argument("--topic", help="topic (default: kafka.topic.events)")
    p.add_argument("--rate", type=float, default=1000.0, help="events/s; 0 = as fast as possible")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--count", type=_positive(int), help="number of events to send")
    stop.add_argument("--duration", type=_positive(float), help="seconds to send for")
    p.add_argument("--customers", type=_positive(int), default=10_000)
    p.add_argument("--mix", default=",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items()))
    p.add_argument("--categories", default="", help="category weights, e.g. electronics=3,books=1")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--bad-fraction", type=float, default=0.0, help="fraction of bad records (0..1)")
    p.add_argument("--replay", type=Path, help="send the lines of this JSON-lines file instead")
    p.add_argument("--progress-every", type=float, default=5.0, help="seconds between progress lines")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.replay and not args.replay.is_file():
        parser.error(f"--replay: no such file {args.replay}")
    if args.rate < 0:
        parser.error("--rate must be 0 (as fast as possible) or more")
    settings = config.load()
    topic = args.topic or settings["kafka.topic.events"]
    if args.replay:
        records: Iterable[Record] = replay(args.replay)
    else:
        if not 0.0 <= args.bad_fraction <= 1.0:
            parser.error("--bad-fraction must be between 0 and 1")
        try:
            cats = parse_mix(args.categories, PRODUCT_CATEGORIES) if args.categories else None
            mix = parse_mix(args.mix, EVENT_TYPES)
        except ValueError as exc:
            parser.error(str(exc))
        gen = EventGenerator(
            customers=args.customers,
            seed=args.seed,
            mix=mix,
            bad_fraction=args.bad_fraction,
            max_payload_bytes=settings["validation.max.payload.bytes"],
            **({"categories": cats} if cats else {}),
        )
        records = gen.records()
    if args.count is None and args.duration is None and not args.replay:
        args.duration = 60.0
    say(f"→ producing to {topic} at {settings['kafka.bootstrap.servers']} (rate {args.rate or 'max'}/s)")
    summary = send(
        clients.kafka_producer(settings),
        topic,
        records,
        count=args.count,
        duration=args.duration,
        rate=args.rate,
        progress_every=args.progress_every,
    )
    say(("✓ " if not summary.failed else "✗ ") + summary.line())
    for kind, n in sorted(summary.by_kind.items()):
        say(f"    {kind:26} {n:,}")
    for err in summary.errors:
        say(f"  delivery error: {err}")
    if args.json:
        print(orjson.dumps({**asdict(summary), "rate": summary.rate}).decode())
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
