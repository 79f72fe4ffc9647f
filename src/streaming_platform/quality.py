"""Data quality of what landed in Elasticsearch: frames, GX suites, reconciliation, results.

Great Expectations has no Elasticsearch data source, so each index is read into a pandas frame
(``search_after`` pages of 5,000, newest first, at most ``quality.max.docs`` documents) and
validated with a pandas data source and a whole-dataframe batch definition, through a GX
checkpoint whose action updates the Data Docs. Suites are JSON in ``expectations/`` (GX 1.x suite
format) whose event-shaped parts come from the event contract (:func:`suite_dict` fills them in:
see :func:`_expand`); each expectation's GX ``severity`` says what a failure means: ``critical``
(GX's default) fails the task, ``warning`` and ``info`` are reported.

A few derived columns make rules of the documents checkable as column expectations:
``window_length_error_s`` (window_end − window_start − configured window), ``window_alignment_s``
(window_start modulo the window), ``type_sum_gap`` (events − the sum of the per-type counts).

Reconciliation (``reconciliation_frame``): every record the app read from Kafka is either
quarantined, counted in the aggregates, or dropped as late — over a *closed* range: micro-batches
0..B where B is the newest completed batch and no document was written by a later one (read,
then re-checked; retried until the app is between batches). "Produced" is what the producer
delivered to the topic in that range: the Kafka offsets the app's batches covered (an idempotent
acks=all producer gives each delivered event exactly one offset).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streaming_platform import config
from streaming_platform import contract as ct
from streaming_platform.config import REPO_ROOT, Settings
from streaming_platform.es_indices import (
    aggregates_properties,
    app_indices,
    customers_properties,
    parse_offset_range,
)
from streaming_platform.validation import LATE_EVENT

if TYPE_CHECKING:  # pandas is imported where frames are made: the dashboard imports this module
    import pandas as pd

SUITES_DIR = REPO_ROOT / "expectations"
SUITES = ("aggregates", "customers", "quarantine", "reconciliation")
SITE_NAME = "platform_data_docs"
PAGE = 5_000
DATE_COLUMNS = ("window_start", "window_end", "first_seen", "last_seen", "quarantined_at", "updated_at")


# ---------------------------------------------------------------------------- GX context and suites


def gx_root(settings: Settings) -> Path:
    return settings.home / "gx"


def data_docs_dir(settings: Settings) -> Path:
    return gx_root(settings) / "data_docs"


def suite_dict(name: str, contract: ct.Contract | None = None) -> dict[str, Any]:
    """The suite ``expectations/<name>.json`` with its contract-derived parts filled in."""
    spec = json.loads((SUITES_DIR / f"{name}.json").read_text())
    return _expand(spec, contract or ct.current())


def _columns(properties: dict[str, Any]) -> list[str]:
    """An index's mapped fields as the frames name them (objects flattened: ``a.b``)."""
    out = []
    for key, spec in properties.items():
        nested = spec.get("properties") if spec.get("type") == "object" else None
        out += [f"{key}.{sub}" for sub in nested] if nested else [key]
    return out


def _expand(spec: dict[str, Any], contract: ct.Contract) -> dict[str, Any]:
    """Fill in what the contract decides, so no suite restates it:

    - ``{"$contract": "categories"}``: the known categories;
    - ``{"$contract": "columns:aggregates" | "columns:customers", "plus": [...]}``: the index's
      mapped fields (from the same functions as its template) and the derived columns;
    - an expectation with ``"for_each": "event_type"``: one per event type, ``{field}`` in its
      kwargs replaced by the type's count field.
    """
    columns = {
        "aggregates": _columns(aggregates_properties(contract)),
        "customers": _columns(customers_properties(contract)),
    }

    def value(v: Any) -> Any:
        if isinstance(v, dict) and "$contract" in v:
            what = v["$contract"]
            if what == "categories":
                return list(contract.categories.values)
            if what.startswith("columns:"):
                return sorted(columns[what.removeprefix("columns:")] + list(v.get("plus", [])))
            raise ValueError(f"suite: unknown contract part {what!r}")
        return v

    expectations = []
    for exp in spec["expectations"]:
        kwargs = {k: value(v) for k, v in exp["kwargs"].items()}
        per = exp.get("for_each")
        rest = {k: v for k, v in exp.items() if k not in ("kwargs", "for_each")}
        if per == "event_type":
            for t in contract.event_types:
                filled = {
                    k: v.replace("{field}", t.field) if isinstance(v, str) else v for k, v in kwargs.items()
                }
                expectations.append({**rest, "kwargs": filled})
        else:
            expectations.append({**rest, "kwargs": kwargs})
    return {**spec, "expectations": expectations}


