"""Turn probe results into status cards and the data-flow graph (pure functions, no I/O).

A card is ``{"id", "title", "status", "reason", "metrics": [{"label", "value", "kind"}], ...}``
with status ``green`` / ``amber`` / ``red`` / ``grey`` (not running or unknown) and the reason
in words. ``kind`` tells the page how to format a value (count, rate, ms, time, text).

What ``pipeline_health`` also checks (consumer lag, quarantine rate, Elasticsearch health) is
judged by :mod:`streaming_platform.health`'s ``judge_*`` functions, so a card says what the DAG
would say, under the same name and limit; :data:`COLOUR` maps the model's states to colours.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streaming_platform import config, health
from streaming_platform.config import Settings
from streaming_platform.dashboard.probes import offsets_total, pick
from streaming_platform.health import Check, State, app_waiting

Probe = dict[str, Any]  # {"ok", "data", "error", "at", "took_ms"}
RATE_WINDOW_S = 15.0
COLOUR = {State.OK: "green", State.WARN: "amber", State.FAIL: "red"}


def metric(label: str, value: Any, kind: str = "count") -> dict[str, Any]:
    return {"label": label, "value": value, "kind": kind}


def card(
    cid: str, title: str, status: str, reason: str, metrics: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {"id": cid, "title": title, "status": status, "reason": reason, "metrics": metrics, **extra}


def down_card(cid: str, title: str, probe: Probe | None) -> dict[str, Any]:
    why = "not probed yet" if probe is None else probe.get("error") or "unreachable"
    return card(cid, title, "red" if probe else "grey", why, [])


# --------------------------------------------------------------------------- history


@dataclass
class Series:
    """(time, value) samples of a growing counter or a gauge, bounded."""

    points: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=900))

    def add(self, t: float, value: float | None) -> None:
        if value is not None:
            self.points.append((t, float(value)))

    def last(self) -> float | None:
        return self.points[-1][1] if self.points else None

    def rate(self, window_s: float = RATE_WINDOW_S) -> float | None:
        """Per-second increase of a counter over the last ``window_s`` (None: too few samples)."""
        if len(self.points) < 2:
            return None
        t1, v1 = self.points[-1]
        first = next(((t, v) for t, v in self.points if t >= t1 - window_s), None)
        if first is None or t1 - first[0] <= 0:
            return None
        t0, v0 = first
        return max(0.0, (v1 - v0) / (t1 - t0))

    def growing_for(self) -> float:
        """Seconds the gauge has been non-decreasing (and grew) up to its last sample."""
        pts = list(self.points)
        i = len(pts) - 1
        while i > 0 and pts[i - 1][1] <= pts[i][1]:
            i -= 1
        if i == len(pts) - 1 or pts[i][1] >= pts[-1][1]:
            return 0.0
        return pts[-1][0] - pts[i][0]


# --------------------------------------------------------------------------- helpers


def duration_seconds(text: str) -> float:
    """'2 seconds' -> 2.0; 0.0 for anything else (a status card never fails on a setting)."""
    try:
        return config.duration_seconds(text)
    except ValueError:
        return 0.0


def epoch(value: Any) -> float | None:
    """A timestamp from a document (ISO string, epoch seconds or epoch milliseconds) as epoch s."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return value / 1000.0 if value > 1e11 else float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def worst(statuses: list[str]) -> str:
    order = ["red", "amber", "green", "grey"]
    present = [s for s in order if s in statuses]
    return present[0] if present else "grey"


# --------------------------------------------------------------------------- cards


def kafka_card(probe: Probe | None) -> dict[str, Any]:
    if not probe or not probe["ok"]:
        return down_card("kafka", "Kafka broker", probe)
    d = probe["data"]
    brokers, expected = len(d["brokers"]), d.get("expected_brokers", 1)
    under, offline = d.get("under_replicated", []), d.get("offline_partitions", [])
    reason = f"{brokers} of {expected} broker(s) answering at {', '.join(d['brokers'])}"
    status = "green"
    if under or offline or brokers < expected:
        status = "red" if offline else "amber"
        reason += f"; {len(under)} partition(s) under-replicated" + (
            f", {len(offline)} without a leader" if offline else ""
        )
    metrics = [metric("brokers", brokers), metric("topics", d["topic_count"])]
    if expected > 1:
        metrics.append(metric("under-replicated partitions", len(under)))
    return card("kafka", "Kafka broker" if expected == 1 else "Kafka brokers", status, reason, metrics)


