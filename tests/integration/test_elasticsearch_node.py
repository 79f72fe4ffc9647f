"""The embedded Elasticsearch node, used through the Airflow Elasticsearch provider's hook."""

from __future__ import annotations

import os
import uuid

import pytest
from elasticsearch import helpers

from streaming_platform import config
from streaming_platform.clients import es_client
from streaming_platform.runtime import elasticsearch, process

N_DOCS = 10_000
CATEGORIES = ["electronics", "books", "home", "toys", "sports"]


def doc(i: int) -> dict:
    return {
        "event_id": f"e{i}",
        "category": CATEGORIES[i % len(CATEGORIES)],
        "customer_id": f"c{i % 250}",
        "amount": round((i % 100) * 1.5, 2),
        "timestamp": f"2026-01-01T00:{(i // 1000) % 60:02d}:00Z",
    }


def expected_revenue_by_category() -> dict[str, float]:
    out: dict[str, float] = {}
    for i in range(N_DOCS):
        d = doc(i)
        out[d["category"]] = out.get(d["category"], 0.0) + d["amount"]
    return out


@pytest.fixture(scope="module")
def hook(es_up: config.Settings):
    from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchPythonHook

    return ElasticsearchPythonHook(hosts=[es_up["es.url"]])


@pytest.fixture(scope="module")
def loaded_index(es_up: config.Settings) -> str:
    es = es_client(es_up)
    name = f"it-events-{uuid.uuid4().hex[:8]}"
    es.indices.put_index_template(
        name=f"{name}-template",
        index_patterns=[f"{name}*"],
        template={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "event_id": {"type": "keyword"},
                    "category": {"type": "keyword"},
                    "customer_id": {"type": "keyword"},
                    "amount": {"type": "double"},
                    "timestamp": {"type": "date"},
                },
            },
        },
    )
    actions = ({"_index": name, "_id": f"e{i}", "_source": doc(i)} for i in range(N_DOCS))
    ok, errors = helpers.bulk(es, actions, chunk_size=2000, raise_on_error=False)
    assert (ok, errors) == (N_DOCS, [])
    es.indices.refresh(index=name)
    return name


def test_template_mapping_is_strict(es_up, loaded_index):
    es = es_client(es_up)
    assert es.indices.get_mapping(index=loaded_index)[loaded_index]["mappings"]["dynamic"] == "strict"
    with pytest.raises(Exception, match="strict_dynamic_mapping_exception"):
        es.index(index=loaded_index, document={"unexpected": 1})


def test_count_and_aggregate_through_the_airflow_hook(hook, loaded_index):
    conn = hook.get_conn if not callable(hook.get_conn) else hook.get_conn()
    assert conn.count(index=loaded_index)["count"] == N_DOCS
    hits = hook.search(
        index=loaded_index,
        query={
            "size": 0,
            "track_total_hits": True,
            "aggs": {
                "by_category": {
                    "terms": {"field": "category", "size": 10},
                    "aggs": {"revenue": {"sum": {"field": "amount"}}},
                },
                "customers": {"cardinality": {"field": "customer_id"}},
            },
        },
    )
    assert hits["total"]["value"] == N_DOCS
    result = conn.search(
        index=loaded_index,
        size=0,
        aggs={
            "by_category": {
                "terms": {"field": "category"},
                "aggs": {"revenue": {"sum": {"field": "amount"}}},
            },
            "customers": {"cardinality": {"field": "customer_id"}},
        },
    )
    revenue = {b["key"]: b["revenue"]["value"] for b in result["aggregations"]["by_category"]["buckets"]}
    assert revenue == pytest.approx(expected_revenue_by_category())
    assert result["aggregations"]["customers"]["value"] == 250


def test_node_restart_keeps_documents(es_up, loaded_index, paths):
    assert process.stop("elasticsearch", paths, 120), "elasticsearch was not started by the platform"
    process.start(elasticsearch.spec(es_up), paths, es_up["bind.host"])
    assert es_client(es_up).count(index=loaded_index)["count"] == N_DOCS