def build_suite(name: str, contract: ct.Contract | None = None) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    spec = suite_dict(name, contract)
    expectations = [ExpectationConfiguration(**e).to_domain_obj() for e in spec["expectations"]]
    return gx.ExpectationSuite(name=spec["name"], expectations=expectations, meta=spec.get("meta", {}))


def file_context(settings: Settings) -> Any:
    """The file-backed GX context at ``$PLATFORM_HOME/gx`` with one filesystem Data Docs site."""
    import great_expectations as gx

    root = gx_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    site = {
        "class_name": "SiteBuilder",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(data_docs_dir(settings)),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    sites = context.list_data_docs_sites()
    if "local_site" in sites:  # GX's default site under uncommitted/: one place for the docs is enough
        context.delete_data_docs_site("local_site")
    if sites.get(SITE_NAME) != site:
        (context.update_data_docs_site if SITE_NAME in sites else context.add_data_docs_site)(SITE_NAME, site)
    return context


def _batch_definition(context: Any, name: str) -> Any:
    """The whole-dataframe batch definition ``name`` of pandas data source ``name`` (made once)."""
    try:
        source = context.data_sources.get(name)
    except KeyError:
        source = context.data_sources.add_pandas(name)
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        return asset.get_batch_definition(name)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(name)


def validate(context: Any, name: str, suite: str, frame: pd.DataFrame) -> tuple[Any, str]:
    """Run suite ``suite`` on ``frame`` through checkpoint ``name`` (results kept, Data Docs
    updated); returns the suite's validation result and the Data Docs URL."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    definition = context.validation_definitions.add_or_update(
        validation=gx.ValidationDefinition(
            name=name,
            data=_batch_definition(context, name),
            # add_or_update: idempotent on the file-backed context (a plain add fails the second time)
            suite=context.suites.add_or_update(build_suite(suite)),
        )
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[SITE_NAME])],
            result_format="SUMMARY",
        )
    )
    [result] = checkpoint.run(batch_parameters={"dataframe": frame}).run_results.values()
    docs = context.get_docs_sites_urls(site_name=SITE_NAME)
    return result, (docs[0].get("site_url") or "") if docs else ""


# ---------------------------------------------------------------------------- Elasticsearch → pandas


def read_frame(
    es: Any, index: str, sort: list[dict[str, str]], max_docs: int, query: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Up to ``max_docs`` documents of ``index`` in ``sort`` order, paged with ``search_after``."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    after = None
    while len(rows) < max_docs:
        kwargs: dict[str, Any] = {"search_after": after} if after else {}
        resp = es.options(ignore_status=404).search(
            index=index,
            size=min(PAGE, max_docs - len(rows)),
            sort=sort,
            query=query or {"match_all": {}},
            **kwargs,
        )
        hits = resp.get("hits", {}).get("hits", [])
        rows += [h["_source"] for h in hits]
        if len(hits) < PAGE:
            break
        after = hits[-1]["sort"]
    frame = pd.json_normalize(rows) if rows else pd.DataFrame()
    for col in DATE_COLUMNS:
        if col in frame:
            frame[col] = _to_datetime(frame[col])
    return frame


def _to_datetime(values: pd.Series) -> pd.Series:
    """Dates as Elasticsearch returns them: epoch milliseconds or ISO 8601 strings."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values):
        return pd.to_datetime(values, unit="ms", utc=True)
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _type_sum_gap(frame: pd.DataFrame, total: str, settings: Settings) -> pd.Series:
    """The total minus the sum of the per-type counts (a type newer than a document: 0)."""
    counts = [t.field for t in ct.load(settings["contract.path"]).event_types]
    return frame[total] - frame.reindex(columns=counts).sum(axis=1)


def aggregates_frame(es: Any, settings: Settings) -> pd.DataFrame:
    sort = [{"window_start": "desc"}, {"product_category": "asc"}]
    frame = read_frame(es, settings["es.index.aggregates"], sort, settings["quality.max.docs"])
    if frame.empty:
        return frame
    window = config.duration_seconds(settings["spark.window.duration"])
    length = (frame["window_end"] - frame["window_start"]).dt.total_seconds()
    frame["window_length_error_s"] = length - window
    frame["window_alignment_s"] = (frame["window_start"].astype("int64") // 10**9) % window
    frame["type_sum_gap"] = _type_sum_gap(frame, "events", settings)
    return frame


def customers_frame(es: Any, settings: Settings) -> pd.DataFrame:
    sort = [{"last_seen": "desc"}, {"customer_id": "asc"}]
    frame = read_frame(es, settings["es.index.customers"], sort, settings["quality.max.docs"])
    if not frame.empty:
        frame["type_sum_gap"] = _type_sum_gap(frame, "total_events", settings)
    return frame


def quarantine_frame(es: Any, settings: Settings) -> pd.DataFrame:
    sort = [{"quarantined_at": "desc"}, {"partition": "asc"}, {"offset": "asc"}]
    frame = read_frame(es, settings["es.index.quarantine"], sort, settings["quality.max.docs"])
    return frame.drop(columns=["raw"], errors="ignore")  # payloads are large and not checked


# ---------------------------------------------------------------------------- reconciliation


def _newest_batch(es: Any, settings: Settings) -> tuple[str, int] | None:
    """(query_id, batch_id) of the newest runtime-metrics document."""
    resp = es.options(ignore_status=404).search(
        index=settings["es.index.runtime"],
        size=1,
        sort=[{"timestamp": "desc"}, {"batch_id": "desc"}],
        source=["query_id", "batch_id"],
    )
    hits = resp.get("hits", {}).get("hits", [])
    return (hits[0]["_source"]["query_id"], int(hits[0]["_source"]["batch_id"])) if hits else None


def _sums(
    es: Any, index: str, fields: dict[str, tuple[str, str]], query: dict[str, Any] | None = None
) -> dict[str, float]:
    aggs = {name: {op: {"field": f}} for name, (op, f) in fields.items()}
    resp = es.options(ignore_status=404).search(
        index=index, size=0, query=query or {"match_all": {}}, aggs=aggs, track_total_hits=True
    )
    out = {k: (v.get("value") or 0) for k, v in (resp.get("aggregations") or {}).items()}
    out["count"] = resp.get("hits", {}).get("total", {}).get("value", 0)
    return out


def _produced(
    es: Any, settings: Settings, query_id: str, batch: int
) -> tuple[int, dict[int, tuple[int, int]]]:
    """Records in the offsets covered by batches 0..batch: partition -> (first, last) offset."""
    topic = settings["kafka.topic.events"]
    query = {"bool": {"filter": [{"term": {"query_id": query_id}}, {"range": {"batch_id": {"lte": batch}}}]}}
    frame = read_frame(es, settings["es.index.runtime"], [{"batch_id": "asc"}], 1_000_000, query)
    spans: dict[int, tuple[int, int]] = {}
    for ranges in frame.get("offset_ranges", []):
        for text in ranges if isinstance(ranges, list) else []:
            parsed = parse_offset_range(text)
            if parsed is None or parsed[0] != topic:
                continue
            _, part, lo, hi = parsed
            old = spans.get(part, (lo, hi))
            spans[part] = (min(old[0], lo), max(old[1], hi))
    return sum(hi - lo + 1 for lo, hi in spans.values()), spans


def _snapshot(es: Any, settings: Settings, query_id: str, batch: int) -> dict[str, Any]:
    upto = {"range": {"batch_id": {"lte": batch}}}
    this_query = {"bool": {"filter": [{"term": {"query_id": query_id}}, upto]}}
    runtime = _sums(
        es,
        settings["es.index.runtime"],
        {
            "input": ("sum", "input_rows"),
            "quarantined": ("sum", "quarantined"),
            "late": ("sum", "dropped_late"),
        },
        this_query,
    )
    aggregates = _sums(
        es, settings["es.index.aggregates"], {"events": ("sum", "events"), "last": ("max", "batch_id")}
    )
    customers = _sums(
        es, settings["es.index.customers"], {"events": ("sum", "total_events"), "last": ("max", "batch_id")}
    )
    produced, spans = _produced(es, settings, query_id, batch)
    # The quarantine of those offsets (records are quarantined by position, not by batch).
    within = [
        {"bool": {"filter": [{"term": {"partition": p}}, {"range": {"offset": {"gte": lo, "lte": hi}}}]}}
        for p, (lo, hi) in spans.items()
    ]
    topic = {"term": {"topic": settings["kafka.topic.events"]}}
    # Late events are kept there too, but they were valid: counted for their customers.
    late = {"term": {"reason": LATE_EVENT}}
    topic_q = {"bool": {"filter": [topic], "must_not": [late], "should": within, "minimum_should_match": 1}}
    quarantine = _sums(es, settings["es.index.quarantine"], {}, topic_q) if within else {"count": 0}
    return {
        "query_id": query_id,
        "last_batch": batch,
        "produced": produced,
        "offsets": json.dumps({str(p): list(s) for p, s in sorted(spans.items())}),
        "app_input_rows": int(runtime["input"]),
        "quarantined": int(quarantine["count"]),
        "app_quarantined": int(runtime["quarantined"]),
        "dropped_late": int(runtime["late"]),
        "aggregate_events": int(aggregates["events"]),
        "customer_events": int(customers["events"]),
        "written_after_range": int(max(aggregates["last"], customers["last"]) > batch),
    }


def reconciliation_frame(es: Any, settings: Settings) -> pd.DataFrame:
    """One row: the counts of a consistent snapshot and the gaps that must be 0."""
    import pandas as pd

    indices = app_indices(settings)
    row: dict[str, Any] = {}
    for _attempt in range(settings["quality.max.reconcile.attempts"]):
        es.options(ignore_status=404).indices.refresh(index=indices)
        newest = _newest_batch(es, settings)
        if newest is None:
            return pd.DataFrame()  # nothing processed yet: the row-count expectation reports it
        row = _snapshot(es, settings, *newest)
        if not row["written_after_range"] and _newest_batch(es, settings) == newest:
            break
        time.sleep(1)  # a batch was being written: try again between batches
    row["consistent_snapshot"] = not row["written_after_range"]
    row["aggregates_gap"] = (
        row["produced"] - row["quarantined"] - row["dropped_late"] - row["aggregate_events"]
    )
    row["customers_gap"] = row["produced"] - row["quarantined"] - row["customer_events"]
    row["quarantine_docs_gap"] = row["app_quarantined"] - row["quarantined"]
    row["input_gap"] = row["produced"] - row["app_input_rows"]
    return pd.DataFrame([row])


FRAMES = {
    "aggregates": aggregates_frame,
    "customers": customers_frame,
    "quarantine": quarantine_frame,
    "reconciliation": reconciliation_frame,
}


# ---------------------------------------------------------------------------- results


@dataclass
class Outcome:
    suite: str
    success: bool
    rows: int
    evaluated: int
    failed: list[str] = field(default_factory=list)
    failed_critical: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)


def _label(config: Any) -> str:
    kwargs = config.kwargs
    target = kwargs.get("column") or ",".join(kwargs.get("column_list") or [])
    if not target and "column_A" in kwargs:
        target = f"{kwargs['column_A']},{kwargs['column_B']}"
    return f"{config.type}({target})" if target else config.type


def _observed(result: dict[str, Any]) -> str:
    if "unexpected_count" in result:
        sample = result.get("partial_unexpected_list", [])[:3]
        return f"{result['unexpected_count']} unexpected of {result.get('element_count')}, e.g. {sample}"
    return f"observed {result.get('observed_value')}"


def summarize(suite: str, result: Any, rows: int) -> Outcome:
    from great_expectations.expectations.metadata_types import FailureSeverity

    outcome = Outcome(suite, bool(result.success), rows, len(result.results))
    for r in result.results:
        cfg = r.expectation_config
        critical = cfg.severity == FailureSeverity.CRITICAL
        label = _label(cfg)
        outcome.details.append({"expectation": label, "success": bool(r.success), "critical": critical})
        if not r.success:
            text = f"{label}: {_observed(r.result or {})}"
            outcome.failed.append(text)
            if critical:
                outcome.failed_critical.append(text)
    return outcome


QUALITY_PROPERTIES: dict[str, Any] = {
    "run_id": {"type": "keyword"},
    "suite": {"type": "keyword"},
    "validated_at": {"type": "date"},
    "success": {"type": "boolean"},
    "critical_success": {"type": "boolean"},
    "rows": {"type": "long"},
    "evaluated": {"type": "long"},
    "failed_count": {"type": "long"},
    "failed": {"type": "keyword", "ignore_above": 2048},
    "failed_critical": {"type": "keyword", "ignore_above": 2048},
    "data_docs": {"type": "keyword"},
    "details": {"type": "object", "enabled": False},  # kept, not indexed: no mapping growth
}


def ensure_quality_index(es: Any, settings: Settings) -> bool:
    """Create the results index with an explicit, strict mapping; True if it was created."""
    index = settings["es.index.quality"]
    if es.indices.exists(index=index):
        return False
    es.options(ignore_status=400).indices.create(
        index=index,
        settings={"number_of_shards": 1, "number_of_replicas": settings["es.replicas"]},
        mappings={"dynamic": "strict", "properties": QUALITY_PROPERTIES},
    )
    return True


def index_outcome(es: Any, settings: Settings, outcome: Outcome, run_id: str, docs_url: str) -> str:
    """Index one suite's outcome by (run, suite): a retried task overwrites, never duplicates."""
    ensure_quality_index(es, settings)
    doc_id = f"{run_id}-{outcome.suite}"
    doc = {
        "run_id": run_id,
        "validated_at": int(time.time() * 1000),
        "critical_success": not outcome.failed_critical,
        "failed_count": len(outcome.failed),
        "data_docs": docs_url,
        **{k: v for k, v in asdict(outcome).items()},
    }
    es.index(index=settings["es.index.quality"], id=doc_id, document=doc, refresh="wait_for")
    return doc_id