def judged(check: Check) -> tuple[str, str]:
    """(colour, reason) of a health-model check: the reason as pipeline_health logs it."""
    return COLOUR[check.state], f"{check.name}: {check.message}"


def lag_reason(lag: float | None, growing_s: float, limit: int) -> tuple[str, str]:
    if lag is None:
        return "green", f"{health.CONSUMER_LAG} unknown (no committed offsets or batch metrics yet)"
    return judged(health.judge_lag(lag, limit, growing_s=growing_s))


def topic_card(
    probe: Probe | None, role: str, series: Series, lag: Series | None, settings: Settings
) -> dict[str, Any]:
    cid, title = f"topic-{role}", ("Events topic" if role == "events" else "Dead-letter topic")
    if not probe or not probe["ok"]:
        return down_card(cid, title, probe)
    t = probe["data"]["topics"][role]
    if not t["exists"]:
        return card(
            cid,
            title,
            "red",
            f"topic {t['name']} does not exist (run the platform_setup DAG)",
            [],
            topic=t["name"],
        )
    rate = series.rate()
    metrics = [
        metric("partitions", t["partitions"]),
        metric("end offset (sum)", t["total"]),
        metric("in", rate, "rate"),
    ]
    status, reason = "green", f"{t['partitions']} partitions, {t['total']:,} messages written"
    if lag is not None:
        status, reason = lag_reason(lag.last(), lag.growing_for(), settings["health.max.consumer.lag"])
        metrics.append(metric("consumer lag", lag.last()))
    elif rate:
        status, reason = "amber", f"records are being quarantined: {rate:,.1f}/s"
    return card(cid, title, status, reason, metrics, topic=t["name"], end_offsets=t["end_offsets"])


def idle_reason(age: float, running: bool, lag: float | None) -> str:
    """Why an old last batch is fine: the app runs and has consumed everything ("" if not so).
    Batches run for data only, so a caught-up app writes none until events arrive."""
    if running and lag == 0:
        return f"idle: running and caught up, no new events since the last batch {ago(age)} ago"
    return ""


def spark_card(
    probe: Probe | None, settings: Settings, now: float, running: bool = False, lag: float | None = None
) -> dict[str, Any]:
    """``running``: the app's Spark UI lists it; ``lag``: messages not yet consumed (None: unknown)."""
    return with_spark_cluster(_query_card(probe, settings, now, running, lag), probe)


