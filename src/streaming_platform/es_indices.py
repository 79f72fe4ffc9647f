"""Index templates (explicit, strict mappings) of every index the streaming app writes.

One template per index name from the configuration (``es.index.aggregates``, ``.customers``,
``.quarantine``, ``.runtime``), matching that name and its versions.

Versions (a reprocess writes a new one beside the live one): the app writes concrete indices
``<name>-v<N>``, and ``<name>`` is an alias of the live version, which every reader (dashboard,
Kibana, GX, health) uses. :func:`point_aliases` moves all four aliases to another version in one
atomic request, so readers never see a gap or a mix of versions. An index made before versions
existed is version 0 (``<name>`` itself); the first switch replaces it. ``dynamic: strict`` turns an
unexpected field into a failed write (the batch is retried, the bug is seen) instead of a
mapping explosion. Only core field types are used: the embedded node has no mapper-extras
(no ``scaled_float``) and no analysis-common, so money is kept as exact integer cents (``long``)
next to a ``double`` for display.

:func:`ensure_templates` is idempotent (the platform_setup DAG calls it): it compares a hash of
the desired body, stored in the template's ``_meta``, and reports created / unchanged / updated.
It also creates each index when missing, so Kibana and the dashboard find them before data.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from streaming_platform import contract as ct
from streaming_platform.config import Settings

LONG = {"type": "long"}
INT = {"type": "integer"}
DOUBLE = {"type": "double"}
# Lucene refuses a term over 32766 bytes, and with it the whole document. A longer value (e.g. a
# 40 KB Kafka key of a quarantined record) is kept in _source but not indexed: 1024 characters
# are at most 4 KB of UTF-8, and ids and codes are far shorter.
KEYWORD_IGNORE_ABOVE = 1024
KEYWORD = {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
DATE = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
BOOL = {"type": "boolean"}


def _counts_by_type(contract: ct.Contract) -> dict[str, Any]:
    """One count per event type of the contract (its ``field``)."""
    return {t.field: LONG for t in contract.event_types}


def aggregates_properties(contract: ct.Contract) -> dict[str, Any]:
    return {
        "window_start": DATE,
        "window_end": DATE,
        "product_category": KEYWORD,
        "events": LONG,
        **_counts_by_type(contract),
        "units": LONG,  # quantity of the type that adds units (purchases)
        "purchase_cents": LONG,  # of the type that adds to revenue
        "refund_cents": LONG,  # of the type that subtracts from it
        "revenue": DOUBLE,  # (purchases - refunds) in currency units
        "purchase_amount": DOUBLE,
        "refund_amount": DOUBLE,
        "avg_order_value": DOUBLE,  # purchase_amount / purchases (0 when none)
        "distinct_customers": LONG,
        "late_events": LONG,  # events of the window that came after the watermark had passed them
        "contract_version": INT,  # the event contract the document was computed under
        "batch_id": LONG,  # micro-batch that last wrote the document
        "updated_at": DATE,
    }


# The customer documents are rewritten whole about once a second per active customer: their
# numbers and dates are kept in doc values only (no inverted index / points tree to rebuild on
# every write). Elasticsearch still filters, sorts and aggregates on them (doc-values search,
# field_caps: searchable and aggregatable); the keywords people filter on stay indexed.
def _doc_values(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "index": False}


def customers_properties(contract: ct.Contract) -> dict[str, Any]:
    return {
        "customer_id": KEYWORD,
        "total_events": _doc_values(LONG),
        **{name: _doc_values(spec) for name, spec in _counts_by_type(contract).items()},
        "spend_cents": _doc_values(LONG),
        "spend": _doc_values(DOUBLE),  # sum of purchase amounts
        "refund_cents": _doc_values(LONG),
        "refund_amount": _doc_values(DOUBLE),
        "first_seen": _doc_values(DATE),
        "last_seen": _doc_values(DATE),
        "last_location": KEYWORD,
        "top_category": KEYWORD,
        "events_by_category": {
            "type": "object",
            "dynamic": "strict",
            "properties": {c: _doc_values(LONG) for c in contract.categories.values},
        },
        "contract_version": _doc_values(INT),
        "batch_id": _doc_values(LONG),
        "updated_at": _doc_values(DATE),
    }


QUARANTINE_PROPERTIES: dict[str, Any] = {
    "topic": KEYWORD,
    "partition": INT,
    "offset": LONG,
    "kafka_timestamp": DATE,
    "key": KEYWORD,
    "reasons": KEYWORD,  # every reason code (array)
    "reason": KEYWORD,  # the first one, for simple terms aggregations
    "raw": {"type": "text", "index": False},  # UTF-8 text, or base64 of the bytes
    "raw_encoding": KEYWORD,  # "utf-8" | "base64"
    "raw_truncated": BOOL,
    "size_bytes": INT,
    "event_id": KEYWORD,  # when it could be read (e.g. duplicates)
    "batch_id": LONG,
    "quarantined_at": DATE,
}

RUNTIME_PROPERTIES: dict[str, Any] = {
    "batch_id": LONG,
    "query_id": KEYWORD,
    "timestamp": DATE,
    "input_rows": LONG,
    "valid_rows": LONG,
    "quarantined": LONG,
    "duplicates": LONG,
    "dropped_late": LONG,
    "error_rate": DOUBLE,
    "duration_ms": LONG,
    "rows_per_second": DOUBLE,
    "latency_p50_ms": LONG,
    "latency_p95_ms": LONG,
    "latency_max_ms": LONG,
    "event_time_lag_ms": LONG,
    "watermark": DATE,
    "offsets_processed": LONG,
    "offset_ranges": KEYWORD,  # "topic/partition:from-to" per partition (format_offset_range)
    "aggregates_written": LONG,  # window × category documents
    "customers_written": LONG,  # customer documents (spark.customers.write.interval paces them)
    "customers_through_batch": LONG,  # every customer change of batches ≤ this id is written
    "customers_timestamp": DATE,  # when the batch's customer documents became searchable
    "write_ms": LONG,  # making the batch's documents searchable (refresh) and reporting it
    "reasons": {"type": "object", "dynamic": True},  # reason code -> count (bounded set of codes)
}


_OFFSET_RANGE = re.compile(r"^(?P<topic>.+)/(?P<partition>\d+):(?P<first>-?\d+)-(?P<last>-?\d+)$")


def format_offset_range(topic: str, partition: int, first: int, last: int) -> str:
    """One entry of a runtime-metrics document's ``offset_ranges``: ``"topic/partition:first-last"``."""
    return f"{topic}/{partition}:{first}-{last}"


