"""The event contract: the shipped file loads, maps onto JSON Schema, and ill-formed ones are refused."""

from __future__ import annotations

import copy
import itertools
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
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setenv("PLATFORM_CONTRACT_PATH", str(path))
    assert ct.load().categories.values[-1] == "garden"
    assert isinstance(validate(b'{"x":1}', NOW, Limits(contract=ct.load())), list)


# The shipped contract plus two optional fields of its own, for the changes the aggregates' fields
# cannot go through (the loader refuses those already).
EXTENDED = copy.deepcopy(RAW)
EXTENDED["fields"].update(
    coupon={"type": "string", "required": False, "max_length": 32},
    discount={
        "type": "number",
        "required": False,
        "minimum": 0,
        "below_minimum": "negative_discount",
        "maximum": 100,
        "above_maximum": "discount_out_of_range",
    },
)


def _changed(edit) -> ct.Contract:
    doc = copy.deepcopy(EXTENDED)
    doc["version"] += 1
    edit(doc)
    return ct.parse(doc)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["fields"].update(coupon={"type": "string", "required": False, "max_length": 32}),
        lambda d: d["event_types"].update(wishlist={"field": "wishlists", "label": "Wishlist"}),
        lambda d: d["categories"]["values"].append("garden"),
        lambda d: d["categories"]["values"].insert(0, "garden"),
        lambda d: d["categories"]["values"].reverse(),  # categories travel by name
        lambda d: d["fields"]["location"].update(max_length=512),
        lambda d: d["fields"]["event_id"].update(doc="other words"),
    ],
)
def test_additive_changes_are_compatible(edit) -> None:
    assert ct.compatibility(ct.parse(EXTENDED), _changed(edit)) == []


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda d: d["fields"]["discount"].update(type="integer"), "field discount: type changed"),
        (lambda d: d["fields"].pop("coupon"), "field coupon: removed"),
        (lambda d: d["fields"]["discount"].update(maximum=50), "field discount: range narrowed"),
        (lambda d: d["fields"]["event_id"].update(required=True), "field event_id: now required"),
        (
            lambda d: d["fields"].update(voucher={"type": "string", "required": True}),
            "field voucher: new and required",
        ),
        (lambda d: d["fields"]["amount"].update(minimum=1), "field amount: range narrowed"),
        (lambda d: d["fields"]["location"].update(max_length=100), "field location: max_length narrowed"),
        (lambda d: d["categories"]["values"].remove("books"), "category books: removed"),
        (lambda d: d["event_types"].pop("refund"), "event type refund"),
        (lambda d: d["event_types"]["refund"].update(revenue="none"), "event type refund"),
        (
            lambda d: d.update(version=d["version"] - 1) or d["categories"]["values"].append("garden"),
            "raise it",
        ),
    ],
)
def test_breaking_changes_are_refused_naming_the_field(edit, named: str) -> None:
    problems = ct.compatibility(ct.parse(EXTENDED), _changed(edit))
    assert any(named in p for p in problems), problems


def test_the_contract_only_ever_changed_compatibly_in_git() -> None:
    """Every committed version of the contract file is compatible with the one before (CI)."""
    import subprocess

    path = Path(ct.load().source)
    try:
        revs = subprocess.run(
            ["git", "log", "--format=%H", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the contract's history needs a git checkout: {exc}")
    rel = path.relative_to(ct.config.REPO_ROOT)
    history = [
        ct.parse(yaml.safe_load(subprocess.check_output(["git", "show", f"{r}:{rel}"], cwd=path.parent)))
        for r in reversed(revs)
    ] + [ct.load()]
    for old, new in itertools.pairwise(history):
        if ct.to_doc(old) != ct.to_doc(new):
            assert ct.compatibility(old, new) == [], f"v{old.version} → v{new.version}"


def test_the_readme_tables_are_the_contract_s() -> None:
    readme = (ct.config.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert ct.TABLE_START in readme
    assert ct.readme_with_tables(readme, ct.load()) == readme, (
        "README's event tables differ from the contract: "
        ".venv/bin/python -m streaming_platform.contract README.md"
    )


def test_check_events_prints_a_verdict_per_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from streaming_platform.runtime import cli

    seed = (
        b'{"timestamp": "2024-01-15T10:30:00Z", "customer_id": "cust_001", "event_type": "purchase", '
        b'"product_category": "Electronics", "product_id": "prod_laptop_001", "amount": 999.99, '
        b'"quantity": 1, "location": "New York"}'
    )
    path = tmp_path / "events.jsonl"
    path.write_bytes(seed + b"\n" + seed.replace(b"purchase", b"wishlist") + b"\nnot json\n")
    assert cli.main(["check-events", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "accepted",
        "quarantined: unknown_event_type",
        "quarantined: not_json",
    ]
    assert cli.main(["check-events", str(tmp_path / "missing.jsonl")]) != 0


def test_the_dashboard_labels_are_the_contract_s() -> None:
    labels = ct.labels(ct.load())
    assert [t["label"] for t in labels["event_types"]] == [t.label for t in ct.load().event_types]
    assert labels["categories"] == list(ct.load().categories.values)
