"""Kibana saved objects, built from the event contract and the index names of the settings.

:func:`build` makes the data views (one per index the streaming app writes), the Lens
visualizations and the dashboard. What the contract decides: the labels of the per-type counts and
of the per-category fields (the data views' ``fieldAttrs``), and the per-type series of the "events
by category" chart. ``kibana/saved_objects.ndjson`` is the output for the shipped contract and the
default settings (a test checks it; ``python -m streaming_platform.kibana_objects`` rewrites it);
``platform_setup`` renders the configured contract's version (:func:`render`) and imports that.

Every object carries the migration versions Kibana 8.19 itself writes on export, so Kibana
imports them as current documents (see ``TYPE_MIGRATION_VERSIONS``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streaming_platform import config
from streaming_platform import contract as ct
from streaming_platform.config import REPO_ROOT, Settings

NDJSON = REPO_ROOT / "kibana" / "saved_objects.ndjson"
AGGREGATES_VIEW, CUSTOMERS_VIEW = "dv-pipeline-metrics", "dv-customer-activity"
QUARANTINE_VIEW, RUNTIME_VIEW = "dv-pipeline-quarantine", "dv-pipeline-runtime-metrics"
EVENTS_VISUALIZATION = "lens-category-events"
DASHBOARD = "dash-streaming-platform"

# Kibana 8.19's migration versions, from its saved-object type registrations (elastic/kibana):
# - coreMigrationVersion: the last core transform is 8.8.0
#   (src/core/packages/saved-objects/migration-server-internal/src/document_migrator/migrations/
#   index.ts), so 8.8+ writes "8.8.0" on every object, whatever the Kibana version.
# - index-pattern: its last migration is 8.0.0 and it has no model versions
#   (src/platform/plugins/shared/data_views/server/saved_objects/).
# - lens: its last migration is 8.9.0 (x-pack/platform/plugins/shared/lens/server/migrations/
#   saved_object_migrations.ts); its first model version came with 9.2 (elastic/kibana#229534).
# - dashboard: model versions, written as "10.<n>.0" (src/platform/plugins/shared/dashboard/
#   server/dashboard_saved_object/dashboard_saved_object.ts); 3 holds the collapsible sections
#   (elastic/kibana#222450), a feature of 8.19 (#222103, the 8.19 backport of #220877); 4 came
#   with 9.x access control.
# Kibana refuses a type version newer than it knows, and migrates older ones on import.
CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSIONS = {"index-pattern": "8.0.0", "lens": "8.9.0", "dashboard": "10.3.0"}

# Lens operation → the Elasticsearch field types it aggregates (the static test checks mappings).
NUMERIC = ("long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float")
OPERATION_FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "date_histogram": ("date", "date_nanos"),
    "terms": ("keyword", "boolean", "ip", *NUMERIC),
    **{op: NUMERIC for op in ("sum", "average", "max", "min", "median")},
}
RECORDS = "___records___"  # Lens's "count of records" pseudo field


def read(path: Path = NDJSON) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def dumps(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objects)


def _saved_object(kind: str, oid: str, attributes: dict[str, Any], references: list[Any]) -> dict[str, Any]:
    return {
        "type": kind,
        "id": oid,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS[kind],
    }


def field_labels(contract: ct.Contract, view: str) -> dict[str, str]:
    """Field → label of the contract-shaped fields of a data view."""
    labels = {t.field: t.label for t in contract.event_types}
    if view == CUSTOMERS_VIEW:
        labels |= {f"events_by_category.{c}": f"Events: {c}" for c in contract.categories.values}
    return labels


def _data_views(settings: Settings, contract: ct.Contract) -> list[dict[str, Any]]:
    views = [
        (AGGREGATES_VIEW, "aggregates", "window_start"),
        (CUSTOMERS_VIEW, "customers", "last_seen"),
        (QUARANTINE_VIEW, "quarantine", "quarantined_at"),
        (RUNTIME_VIEW, "runtime", "timestamp"),
    ]
    out = []
    for oid, key, time_field in views:
        index = settings[f"es.index.{key}"]
        attrs = {"title": index, "name": index, "timeFieldName": time_field}
        labels = field_labels(contract, oid) if oid in (AGGREGATES_VIEW, CUSTOMERS_VIEW) else {}
        if labels:
            attrs["fieldAttrs"] = json.dumps({f: {"customLabel": label} for f, label in labels.items()})
        out.append(_saved_object("index-pattern", oid, attrs, []))
    return out


# ----------------------------------------------------------------------------- Lens columns


def _metric(operation: str, field: str, label: str) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": operation,
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def _count(label: str) -> dict[str, Any]:
    return _metric("count", RECORDS, label)


def _date_histogram(field: str) -> dict[str, Any]:
    return {
        "label": field,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": field,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def _terms(field: str, label: str, size: int, order_by: str) -> dict[str, Any]:
    """The top ``size`` values of ``field`` by the metric column ``order_by``."""
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": False,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def _with_layer(visualization: dict[str, Any], layer: str) -> dict[str, Any]:
    if "layers" in visualization:  # XY and partition charts: a list of layers
        return {**visualization, "layers": [{**lyr, "layerId": layer} for lyr in visualization["layers"]]}
    return {**visualization, "layerId": layer}  # a datatable: one layer


def _lens(
    oid: str,
    title: str,
    view: str,
    visualization_type: str,
    columns: dict[str, dict[str, Any]],
    visualization: dict[str, Any],
) -> dict[str, Any]:
    """One Lens visualization of one form-based layer (``layer``) over the data view ``view``."""
    layer = "layer"
    state = {
        "datasourceStates": {
            "formBased": {
                "layers": {layer: {"columns": columns, "columnOrder": list(columns), "incompleteColumns": {}}}
            }
        },
        "visualization": _with_layer(visualization, layer),
        "query": {"query": "", "language": "kuery"},
        "filters": [],
        "adHocDataViews": {},
        "internalReferences": [],
    }
    refs = [{"type": "index-pattern", "id": view, "name": f"indexpattern-datasource-layer-{layer}"}]
    attrs = {"title": title, "description": "", "visualizationType": visualization_type, "state": state}
    return _saved_object("lens", oid, attrs, refs)


def _xy(series: str, x: str, accessors: list[str], split: str | None = None) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": accessors,
    }
    if split:
        layer["splitAccessor"] = split
    return {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "preferredSeriesType": series,
        "layers": [layer],
    }


def _over_time(
    oid: str, title: str, view: str, time_field: str, metrics: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    columns = {"time": _date_histogram(time_field), **metrics}
    return _lens(oid, title, view, "lnsXY", columns, _xy("line", "time", list(metrics)))


def _by_category(
    oid: str, title: str, series: str, metrics: dict[str, dict[str, Any]], order_by: str
) -> dict[str, Any]:
    """``metrics`` over window start, one series per product category: the top 10 by ``order_by``
    over the whole time range (the first bucket column is the outer aggregation)."""
    columns = {
        "category": _terms("product_category", "Product category", 10, order_by),
        "time": _date_histogram("window_start"),
        **metrics,
    }
    return _lens(
        oid, title, AGGREGATES_VIEW, "lnsXY", columns, _xy(series, "time", list(metrics), "category")
    )


def _visualizations(contract: ct.Contract) -> list[dict[str, Any]]:
    per_type = {f"type-{t.name}": _metric("sum", t.field, t.label) for t in contract.event_types}
    customers = {
        "customer": _terms("customer_id", "Customer", 10, "spend"),
        "spend": _metric("sum", "spend", "Spend"),
        "purchases": _metric("sum", "purchases", "Purchases"),
        "events": _metric("sum", "total_events", "Events"),
    }
    reasons = {"reason": _terms("reasons", "Reason", 20, "records"), "records": _count("Records")}
    pie = {
        "shape": "donut",
        "layers": [
            {
                "layerType": "data",
                "primaryGroups": ["reason"],
                "metrics": ["records"],
                "numberDisplay": "percent",
                "categoryDisplay": "default",
                "legendDisplay": "default",
                "nestedLegend": False,
            }
        ],
    }
    table = {"layerType": "data", "columns": [{"columnId": c} for c in customers]}
    return [
        _by_category(
            "lens-category-revenue",
            "Revenue by product category over time",
            "line",
            {"revenue": _metric("sum", "revenue", "Revenue")},
            "revenue",
        ),
        _by_category(
            EVENTS_VISUALIZATION,
            "Events by product category over time",
            "area",
            {"events": _metric("sum", "events", "Events"), **per_type},
            "events",
        ),
        _lens(
            "lens-top-customers", "Top customers by spend", CUSTOMERS_VIEW, "lnsDatatable", customers, table
        ),
        _lens("lens-quarantine-reasons", "Quarantine reasons", QUARANTINE_VIEW, "lnsPie", reasons, pie),
        _over_time(
            "lens-throughput",
            "Pipeline throughput (rows per micro-batch and rows/s)",
            RUNTIME_VIEW,
            "timestamp",
            {
                "input": _metric("sum", "input_rows", "Input rows"),
                "quarantined": _metric("sum", "quarantined", "Quarantined"),
                "rate": _metric("average", "rows_per_second", "Rows/s"),
            },
        ),
        _over_time(
            "lens-latency",
            "End-to-end latency (produce → searchable)",
            RUNTIME_VIEW,
            "timestamp",
            {
                "p50": _metric("average", "latency_p50_ms", "p50 ms"),
                "p95": _metric("max", "latency_p95_ms", "p95 ms"),
                "max": _metric("max", "latency_max_ms", "max ms"),
                "duration": _metric("average", "duration_ms", "Batch duration ms"),
            },
        ),
    ]


def _dashboard(panels: list[dict[str, Any]]) -> dict[str, Any]:
    """The panels two per row; Kibana's reference names: ``<panelIndex>:panel_<panelIndex>``."""
    entries, refs = [], []
    for n, panel in enumerate(panels, 1):
        i = str(n)
        grid = {"x": 24 * ((n - 1) % 2), "y": 15 * ((n - 1) // 2), "w": 24, "h": 15, "i": i}
        entries.append(
            {
                "type": "lens",
                "panelIndex": i,
                "gridData": grid,
                "embeddableConfig": {},
                "panelRefName": f"panel_{i}",
            }
        )
        refs.append({"name": f"{i}:panel_{i}", "type": "lens", "id": panel["id"]})
    attrs = {
        "title": "Streaming platform: customer events",
        "description": (
            "Category revenue and counts, top customers, quarantine reasons, pipeline throughput and latency"
        ),
        "panelsJSON": json.dumps(entries),
        "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
        "timeRestore": True,
        "timeFrom": "now-1h",
        "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 10000},
        "kibanaSavedObjectMeta": {
            "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
        },
    }
    return _saved_object("dashboard", DASHBOARD, attrs, refs)


def build(settings: Settings) -> list[dict[str, Any]]:
    """Every saved object for the settings' contract (``contract.path``) and index names."""
    contract = ct.load(settings["contract.path"])
    panels = _visualizations(contract)
    return [*_data_views(settings, contract), *panels, _dashboard(panels)]


def render(settings: Settings) -> Path:
    """Write the objects for the configured contract under the state folder; their path."""
    path = settings.home / "kibana" / "saved_objects.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(build(settings)), encoding="utf-8")
    return path


def defaults() -> Settings:
    """The settings the committed file is built for: the shipped contract, default index names."""
    return config.load(env={}, overrides={})


if __name__ == "__main__":  # rewrite the committed file
    NDJSON.write_text(dumps(build(defaults())), encoding="utf-8")
