"""Every document the app writes fits its index's strict mapping."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from streaming_platform import config
from streaming_platform.es_indices import format_offset_range, mappings, parse_offset_range, templates
from streaming_platform.streaming.documents import customer_sources, window_docs
from streaming_platform.streaming.sink import quarantine_doc
from tests.doc_rows import CUSTOMER_WIDTH, customer_rows, window_rows

SETTINGS = config.load(env={}, overrides={})


def fits(doc: dict[str, Any], props: dict[str, Any]) -> None:
    for key, value in doc.items():
        assert key in props, f"{key} not in mapping"
        if isinstance(value, dict) and "properties" in props[key]:
            fits(value, props[key]["properties"])


def test_documents_fit_strict_mappings() -> None:
    m = mappings(SETTINGS)
    (customer,) = customer_sources(customer_rows(["c1"], ["Rome"], np.arange(CUSTOMER_WIDTH)), 3, 0)
    fits(orjson.loads(customer), m[SETTINGS["es.index.customers"]])
    ((_, window),) = window_docs(window_rows([0], ["home"], np.arange(4), np.arange(4)), 60_000, 3, 0)
    fits(window, m[SETTINGS["es.index.aggregates"]])
    fits(quarantine_doc("t", 0, 1, 2, b"k", b"\xff", ["not_utf8"], None), m[SETTINGS["es.index.quarantine"]])


def test_every_template_is_strict_single_shard_and_versioned() -> None:
    for body in templates(SETTINGS).values():
        assert body["template"]["mappings"]["dynamic"] == "strict"
        assert body["template"]["settings"]["number_of_replicas"] == 0
        assert len(body["_meta"]["version_hash"]) == 16


def test_offset_ranges_read_back_as_written() -> None:
    text = format_offset_range("customer-events", 2, 1_000, 1_999)
    assert text == "customer-events/2:1000-1999"
    assert parse_offset_range(text) == ("customer-events", 2, 1_000, 1_999)
    assert parse_offset_range("a.b-c_d/0:-1--1") == ("a.b-c_d", 0, -1, -1)  # Kafka's "no offset"
    for bad in ("", "customer-events", "customer-events/x:1-2", "customer-events/1:1", "/1:1-2"):
        assert parse_offset_range(bad) is None, bad


def _keyword_fields(props: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    found = {}
    for name, spec in props.items():
        if "properties" in spec:
            found.update(_keyword_fields(spec["properties"], f"{prefix}{name}."))
        elif spec.get("type") == "keyword":
            found[prefix + name] = spec
    return found


def test_every_keyword_field_ignores_immense_values() -> None:
    """A term over Lucene's 32766 bytes would reject the whole document (issue: a 40 KB key)."""
    for index, props in mappings(SETTINGS).items():
        keywords = _keyword_fields(props)
        assert keywords, index
        for name, spec in keywords.items():
            # 4 bytes per character at most in UTF-8: the indexed term stays under Lucene's limit.
            assert 0 < spec.get("ignore_above", 10**9) * 4 <= 32766, (index, name)
    assert "key" in _keyword_fields(mappings(SETTINGS)[SETTINGS["es.index.quarantine"]])
