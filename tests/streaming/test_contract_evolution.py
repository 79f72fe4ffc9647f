"""A new event type and a new category by configuration alone: a copy of the contract with
``wishlist`` (counted, no revenue) and ``garden``, platform_setup's setup code, then the stream;
both show in the aggregates, the customer documents, the GX results and the Kibana objects. And
categories reordered: the stream goes on from its checkpoint, each count with its category."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import yaml
from stream_harness import Stream, all_docs, produce_values

from streaming_platform import config, contract, es_indices, kibana_objects, quality


def _wishlist_contract(tmp_path: Path) -> Path:
    doc = yaml.safe_load(Path(contract.load().source).read_text(encoding="utf-8"))
    doc["version"] += 1
    doc["event_types"]["wishlist"] = {"field": "wishlists", "label": "Wishlisted"}
    doc["categories"]["values"].append("garden")
    path = tmp_path / "customer_event.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _event(customer: str, kind: str, category: str, amount: float, quantity: int = 1) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return orjson.dumps(
        {
            "timestamp": now,
            "customer_id": customer,
            "event_type": kind,
            "product_category": category,
            "product_id": "prod_rake_001",
            "amount": amount,
            "quantity": quantity,
            "location": "New York",
        }
    )


def _gx_results(suite: str, frame, c: contract.Contract) -> dict[tuple[str, str], bool]:
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    batch = ctx.data_sources.add_pandas("frames").add_dataframe_asset(suite)
    definition = batch.add_batch_definition_whole_dataframe("whole")
    checks = ctx.suites.add(quality.build_suite(suite, c))
    run = ctx.validation_definitions.add(gx.ValidationDefinition(name=suite, data=definition, suite=checks))
    result = run.run(batch_parameters={"dataframe": frame})
    out = {}
    for r in result.results:
        cfg = r.expectation_config
        out[(cfg.type, str(cfg.kwargs.get("column", "")))] = r.success
    return out


def test_a_new_event_type_and_category_by_configuration_alone(stream: Stream, tmp_path: Path) -> None:
    path = _wishlist_contract(tmp_path)
    env = {**stream.env, "PLATFORM_CONTRACT_PATH": str(path), "PLATFORM_HOME": str(tmp_path / "home")}
    settings = config.load(env=env, overrides={})
    new = contract.load(path)
    # platform_setup's setup code: the check against the installed contract, new fields put on
    # the indices the fixture created under the shipped contract, the Kibana objects rendered.
    report = es_indices.ensure_templates(stream.es, settings)
    assert report.contract == [f"customer_event v{new.version} (was v{new.version - 1})"]
    assert settings["es.index.customers"] in report.indices_updated
    objects = kibana_objects.read(kibana_objects.render(settings))
    labels = {o["id"]: o["attributes"].get("fieldAttrs", "") for o in objects}
    assert "wishlists" in labels["dv-pipeline-metrics"]
    assert "events_by_category.garden" in labels["dv-customer-activity"]

    values = [
        _event("cust_001", "wishlist", "Garden", 12.5),
        _event("cust_001", "wishlist", " garden ", 30.0),
        _event("cust_002", "wishlist", "GARDEN", 7.0),
        _event("cust_002", "purchase", "Garden", 25.0, 2),
        _event("cust_002", "teleport", "garden", 1.0),  # still no such type: quarantined
    ]
    produce_values(stream, values)
    proc = stream.app("--available-now", PLATFORM_CONTRACT_PATH=str(path))
    assert stream.wait(proc) == 0, stream.log_tail()

    [garden] = [d for d in all_docs(stream, "aggregates").values() if d["product_category"] == "garden"]
    assert (garden["events"], garden["wishlists"], garden["purchases"]) == (4, 3, 1)
    assert garden["revenue"] == 25.0 and garden["units"] == 2  # wishlists add no revenue
    assert garden["distinct_customers"] == 2 and garden["contract_version"] == new.version
    customers = all_docs(stream, "customers")
    assert customers["cust_001"]["wishlists"] == 2 and customers["cust_001"]["spend"] == 0
    assert customers["cust_002"]["events_by_category"] == {"garden": 2}
    assert customers["cust_002"]["top_category"] == "garden"
    assert {d["contract_version"] for d in customers.values()} == {new.version}
    [bad] = all_docs(stream, "quarantine").values()
    assert bad["reasons"] == ["unknown_event_type"]

    agg = _gx_results("aggregates", quality.aggregates_frame(stream.es, settings), new)
    assert agg[("expect_column_values_to_be_between", "wishlists")]
    assert agg[("expect_column_values_to_be_in_set", "product_category")]
    assert agg[("expect_table_columns_to_match_set", "")]
    cust = _gx_results("customers", quality.customers_frame(stream.es, settings), new)
    assert cust[("expect_column_values_to_be_between", "wishlists")]
    assert cust[("expect_column_values_to_be_in_set", "top_category")]


def test_reordered_categories_go_on_from_the_same_state(stream: Stream, tmp_path: Path) -> None:
    produce_values(
        stream, [_event("cust_003", "view", "books", 1.0)] * 2 + [_event("cust_003", "view", "toys", 1.0)]
    )
    assert stream.wait(stream.app("--available-now")) == 0, stream.log_tail()
    doc = yaml.safe_load(Path(contract.load().source).read_text(encoding="utf-8"))
    doc["version"] += 1
    doc["categories"]["values"] = ["garden", *reversed(doc["categories"]["values"])]  # every code moves
    path = tmp_path / "customer_event.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    settings = config.load(env={**stream.env, "PLATFORM_CONTRACT_PATH": str(path)}, overrides={})
    es_indices.ensure_templates(stream.es, settings)  # compatible: categories travel by name

    produce_values(
        stream, [_event("cust_003", "view", "BOOKS", 1.0), _event("cust_003", "view", "garden", 1.0)]
    )
    assert stream.wait(stream.app("--available-now", PLATFORM_CONTRACT_PATH=str(path))) == 0, (
        stream.log_tail()
    )
    customer = all_docs(stream, "customers")["cust_003"]
    assert customer["events_by_category"] == {"books": 3, "toys": 1, "garden": 1}
    assert customer["top_category"] == "books"
    events: Counter[str] = Counter()
    for d in all_docs(stream, "aggregates").values():
        events[d["product_category"]] += d["events"]
    assert events == {"books": 3, "toys": 1, "garden": 1}
