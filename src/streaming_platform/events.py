"""The customer event's names, as the process's contract (:mod:`streaming_platform.contract`) says.

Shorthands for the components that read the contract loaded at start-up (the ``contract.path``
option); code that may be handed another contract takes a :class:`~streaming_platform.contract.Contract`.

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

from streaming_platform.contract import current

CONTRACT: Final = current()
EVENT_TYPES: Final = CONTRACT.event_type_names
PRODUCT_CATEGORIES: Final = CONTRACT.categories.values
LOCATIONS: Final = CONTRACT.sample_locations
# Fields in document order, with the JSON type each must have. "number" accepts JSON integers and
# floats (never booleans); "integer" accepts JSON integers only.
FIELDS: Final = tuple((f.name, f.type) for f in CONTRACT.fields)
FIELD_NAMES: Final = CONTRACT.field_names
# The cap (in characters) of every string field that has one.
MAX_LENGTH: Final = {f.name: f.max_length for f in CONTRACT.fields if f.max_length is not None}
MAX_LOCATION_LENGTH: Final = MAX_LENGTH["location"]
