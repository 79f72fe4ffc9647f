"""Rows of the stateful steps' output (jvm/state ``Rows.OUT``) built in tests, for the renderers of
:mod:`streaming_platform.streaming.documents`."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from streaming_platform.events import EVENT_TYPES, PRODUCT_CATEGORIES
from streaming_platform.streaming.documents import CUSTOMER, WINDOW

N_TYPES, N_CATS = len(EVENT_TYPES), len(PRODUCT_CATEGORIES)
# A customer as one integer row: counts by type, spend, refund, first, last, counts by category.
SPEND, REFUND, FIRST, LAST, CATS = N_TYPES, N_TYPES + 1, N_TYPES + 2, N_TYPES + 3, N_TYPES + 4
CUSTOMER_WIDTH = CATS + N_CATS


def _lists(matrix: np.ndarray) -> pa.Array:
    return pa.array([list(map(int, r)) for r in matrix], pa.list_(pa.int64()))


def _counts(matrix: np.ndarray) -> pa.Array:
    """Counts by category as the state holds them: a map by name of the categories seen, in no
    particular order (reversed here)."""
    rows = [[(c, int(n)) for c, n in zip(PRODUCT_CATEGORIES, r, strict=True) if n][::-1] for r in matrix]
    return pa.array(rows, pa.map_(pa.string(), pa.int64()))


def customer_rows(ids: list[str], locations: list[str], values: np.ndarray) -> pa.Table:
    """Customer rows from an (n, CUSTOMER_WIDTH) integer matrix."""
    values = np.asarray(values, np.int64).reshape(len(ids), CUSTOMER_WIDTH)
    return pa.table(
        {
            "kind": pa.array([CUSTOMER] * len(ids), pa.int8()),
            "customer_id": pa.array(ids, pa.string()),
            "by_type": _lists(values[:, :N_TYPES]),
            "purchase_cents": pa.array(values[:, SPEND]),
            "refund_cents": pa.array(values[:, REFUND]),
            "first_seen": pa.array(values[:, FIRST]),
            "last_seen": pa.array(values[:, LAST]),
            "last_location": pa.array(locations, pa.string()),
            "by_category": _counts(values[:, CATS:]),
        }
    )


def window_rows(starts: list[int], categories: list[str], by_type: np.ndarray, other: np.ndarray) -> pa.Table:
    """Window rows: counts by type, and (units, purchase cents, refund cents, customers) per row."""
    other = np.asarray(other, np.int64).reshape(len(starts), 4)
    return pa.table(
        {
            "kind": pa.array([WINDOW] * len(starts), pa.int8()),
            "window_start": pa.array(starts, pa.int64()),
            "category": pa.array(categories, pa.string()),
            "by_type": _lists(np.asarray(by_type).reshape(len(starts), N_TYPES)),
            "units": pa.array(other[:, 0]),
            "purchase_cents": pa.array(other[:, 1]),
            "refund_cents": pa.array(other[:, 2]),
            "customers": pa.array(other[:, 3]),
            "late": pa.array([0] * len(starts), pa.int64()),
        }
    )
