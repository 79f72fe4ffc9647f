"""Executor side: the stateful steps' output of a micro-batch, written to Elasticsearch whole.

Spark's state (jvm/state) emits per batch one row per changed window × category (its whole
totals), per customer whose document is due (its whole summary), and per duplicate or late event
(see ``Rows.java``). :class:`WriteTask` runs in ``mapInArrow`` inside ``foreachBatch``: each task
renders its rows as documents with deterministic ids and bulk-writes them (windows, then
customers), quarantines the duplicates and keeps the late events there too (reason ``late``; their
payloads read back from Kafka or a backfill's files), and returns one row of figures. A replayed
batch emits the same rows, so the same documents: exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from streaming_platform import contract as ct
from streaming_platform import json_columns as jc
from streaming_platform.streaming.backfill import read_lines
from streaming_platform.streaming.parse import Sources, freeze_worker_heap
from streaming_platform.streaming.sink import (
    SinkConfig,
    bulk_write,
    executor_es,
    ndjson,
    quarantine_doc,
    read_positions,
    write_quarantine,
)
from streaming_platform.validation import DUPLICATE_EVENT_ID, LATE_EVENT

# Row kinds (Rows.java).
WINDOW, LATE, DUPLICATE, CUSTOMER = 0, 1, 2, 3

# What each task returns (one row), summed by the driver for the batch's runtime metrics.
WRITTEN_DDL = "windows bigint, customers bigint, duplicates bigint, late bigint, rejected bigint"


@dataclass(frozen=True)
class Indices:
    aggregates: str
    customers: str


@dataclass(frozen=True)
class WriteTask:
    """Everything a write task needs (pickled into the closure Spark ships to the workers)."""

    batch_id: int
    window_ms: int
    indices: Indices
    sink: SinkConfig
    contract: ct.Contract
    sources: Sources
    checkpoint: str  # a backfill's staged files are there (payloads of its duplicates, late events)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        freeze_worker_heap()
        received = list(batches)
        rows = pa.Table.from_batches(received) if received else None
        if rows is None or not rows.num_rows:
            yield _figures(0, 0, 0, 0, 0)
            return
        kind = rows.column("kind").to_numpy()
        now_ms = int(time.time() * 1000)
        es = executor_es(self.sink)
        windows = rows.filter(pa.array(kind == WINDOW))
        customers = rows.filter(pa.array(kind == CUSTOMER))
        duplicates = rows.filter(pa.array(kind == DUPLICATE))
        late = rows.filter(pa.array(kind == LATE))
        rejected = 0
        if windows.num_rows:
            docs = window_docs(windows, self.window_ms, self.batch_id, now_ms, self.contract)
            rejected += bulk_write(es, ndjson(self.indices.aggregates, docs), self.sink)
        if customers.num_rows:
            docs = list(
                zip(
                    customers.column("customer_id").to_pylist(),
                    customer_sources(customers, self.batch_id, now_ms, self.contract),
                    strict=True,
                )
            )
            rejected += bulk_write(es, ndjson(self.indices.customers, docs), self.sink)
        kept = [*self._quarantined(duplicates, DUPLICATE_EVENT_ID), *self._quarantined(late, LATE_EVENT)]
        if kept:
            write_quarantine(kept, self.sink, es)
        yield _figures(windows.num_rows, customers.num_rows, duplicates.num_rows, late.num_rows, rejected)

    def _quarantined(self, rows: pa.Table, reason: str) -> list[dict[str, Any]]:
        """Quarantine documents of valid events the state set aside (duplicates, late events),
        their payloads read back from Kafka (or from a backfill's staged files)."""
        if not rows.num_rows:
            return []
        positions = list(
            zip(rows.column("partition").to_pylist(), rows.column("offset").to_pylist(), strict=True)
        )
        kafka = [(p, o) for p, o in positions if p >= 0]
        found = read_positions(self.sink, self.sources.topic, kafka) if kafka else {}
        lines = read_lines(self.checkpoint, [(p, o) for p, o in positions if p < 0])
        found.update({pos: (None, value) for pos, value in lines.items()})
        docs = []
        for (p, o), ms in zip(positions, rows.column("kafka_ms").to_pylist(), strict=True):
            key, value = found[(p, o)]
            eid = orjson.loads(value).get("event_id")  # it parsed as a valid event once already
            source = self.sources.name(p)
            docs.append(quarantine_doc(source, p, o, ms, key, value, [reason], self.batch_id, eid))
        return docs


def _figures(*values: int) -> pa.RecordBatch:
    names = [c.split()[0] for c in WRITTEN_DDL.split(", ")]
    return pa.RecordBatch.from_arrays([pa.array([v], pa.int64()) for v in values], names=names)


def _matrix(col: pa.ChunkedArray, width: int) -> np.ndarray:
    """A column of equal-length integer lists as an (n, width) matrix."""
    flat = pc.list_flatten(col.combine_chunks()).to_numpy()
    return flat.reshape(-1, width) if len(flat) else np.zeros((len(col), width), np.int64)


def _by_name(col: pa.ChunkedArray, names: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """A column of name → count maps as (names, an (n, len(names)) matrix): the contract's names in
    its order (ties of top_category), then any others the state holds, sorted."""
    entries = pa.struct([col.type.key_field, col.type.item_field])
    maps = col.combine_chunks().cast(pa.list_(entries))  # Arrow flattens lists, not maps
    flat = pc.list_flatten(maps)  # every row's (key, value) entries, in row order
    keys, counts = flat.field(0), flat.field(1).to_numpy()
    names = [*names, *sorted(set(pc.unique(keys).to_pylist()) - set(names))]
    out = np.zeros((len(maps), len(names)), np.int64)
    rows = np.repeat(np.arange(len(maps)), pc.list_value_length(maps).to_numpy(zero_copy_only=False))
    out[rows, pc.index_in(keys, value_set=pa.array(names, pa.string())).to_numpy()] = counts
    return names, out


def window_docs(
    rows: pa.Table, window_ms: int, batch_id: int, now_ms: int, contract: ct.Contract | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Whole window × category documents (id ``<window start>-<category>``)."""
    contract = contract or ct.current()
    type_fields = [t.field for t in contract.event_types]
    purchase = contract.type_index("revenue", "adds")
    by_type = _matrix(rows.column("by_type"), len(type_fields)).tolist()
    cols = (
        rows.column(c).to_pylist()
        for c in ("window_start", "category", "units", "purchase_cents", "refund_cents", "customers", "late")
    )
    docs = []
    for counts, (ws, cat, units, bought, refunded, distinct, late) in zip(
        by_type, zip(*cols, strict=True), strict=True
    ):
        purchases = counts[purchase] if purchase >= 0 else 0
        doc: dict[str, Any] = {
            "window_start": ws,
            "window_end": ws + window_ms,
            "product_category": cat,
            "events": sum(counts),
            **dict(zip(type_fields, counts, strict=True)),
            "units": units,
            "purchase_cents": bought,
            "refund_cents": refunded,
            "purchase_amount": bought / 100,
            "refund_amount": refunded / 100,
            "revenue": (bought - refunded) / 100,
            "avg_order_value": round(bought / purchases / 100, 2) if purchases else 0.0,
            "distinct_customers": distinct,
            "late_events": late or 0,
            "contract_version": contract.version,
            "batch_id": batch_id,
            "updated_at": now_ms,
        }
        docs.append((f"{ws}-{cat}", doc))
    return docs


def customer_sources(
    rows: pa.Table, batch_id: int, now_ms: int, contract: ct.Contract | None = None
) -> list[bytes]:
    """The customers' documents as JSON, rendered column-wise (:mod:`..json_columns`): ~3 µs a
    document where a dict and ``orjson.dumps`` took ~20."""
    contract = contract or ct.current()
    types = _matrix(rows.column("by_type"), len(contract.event_types))
    categories, cats = _by_name(rows.column("by_category"), contract.categories.values)
    spend = rows.column("purchase_cents").to_numpy()
    refund = rows.column("refund_cents").to_numpy()
    top = np.argmax(cats, axis=1)  # most events; ties: the earlier category
    type_parts = [(f',"{t.field}":', jc.ints(types[:, i])) for i, t in enumerate(contract.event_types)]
    by_category = jc.members([(c, cats[:, i]) for i, c in enumerate(categories)])
    return jc.rows(
        [
            *('{"customer_id":', jc.strings(rows.column("customer_id").to_pylist())),
            *(',"total_events":', jc.ints(types.sum(axis=1))),
            *(part for pair in type_parts for part in pair),
            *(',"spend_cents":', jc.ints(spend), ',"spend":', jc.cents(spend)),
            *(',"refund_cents":', jc.ints(refund), ',"refund_amount":', jc.cents(refund)),
            *(',"first_seen":', jc.ints(rows.column("first_seen").to_numpy())),
            *(',"last_seen":', jc.ints(rows.column("last_seen").to_numpy())),
            *(',"last_location":', jc.strings(rows.column("last_location").to_pylist())),
            *(',"top_category":"', pa.array(categories).take(pa.array(top)), '"'),
            *(',"events_by_category":{', by_category, "}"),
            f',"contract_version":{contract.version},"batch_id":{batch_id},"updated_at":{now_ms}}}',
        ]
    )