def _query_card(
    probe: Probe | None, settings: Settings, now: float, running: bool, lag: float | None
) -> dict[str, Any]:
    title = "Spark streaming query"
    waiting = app_waiting(settings, now)
    if waiting:  # an outage: the app is up, holding its batch until the dependency answers
        return card("spark", title, "amber", waiting, [], state="waiting")
    if not probe or not probe["ok"]:
        c = down_card("spark", title, probe)
        c["status"], c["reason"] = "grey", f"unknown: batch metrics unreadable ({c['reason']})"
        return c
    d = probe["data"]
    doc = d.get("latest")
    if not doc:
        why = "no runtime-metrics index yet" if not d["exists"] else "no batch metrics yet"
        return card("spark", title, "grey", f"{why} ({d['index']}); is the streaming_app DAG running?", [])
    last = epoch(pick(doc, "timestamp"))
    age = now - last if last else None
    trigger = max(duration_seconds(settings["spark.trigger.interval"]), 1.0)
    input_rows, quarantined = pick(doc, "input_rows"), pick(doc, "quarantined")
    error_rate = pick(doc, "error_rate")
    if error_rate is None and input_rows:
        error_rate = (quarantined or 0) / input_rows
    metrics = [
        metric("last batch", last, "time"),
        metric("batch duration", pick(doc, "batch_duration_ms"), "ms"),
        metric("input rows", input_rows),
        metric("processed", pick(doc, "processed_rate"), "rate"),
        metric("latency p95", pick(doc, "latency_p95_ms"), "ms"),
        metric("error rate", error_rate, "percent"),
    ]
    if age is None:
        return card("spark", title, "amber", "last batch has no readable timestamp", metrics)
    idle = idle_reason(age, running, lag) if age > max(60.0, 10 * trigger) else ""
    if idle:
        return card("spark", title, "green", idle, metrics, state="idle")
    if age > max(300.0, 60 * trigger):
        return card(
            "spark", title, "red", f"no batch for {ago(age)}: query stopped or stuck", metrics, state="stale"
        )
    if age > max(60.0, 10 * trigger):
        return card(
            "spark", title, "amber", f"last batch {ago(age)} ago (trigger every {trigger:.0f} s)", metrics
        )
    if input_rows:
        check = health.judge_quarantine_rate(
            int(quarantined or 0), int(input_rows), settings["health.max.quarantine.rate"], "the last batch"
        )
        if check.state is not State.OK:
            return card("spark", title, *judged(check), metrics, state="active")
    return card("spark", title, "green", f"active, last batch {ago(age)} ago", metrics, state="active")


def spark_cluster_metrics(cluster: dict[str, Any] | None) -> tuple[list[dict[str, Any]], str]:
    """Metrics and a note on the standalone workers and the app's executors (none on local[N])."""
    if not cluster:
        return [], ""
    if "error" in cluster:
        return [], f"; Spark {cluster['error']}"
    alive = sum(w["state"] == "ALIVE" for w in cluster["workers"])
    executors = [e for e in cluster.get("executors") or [] if e["active"]]
    note = f"; {alive} worker(s) alive, {len(executors)} executor(s)"
    return [metric("workers alive", alive), metric("executors", len(executors))], note


def with_spark_cluster(c: dict[str, Any], probe: Probe | None) -> dict[str, Any]:
    """The Spark card with the cluster's workers and executors (amber below the workers expected)."""
    cluster = (probe or {}).get("data", {}).get("cluster") if probe and probe.get("ok") else None
    metrics, note = spark_cluster_metrics(cluster)
    if not metrics and not note:
        return c
    c = {**c, "metrics": [*c["metrics"], *metrics], "reason": c["reason"] + note}
    if "error" in cluster or metrics[0]["value"] < cluster.get("expected_workers", 1):
        c["status"] = "red" if c["status"] == "red" else "amber"
    c["workers"], c["executors"] = cluster.get("workers"), cluster.get("executors")
    return c


def es_card(probe: Probe | None) -> dict[str, Any]:
    if not probe or not probe["ok"]:
        return down_card("elasticsearch", "Elasticsearch", probe)
    d = probe["data"]
    colour, reason = judged(health.judge_elasticsearch(d["cluster_state"], d["replicated"]))
    metrics = [metric(i["name"], i["docs"] if i["exists"] else None) for i in d["indices"].values()]
    missing = [i["name"] for i in d["indices"].values() if not i["exists"]]
    if d["nodes"] > 1 or d["shards"]["unassigned"]:
        metrics = [metric("nodes", d["nodes"]), metric("unassigned shards", d["unassigned_shards"]), *metrics]
    if missing:
        reason += f"; not created yet: {', '.join(missing)}"
    return card("elasticsearch", "Elasticsearch", colour, reason, metrics, indices=d["indices"])


