"""JSON rendered a column at a time with Arrow's string kernels.

Building a dict and dumping it costs ~3 µs for an event and ~20 µs for a customer document in
Python; the same JSON assembled column-wise (numbers cast to text, pieces joined row by row in
C++) costs well under 1 µs a row. Used where documents are made by the thousand on a hot path:
the producer's events and the streaming app's customer documents. Field order is the caller's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

Part = str | pa.Array  # a literal, or one value per row


def ints(values: np.ndarray) -> pa.Array:
    """Integers as JSON numbers."""
    return pa.array(values).cast(pa.string())


def cents(values: np.ndarray) -> pa.Array:
    """Integer cents as exact JSON decimals with two digits (``-1205`` → ``-12.05``)."""
    values = np.asarray(values, np.int64)
    whole, frac = np.divmod(np.abs(values), 100)
    sign = pa.array(np.where(values < 0, "-", ""))
    return pc.binary_join_element_wise(sign, ints(whole), ".", pc.utf8_lpad(ints(frac), 2, "0"), "")


def strings(values: Iterable[str]) -> pa.Array:
    """Strings as JSON string literals, quoted and escaped (any text: ids come from the input)."""
    return pa.array([orjson.dumps(v).decode() for v in values], pa.string())


def rows(parts: Sequence[Part]) -> list[bytes]:
    """Each row's parts joined, as bytes (a literal part is the same in every row)."""
    return pc.binary_join_element_wise(*parts, "").cast(pa.binary()).to_pylist()


def members(pairs: Sequence[tuple[str, np.ndarray]]) -> pa.Array:
    """Each row's ``"name":value`` pairs whose value is not 0, comma-separated (an object's
    members). Empty strings, not nulls: pyarrow's join skipping nulls drops all-null rows."""
    parts = [
        pc.if_else(pa.array(v != 0), pc.binary_join_element_wise(f'"{name}":', ints(v), ",", ""), "")
        for name, v in pairs
    ]
    return pc.utf8_rtrim(pc.binary_join_element_wise(*parts, ""), ",")