def test_customer_documents_are_filtered_sorted_and_summed_on_doc_values(es_up):
    """The customer mapping keeps numbers and dates in doc values only (es_indices): Kibana and the
    dashboard still filter, sort and aggregate on them. The node takes the templates' settings."""
    import numpy as np
    import orjson

    from streaming_platform.es_indices import (
        APP_INDEX_KEYS,
        CUSTOMERS_SETTINGS,
        delete_app_indices,
        ensure_templates,
        templates,
    )
    from streaming_platform.streaming.documents import customer_sources
    from tests.doc_rows import CUSTOMER_WIDTH, LAST, N_TYPES, SPEND, customer_rows

    run = f"it-dv-{uuid.uuid4().hex[:8]}"
    names = {f"PLATFORM_ES_INDEX_{k.upper()}": f"{run}-{k}" for k in APP_INDEX_KEYS}
    settings = config.load(env={**os.environ, "PLATFORM_ES_URL": es_up["es.url"], **names})
    es = es_client(settings)
    ensure_templates(es, settings)
    try:
        # Every index (version 1, behind its alias) took its template's settings (e.g. the
        # customers' refresh and merge tier).
        got = es.indices.get_settings(index=f"{run}-*", flat_settings=True)
        for body in templates(settings).values():
            index_settings = got[f"{body['index_patterns'][0]}-v1"]["settings"]
            for key, value in body["template"]["settings"].items():
                assert index_settings[f"index.{key}"] == str(value), (body["index_patterns"], key)
        assert got[f"{run}-customers-v1"]["settings"]["index.merge.policy.segments_per_tier"] == str(
            CUSTOMERS_SETTINGS["merge.policy.segments_per_tier"]
        )
        rows = np.random.default_rng(3).integers(1, 10_000, size=(50, CUSTOMER_WIDTH))
        rows[:, LAST] += 1_790_000_000_000
        ids = [f"c{i}" for i in range(len(rows))]
        sources = customer_sources(customer_rows(ids, ["Rome"] * len(ids), rows), 1, 0)
        ops = [
            line
            for cid, src in zip(ids, sources, strict=True)
            for line in (orjson.dumps({"index": {"_index": f"{run}-customers", "_id": cid}}), src)
        ]
        assert not es.bulk(operations=ops, refresh=True)["errors"]
        result = es.search(
            index=f"{run}-customers",
            query={"bool": {"filter": [{"range": {"spend_cents": {"gte": 5_000}}}]}},
            sort=[{"last_seen": "desc"}],
            size=100,
            aggs={"events": {"sum": {"field": "total_events"}}},
        )
        wanted = rows[:, SPEND] >= 5_000
        assert [h["_id"] for h in result["hits"]["hits"]] == [
            ids[i] for i in sorted(np.flatnonzero(wanted), key=lambda i: -rows[i, LAST])
        ]
        assert result["aggregations"]["events"]["value"] == rows[wanted, :N_TYPES].sum()
    finally:
        for name in templates(settings):
            es.options(ignore_status=404).indices.delete_index_template(name=name)
        delete_app_indices(es, settings)


def test_disk_watermarks_are_on(es_up):
    """The node keeps Elasticsearch's disk watermarks: a full disk blocks writes, it is not filled."""
    es = es_client(es_up)
    node_settings = next(iter(es.nodes.info(metric="settings")["nodes"].values()))["settings"]
    assert "threshold_enabled" not in str(node_settings.get("cluster", {}).get("routing", {}))
    got = es.cluster.get_settings(include_defaults=True, flat_settings=True)
    effective = {**got["defaults"], **got["persistent"], **got["transient"]}
    assert effective["cluster.routing.allocation.disk.threshold_enabled"] == "true"
    assert effective["cluster.routing.allocation.disk.watermark.flood_stage"] == "95%"


def _run_settings(es_up: config.Settings, prefix: str) -> config.Settings:
    from streaming_platform.es_indices import APP_INDEX_KEYS

    run = f"{prefix}-{uuid.uuid4().hex[:8]}"
    names = {f"PLATFORM_ES_INDEX_{k.upper()}": f"{run}-{k}" for k in APP_INDEX_KEYS}
    return config.load(env={**os.environ, "PLATFORM_ES_URL": es_up["es.url"], **names})