def parse_offset_range(text: str) -> tuple[str, int, int, int] | None:
    """``"topic/partition:first-last"`` → (topic, partition, first, last); None if malformed."""
    m = _OFFSET_RANGE.match(text)
    if m is None:
        return None
    return m["topic"], int(m["partition"]), int(m["first"]), int(m["last"])


def _template(
    index: str,
    properties: dict[str, Any],
    doc: str,
    settings: dict[str, Any],
    replicas: int,
    contract: ct.Contract,
) -> dict[str, Any]:
    body = {
        "index_patterns": [index, f"{index}-v*"],
        "priority": 200,
        "template": {
            "settings": {
                "number_of_shards": 1,
                # es.replicas: 0 on one node (a replica could never be assigned and would keep
                # the index yellow), 1 on the two-node cluster (either node holds every document).
                "number_of_replicas": replicas,
                "refresh_interval": "1s",
                **settings,
            },
            "mappings": {"dynamic": "strict", "properties": properties},
        },
    }
    # The contract the mappings were derived from: the next setup checks a new one against it.
    installed = ct.to_doc(contract)
    digest = hashlib.sha256(json.dumps([body, installed], sort_keys=True).encode()).hexdigest()[:16]
    body["_meta"] = {
        "managed_by": "streaming_platform",
        "description": doc,
        "version_hash": digest,
        "contract": installed,
    }
    return body


# The app refreshes the aggregates and customers indices itself right after each write (their
# latency is measured to that refresh). Elasticsearch's own refresh every second only cut a
# segment in the middle of a write: without it, ~7 % less Elasticsearch CPU at 45k events/s
# (bench/README.md). Runtime metrics and quarantine keep the periodic refresh.
SELF_REFRESHED: dict[str, Any] = {"refresh_interval": "-1"}

# The customer index is rewritten about once a second per active customer, so its segments soon
# hold only deleted documents and Lucene drops them whole, for free. Merging them first (the
# default tier of 10 segments) is work thrown away a second later: a tier of 20 cut
# Elasticsearch's CPU by ~9 % at 45k events/s (bench/README.md).
CUSTOMERS_SETTINGS: dict[str, Any] = {**SELF_REFRESHED, "merge.policy.segments_per_tier": 20}


