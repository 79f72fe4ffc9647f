"""The customer event: field names, types and allowed values, shared by every component.

The producer writes events of this shape, :mod:`streaming_platform.validation` checks them, the
Spark app parses them, the data-quality checks and the dashboard read the same names. Keep this
module free of heavy imports (pyspark is imported lazily) so the dashboard can use it cheaply.

Example (one Kafka message value, UTF-8 JSON, keyed by ``customer_id``)::

    {"event_id": "6f1c…", "timestamp": "2024-05-01T12:00:00.123+00:00", "customer_id": "c000042",
     "event_type": "purchase", "product_category": "electronics", "product_id": "p-electronics-0017",
     "amount": 59.98, "quantity": 2, "location": "Berlin"}

``amount`` is the event's monetary value (unit price × quantity) in the shop currency; the app
sums it in integer cents so totals are exact. ``timestamp`` is RFC 3339 (the strict profile of
:func:`streaming_platform.validation.parse_timestamp_ms`). The produce time is the Kafka message
timestamp; the events topic stamps it with the broker's clock (``LogAppendTime``, see
:mod:`streaming_platform.topics`), so a producer cannot set it. It bounds "future" event times and
starts the end-to-end latency.
"""

from __future__ import annotations

from typing import Final

EVENT_TYPES: Final = ("view", "add_to_cart", "purchase", "refund")
PRODUCT_CATEGORIES: Final = (
    "electronics",
    "fashion",
    "home",
    "beauty",
    "sports",
    "books",
    "toys",
    "grocery",
)
LOCATIONS: Final = (
    "Berlin",
    "London",
    "Paris",
    "Madrid",
    "Rome",
    "Amsterdam",
    "Warsaw",
    "Vienna",
    "Stockholm",
    "Lisbon",
)

# Required fields in document order, with the JSON type each must have. "number" accepts JSON
# integers and floats (never booleans); "integer" accepts JSON integers only.
FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("event_id", "string"),
    ("timestamp", "string"),
    ("customer_id", "string"),
    ("event_type", "string"),
    ("product_category", "string"),
    ("product_id", "string"),
    ("amount", "number"),
    ("quantity", "integer"),
    ("location", "string"),
)
FIELD_NAMES: Final = tuple(name for name, _ in FIELDS)
# Identifier-like strings must be non-empty and at most this long (they become document ids).
MAX_ID_LENGTH: Final = 128
ID_FIELDS: Final = ("event_id", "customer_id", "product_id")
MAX_LOCATION_LENGTH: Final = 256
# The cap (in characters) of every free-text string field. event_type and product_category are
# bounded by their value sets, timestamp by its grammar.
MAX_LENGTH: Final = {**{name: MAX_ID_LENGTH for name in ID_FIELDS}, "location": MAX_LOCATION_LENGTH}

# Compact codes the Spark app carries instead of strings (index into the tuples above).
EVENT_TYPE_CODE: Final = {name: i for i, name in enumerate(EVENT_TYPES)}
CATEGORY_CODE: Final = {name: i for i, name in enumerate(PRODUCT_CATEGORIES)}
