"""Kibana saved objects: their event-shaped parts regenerated from the event contract.

``kibana/saved_objects.ndjson`` holds the data views, visualizations and the dashboard. What the
contract decides is rewritten by :func:`regenerate`: the labels of the per-type counts and of the
per-category fields (the data views' ``fieldAttrs``), and the per-type metrics of the "events by
category" visualization. The committed file is the output for the shipped contract (a test checks
it: ``python -m streaming_platform.kibana_objects`` rewrites it); ``platform_setup`` renders the
configured contract's version (:func:`render`) and imports that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streaming_platform import contract as ct
from streaming_platform.config import REPO_ROOT, Settings

NDJSON = REPO_ROOT / "kibana" / "saved_objects.ndjson"
AGGREGATES_VIEW, CUSTOMERS_VIEW = "dv-pipeline-metrics", "dv-customer-activity"
EVENTS_VISUALIZATION = "vis-category-events"


def read(path: Path = NDJSON) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def dumps(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objects)


def field_labels(contract: ct.Contract, view: str) -> dict[str, str]:
    """Field → label of the contract-shaped fields of a data view."""
    labels = {t.field: t.label for t in contract.event_types}
    if view == CUSTOMERS_VIEW:
        labels |= {f"events_by_category.{c}": f"Events: {c}" for c in contract.categories.values}
    return labels


def _events_aggs(state: dict[str, Any], contract: ct.Contract) -> list[dict[str, Any]]:
    """The visualization's aggregations: the total (id 1: the buckets order by it), one sum per
    event type, then its buckets."""
    total = [a for a in state["aggs"] if a["id"] == "1"]
    buckets = [a for a in state["aggs"] if a["schema"] != "metric"]
    per_type = [
        {
            "id": f"type-{t.name}",
            "enabled": True,
            "type": "sum",
            "schema": "metric",
            "params": {"field": t.field, "customLabel": t.label},
        }
        for t in contract.event_types
    ]
    return total + per_type + buckets


def regenerate(objects: list[dict[str, Any]], contract: ct.Contract) -> list[dict[str, Any]]:
    """The objects with their contract-derived parts rewritten for ``contract``."""
    out = []
    for obj in objects:
        obj = json.loads(json.dumps(obj))  # a copy
        attrs = obj["attributes"]
        if obj["type"] == "index-pattern" and obj["id"] in (AGGREGATES_VIEW, CUSTOMERS_VIEW):
            labels = field_labels(contract, obj["id"])
            attrs["fieldAttrs"] = json.dumps({f: {"customLabel": label} for f, label in labels.items()})
        if obj["id"] == EVENTS_VISUALIZATION:
            state = json.loads(attrs["visState"])
            state["aggs"] = _events_aggs(state, contract)
            attrs["visState"] = json.dumps(state)
        out.append(obj)
    return out


def render(settings: Settings) -> Path:
    """Write the objects for the configured contract under the state folder; their path."""
    path = settings.home / "kibana" / "saved_objects.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(regenerate(read(), ct.load(settings["contract.path"]))), encoding="utf-8")
    return path


if __name__ == "__main__":  # rewrite the committed file for the shipped contract
    NDJSON.write_text(dumps(regenerate(read(), ct.current())), encoding="utf-8")