def airflow_card(probe: Probe | None) -> dict[str, Any]:
    if not probe or not probe["ok"]:
        return down_card("airflow", "Airflow", probe)
    d = probe["data"]
    unhealthy = [
        k for k, v in d["health"].items() if isinstance(v, dict) and v.get("status") not in (None, "healthy")
    ]
    runs = d["runs"]
    failed = [r["dag_id"] for r in runs if r.get("state") == "failed"]
    metrics = [metric(r["dag_id"], r.get("state") or "no runs", "text") for r in runs]
    if unhealthy:
        return card("airflow", "Airflow", "red", f"unhealthy: {', '.join(unhealthy)}", metrics, runs=runs)
    if d.get("runs_error"):
        return card("airflow", "Airflow", "amber", d["runs_error"], metrics, runs=runs)
    if failed:
        return card(
            "airflow", "Airflow", "amber", f"latest run failed: {', '.join(failed)}", metrics, runs=runs
        )
    return card(
        "airflow", "Airflow", "green", "scheduler, DAG processor and database healthy", metrics, runs=runs
    )


def producer_card(probe: Probe | None, events: Series) -> dict[str, Any]:
    rate = events.rate()
    if not probe or not probe["ok"] or not probe["data"]["running"]:
        writing = f"; events arriving at {rate:,.1f}/s from elsewhere" if rate else ""
        return card(
            "producer",
            "Producer",
            "grey",
            f"not running (no PID file){writing}",
            [metric("rate", rate, "rate")],
        )
    pid = probe["data"]["pid"]
    status = "green" if rate else "amber"
    reason = f"running (pid {pid})" + (
        f", {rate:,.1f} events/s" if rate else ", no events written in the last 15 s"
    )
    return card(
        "producer", "Producer", status, reason, [metric("rate", rate, "rate"), metric("pid", pid, "text")]
    )


def kibana_card(probe: Probe | None, url: str) -> dict[str, Any] | None:
    if not url:
        return None
    if not probe or not probe["ok"]:
        return down_card("kibana", "Kibana", probe)
    level = probe["data"].get("level", "available")
    colour = {"available": "green", "degraded": "amber"}.get(level, "red")
    return card("kibana", "Kibana", colour, f"status {level}", [], url=url)


# --------------------------------------------------------------------------- flow


def flow(cards: dict[str, dict[str, Any]], rates: dict[str, float | None]) -> dict[str, Any]:
    """Nodes (with the health of their card) and edges (with live rates) of the pipeline."""

    def node(nid: str, label: str, cid: str) -> dict[str, Any]:
        c = cards.get(cid)
        if c is None and cid == "kibana":
            return {
                "id": nid,
                "label": label,
                "status": "grey",
                "reason": "not configured (kibana.url empty)",
            }
        return {
            "id": nid,
            "label": label,
            "status": c["status"] if c else "grey",
            "reason": c["reason"] if c else "",
        }

    nodes = [
        node("producer", "Producer", "producer"),
        node("kafka", "Kafka", "topic-events"),
        node("spark", "Spark", "spark"),
        node("elasticsearch", "Elasticsearch", "elasticsearch"),
        node("kibana", "Kibana", "kibana"),
        node("quarantine", "Quarantine (DLQ)", "topic-deadletter"),
    ]
    edges = [
        {"from": "producer", "to": "kafka", "rate": rates.get("kafka_in"), "label": "events"},
        {"from": "kafka", "to": "spark", "rate": rates.get("spark_in"), "label": "consumed"},
        {"from": "spark", "to": "elasticsearch", "rate": rates.get("es_in"), "label": "indexed"},
        {"from": "spark", "to": "quarantine", "rate": rates.get("quarantine"), "label": "quarantined"},
        {"from": "elasticsearch", "to": "kibana", "rate": None, "label": "queries"},
    ]
    return {"nodes": nodes, "edges": edges}


def consumed_total(
    kafka_data: dict[str, Any] | None, spark_doc: dict[str, Any] | None, topic: str
) -> float | None:
    """Offsets the app has consumed from ``topic``: committed group offsets, else the last batch's."""
    if kafka_data and topic in kafka_data.get("committed", {}):
        return float(kafka_data["committed"][topic])
    if spark_doc:
        total = offsets_total(pick(spark_doc, "end_offsets"), topic)
        if total is not None:
            return float(total)
    return None


def now() -> float:
    return time.time()