def _spec(contract: ct.Contract) -> dict[str, tuple[dict[str, Any], str, dict[str, Any]]]:
    """es.index.<key> → (mapping properties, description, index settings beyond the common ones)
    of every index the streaming app writes; the event-shaped ones follow the contract."""
    return {
        "aggregates": (
            aggregates_properties(contract),
            "category aggregates per event-time window",
            SELF_REFRESHED,
        ),
        "customers": (
            customers_properties(contract),
            "one activity summary per customer",
            CUSTOMERS_SETTINGS,
        ),
        "quarantine": (QUARANTINE_PROPERTIES, "invalid records with every reason", {}),
        "runtime": (RUNTIME_PROPERTIES, "streaming app health per micro-batch", {}),
    }


APP_INDEX_KEYS = ("aggregates", "customers", "quarantine", "runtime")


def app_indices(settings: Settings) -> list[str]:
    """The names of the indices the streaming app writes (``es.index.<key>``)."""
    return [settings[f"es.index.{key}"] for key in APP_INDEX_KEYS]


def versioned(name: str, version: int) -> str:
    """The concrete index of ``version`` behind alias ``name`` (version 0: ``name`` itself)."""
    return f"{name}-v{version}" if version else name


def version_indices(settings: Settings, version: int) -> dict[str, str]:
    """es.index key → the concrete index of that version, for every index the app writes."""
    return {key: versioned(settings[f"es.index.{key}"], version) for key in APP_INDEX_KEYS}


_VERSION = re.compile(r"-v(\d+)$")


def versions(es: Any, settings: Settings) -> tuple[int | None, list[int]]:
    """(the live version: the one the aggregates alias points at, 0 for an unversioned index,
    None if there is none yet; every version that has an aggregates index)."""
    name = settings["es.index.aggregates"]
    live, known = None, []
    for index, body in _concrete(es, f"{name},{name}-v*").items():
        m = _VERSION.search(index) if index != name else None
        version = int(m.group(1)) if m else 0
        known.append(version)
        if index == name or name in body.get("aliases", {}):
            live = version
    return live, sorted(known)


def _concrete(es: Any, pattern: str) -> dict[str, Any]:
    """The concrete indices a pattern names (through aliases), with their aliases."""
    found = es.options(ignore_status=404).indices.get(index=pattern, allow_no_indices=True).body
    return {} if "error" in found else found


def ensure_version(es: Any, settings: Settings, version: int) -> list[str]:
    """Create the version's indices that are missing (the templates apply); the names created."""
    created = []
    for index in version_indices(settings, version).values():
        if not es.indices.exists(index=index):
            es.options(ignore_status=400).indices.create(index=index)  # a concurrent setup: fine
            created.append(index)
    return created


def point_aliases(es: Any, settings: Settings, version: int) -> None:
    """Point every app alias at ``version``, atomically (one request). An unversioned index of the
    alias's name is removed in the same request (its data is the version being replaced)."""
    actions: list[dict[str, Any]] = []
    for key, index in version_indices(settings, version).items():
        name = settings[f"es.index.{key}"]
        if es.options(ignore_status=404).indices.exists_alias(name=name):
            actions.append({"remove": {"index": f"{name}-v*", "alias": name}})
        elif es.indices.exists(index=name):
            actions.append({"remove_index": {"index": name}})
        actions.append({"add": {"index": index, "alias": name, "is_write_index": True}})
    es.indices.update_aliases(actions=actions)


def delete_app_indices(es: Any, settings: Settings) -> None:
    """Delete every version of the app's indices (tests and benches clean up with it)."""
    names = _concrete(es, ",".join(f"{n},{n}-v*" for n in app_indices(settings)))
    if names:  # by name: Elasticsearch refuses wildcard deletes
        es.options(ignore_status=404).indices.delete(index=",".join(names))


def templates(settings: Settings) -> dict[str, dict[str, Any]]:
    """Template name -> body for every index the streaming app writes (``contract.path``'s contract)."""
    out = {}
    contract = ct.load(settings["contract.path"])
    for key, (props, doc, index_settings) in _spec(contract).items():
        index = settings[f"es.index.{key}"]
        out[f"{index}-template"] = _template(
            index, props, doc, index_settings, settings["es.replicas"], contract
        )
    return out


