"""The event contract: the shipped file loads, maps onto JSON Schema, and ill-formed ones are refused."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import orjson
import pytest
import yaml

from streaming_platform import contract as ct
from streaming_platform.producer import EventGenerator
from streaming_platform.validation import Limits, ValidEvent, validate

NOW = 1_714_564_800_000
RAW = yaml.safe_load(Path(ct.load().source).read_text(encoding="utf-8"))


def test_the_shipped_contract_loads() -> None:
    c = ct.load()
    assert c.name == "customer_event" and c.version >= 1
    assert not c.field("event_id").required
    assert c.type_index("revenue", "adds") == c.event_type_names.index("purchase")
    assert c.type_index("revenue", "subtracts") == c.event_type_names.index("refund")
    assert c.type_index("units", "adds") == c.event_type_names.index("purchase")
    assert c.categories.canonical(" Electronics\t") == "electronics"


def test_its_json_schema_agrees_with_validation_on_the_producers_events() -> None:
    schema = ct.load().json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    checker = jsonschema.Draft202012Validator(schema)
    gen = EventGenerator(customers=20, seed=3, bad_fraction=0.3, start_ms=NOW - 60_000).records()
    for _, value, _ in (next(gen) for _ in range(500)):
        if isinstance(validate(value, NOW, Limits()), ValidEvent):
            assert not list(checker.iter_errors(orjson.loads(value))), value
    assert list(checker.iter_errors({"customer_id": "c"}))  # required fields


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        (lambda d: d["fields"]["amount"].update(type="text"), "field amount"),
        (lambda d: d["fields"]["quantity"].update(maximum_option="validation.max.nothing"), "field quantity"),
        (lambda d: d["fields"]["amount"].pop("below_minimum"), "field amount"),
        (lambda d: d["fields"].pop("customer_id"), "field customer_id"),
        (lambda d: d["fields"]["location"].update(required=False), "field location"),
        (lambda d: d["event_types"]["view"].update(revenue="adds"), "event_types"),
        (lambda d: d["categories"].update(values=["Books"]), "categories"),
        (lambda d: d["categories"].update(policy="open"), "categories"),
        (lambda d: d.update(version="2"), "version"),
    ],
)
def test_an_ill_formed_contract_is_refused_with_the_part_named(edit, names: str) -> None:
    doc = copy.deepcopy(RAW)
    edit(doc)
    with pytest.raises(ct.ContractError, match=names):
        ct.parse(doc)


def test_the_contract_path_is_an_option(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = copy.deepcopy(RAW)
    doc["categories"]["values"].append("garden")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("PLATFORM_CONTRACT_PATH", str(path))
    assert ct.load().categories.values[-1] == "garden"
    assert isinstance(validate(b'{"x":1}', NOW, Limits(contract=ct.load())), list)
