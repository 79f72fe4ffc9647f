"""The GX suites in ``expectations/`` agree with the event contract and the index templates."""

from __future__ import annotations

import re

import pytest

from streaming_platform import contract, es_indices, events, quality, validation


def _expectations(suite: str, kind: str) -> list[dict]:
    return [e for e in quality.suite_dict(suite)["expectations"] if e["type"] == kind]


@pytest.mark.parametrize("suite", quality.SUITES)
def test_suite_loads_with_gx_severities(suite: str) -> None:
    from great_expectations.expectations.metadata_types import FailureSeverity

    built = quality.build_suite(suite)
    assert built.name == suite and built.expectations
    declared = [e["severity"] for e in quality.suite_dict(suite)["expectations"]]  # explicit, every one
    assert [e.severity for e in built.expectations] == [FailureSeverity(s) for s in declared]
    assert all("critical" not in e.get("meta", {}) for e in quality.suite_dict(suite)["expectations"])


def test_allowed_categories_are_the_event_schema_s() -> None:
    sets = _expectations("aggregates", "expect_column_values_to_be_in_set")
    sets += _expectations("customers", "expect_column_values_to_be_in_set")
    by_column = {e["kwargs"]["column"]: e["kwargs"]["value_set"] for e in sets}
    assert by_column["product_category"] == list(events.PRODUCT_CATEGORIES)
    assert by_column["top_category"] == list(events.PRODUCT_CATEGORIES)


def test_columns_are_the_mapped_fields_one_count_per_event_type() -> None:
    [agg] = _expectations("aggregates", "expect_table_columns_to_match_set")
    derived = {"window_length_error_s", "window_alignment_s", "type_sum_gap"}
    mapped = es_indices.aggregates_properties(contract.current())
    assert set(agg["kwargs"]["column_set"]) == set(mapped) | derived
    per_type = {t.field for t in contract.current().event_types}
    assert len(per_type) == len(events.EVENT_TYPES) and per_type <= set(agg["kwargs"]["column_set"])
    between = {
        e["kwargs"]["column"] for e in _expectations("aggregates", "expect_column_values_to_be_between")
    }
    assert per_type <= between  # one non-negative count per event type
    [cust] = _expectations("customers", "expect_table_columns_to_match_set")
    for category in events.PRODUCT_CATEGORIES:
        assert f"events_by_category.{category}" in cust["kwargs"]["column_set"]


def test_reason_regex_knows_every_reason_code() -> None:
    [exp] = _expectations("quarantine", "expect_column_values_to_match_regex")
    pattern = re.compile(exp["kwargs"]["regex"])
    codes = [v for k, v in vars(validation).items() if k.isupper() and isinstance(v, str) and v.islower()]
    codes += [
        f(name)
        for f in (validation.missing, validation.wrong_type, validation.bad_value)
        for name in events.FIELD_NAMES
    ]
    assert codes
    for code in codes:
        assert pattern.match(code), code