def mappings(settings: Settings) -> dict[str, dict[str, Any]]:
    """Index name -> its mapping properties (for Kibana saved-object and dashboard checks)."""
    return {
        body["index_patterns"][0]: body["template"]["mappings"]["properties"]
        for body in templates(settings).values()
    }


@dataclass
class TemplateReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    indices_created: list[str] = field(default_factory=list)
    indices_updated: list[str] = field(default_factory=list)  # took a changed template's settings
    contract: list[str] = field(default_factory=list)  # "name vN", and "(was vM)" after a change

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "contract": self.contract,
            "created": self.created,
            "unchanged": self.unchanged,
            "updated": self.updated,
            "indices_created": self.indices_created,
            "indices_updated": self.indices_updated,
        }


# Index settings fixed at creation; a template's others can be put on an existing index.
_STATIC_SETTINGS = ("number_of_shards",)


def _dynamic_settings(body: dict[str, Any]) -> dict[str, Any]:
    """The settings of a template body an existing index can take (all but the static ones)."""
    return {k: v for k, v in body["template"]["settings"].items() if k not in _STATIC_SETTINGS}


def _existing_hash(es: Any, name: str) -> str | None:
    """The version hash of template ``name``; "" if it exists unmanaged, None if absent."""
    resp = es.options(ignore_status=404).indices.get_index_template(name=name)
    found = resp.get("index_templates", [])
    if not found:
        return None
    return str(found[0]["index_template"].get("_meta", {}).get("version_hash", ""))


def installed_contract(es: Any, settings: Settings) -> ct.Contract | None:
    """The contract the aggregates index's template was last put from (None: none yet)."""
    name = f"{settings['es.index.aggregates']}-template"
    found = es.options(ignore_status=404).indices.get_index_template(name=name).get("index_templates", [])
    doc = found[0]["index_template"].get("_meta", {}).get("contract") if found else None
    return ct.parse(doc, f"index template {name}") if doc else None


class IncompatibleContract(ValueError):
    """The configured contract would break what the installed one promised."""


def ensure_templates(es: Any, settings: Settings) -> TemplateReport:
    """Check the contract against the installed one; put missing or outdated templates (new
    fields go on the existing indices); create version 1 behind the aliases when there is no
    version yet; report what was done."""
    report = TemplateReport()
    bodies = templates(settings)
    new = ct.load(settings["contract.path"])
    old = installed_contract(es, settings)
    if old is not None:
        problems = ct.compatibility(old, new)
        if problems:
            raise IncompatibleContract(
                f"contract {new.source} (v{new.version}) is not compatible with the installed "
                f"v{old.version}: {'; '.join(problems)}. Revert the change, or install it under new "
                "index names (es.index.*) with a new checkpoint."
            )
    was = f" (was v{old.version})" if old is not None and old.version != new.version else ""
    report.contract.append(f"{new.name} v{new.version}{was}")
    changed = []
    for name, body in bodies.items():
        current = _existing_hash(es, name)
        if current == body["_meta"]["version_hash"]:
            report.unchanged.append(name)
        else:
            es.indices.put_index_template(name=name, **body)
            (report.created if current is None else report.updated).append(name)
            changed.append(body)
    # The indices there were before (the ones created below take the templates as they are).
    existing = [",".join(_concrete(es, ",".join(body["index_patterns"]))) for body in changed]
    live = versions(es, settings)[0]
    if live is None and any(_concrete(es, name) for name in app_indices(settings)):
        live = 0  # an older platform's unversioned indices (some of them): version 0
    report.indices_created += ensure_version(es, settings, 1 if live is None else live)
    if live is None:
        point_aliases(es, settings, 1)
    for body, names in zip(changed, existing, strict=True):
        # A template applies to new indices only: bring the existing ones' settings and mapping
        # along (e.g. an upgraded platform's refresh tier, a keyword's ignore_above), every
        # version. A change Elasticsearch cannot make in place (a field's type) fails, loudly.
        if not names:
            continue
        es.indices.put_settings(index=names, settings=_dynamic_settings(body))
        es.indices.put_mapping(index=names, **body["template"]["mappings"])
        report.indices_updated.append(body["index_patterns"][0])
    return report