def _drop(es, settings: config.Settings) -> None:
    from streaming_platform.es_indices import delete_app_indices, templates

    for name in templates(settings):
        es.options(ignore_status=404).indices.delete_index_template(name=name)
    delete_app_indices(es, settings)


def test_quarantined_record_with_a_40_kb_key_is_indexed_also_in_an_older_index(es_up):
    """An immense keyword (a 40 KB Kafka key) is kept in _source and not indexed, instead of
    rejecting the document; an index made before the cap gets it from ensure_templates."""
    import orjson

    from streaming_platform.es_indices import KEYWORD_IGNORE_ABOVE, ensure_templates, templates
    from streaming_platform.streaming.sink import quarantine_doc

    settings = _run_settings(es_up, "it-kw")
    es = es_client(settings)
    index = settings["es.index.quarantine"]
    key = b"k" * 40_000
    doc = quarantine_doc(
        "customer-events", 0, 7, 1_790_000_000_000, key, b"not json", ["not_json"], 3, "e" * 5000
    )
    doc.update(
        key=key.decode(), event_id="e" * 5000
    )  # as an older writer sent them: the sink bounds both now

    def bulk_errors() -> list:
        ops = [orjson.dumps({"index": {"_index": index, "_id": "customer-events-0-7"}}), orjson.dumps(doc)]
        resp = es.bulk(operations=ops, refresh=True)
        return [item["index"].get("error") for item in resp["items"] if item["index"].get("error")]

    try:
        # As an older platform made it: the same mapping without the keyword cap.
        body = templates(settings)[f"{index}-template"]["template"]
        uncapped = {
            name: {k: v for k, v in spec.items() if k != "ignore_above"}
            for name, spec in body["mappings"]["properties"].items()
        }
        es.indices.create(
            index=index, settings=body["settings"], mappings={"dynamic": "strict", "properties": uncapped}
        )
        [error] = bulk_errors()
        assert error["type"] == "document_parsing_exception" and "immense term" in str(error)
        report = ensure_templates(es, settings)
        assert index in report.indices_updated
        assert bulk_errors() == []
        hit = es.get(index=index, id="customer-events-0-7")["_source"]
        assert len(hit["key"]) == 40_000 and len(hit["event_id"]) == 5000
        # Searchable by its other fields; a key within the cap still is by the key itself.
        assert es.count(index=index, query={"term": {"reason": "not_json"}})["count"] == 1
        short = {**doc, "key": "x" * KEYWORD_IGNORE_ABOVE, "offset": 8}
        es.index(index=index, id="customer-events-0-8", document=short, refresh=True)
        assert es.count(index=index, query={"term": {"key": "x" * KEYWORD_IGNORE_ABOVE}})["count"] == 1
    finally:
        _drop(es, settings)


def test_versions_behind_aliases_switch_atomically(es_up):
    """A new platform gets version 1 behind the aliases; an older platform's unversioned index is
    version 0 and is replaced by the switch; the aliases move together."""
    from streaming_platform.es_indices import (
        APP_INDEX_KEYS,
        ensure_templates,
        ensure_version,
        point_aliases,
        version_indices,
        versions,
    )

    settings = _run_settings(es_up, "it-versions")
    es = es_client(settings)
    try:
        ensure_templates(es, settings)
        assert versions(es, settings) == (1, [1])
        assert ensure_version(es, settings, 2) == list(version_indices(settings, 2).values())
        assert versions(es, settings) == (1, [1, 2])
        point_aliases(es, settings, 2)
        assert versions(es, settings) == (2, [1, 2])
        for key in APP_INDEX_KEYS:
            assert list(es.indices.get_alias(name=settings[f"es.index.{key}"])) == [
                f"{settings[f'es.index.{key}']}-v2"
            ]
    finally:
        _drop(es, settings)
    # An older platform's indices: the name is the index itself (version 0).
    for key in APP_INDEX_KEYS:
        es.indices.create(index=settings[f"es.index.{key}"])
    try:
        ensure_templates(es, settings)
        assert versions(es, settings) == (0, [0])
        ensure_version(es, settings, 2)
        point_aliases(es, settings, 2)
        assert versions(es, settings) == (2, [2])
    finally:
        _drop(es, settings)
