"""Pipeline health checks (the pipeline_health DAG): each returns a :class:`Check` with a number.

=====================  ======================================================================
consumer lag           Kafka end offsets of the events topic minus the offsets the app has
                       processed: its commits under ``kafka.consumer.group`` (the app commits
                       them after each batch, for monitoring), else the newest offsets in its
                       runtime-metrics documents. Limit ``health.max.consumer.lag``.
aggregate staleness    age of the newest aggregate (``updated_at``). Limit
                       ``health.max.staleness.seconds``.
quarantine rate        quarantined / input rows over the last interval (runtime metrics).
                       Limit ``health.max.quarantine.rate``.
elasticsearch health   cluster status, its nodes and shards; red fails, and yellow too when the
                       indices have replicas (``es.replicas``: a node is missing).
kafka brokers          brokers answering and under-replicated partitions (in-sync replicas
                       fewer than replicas); fails below the brokers ``platform up`` starts
                       (``kafka.bootstrap.servers``' count) or with any under-replicated one.
spark workers          ``spark://`` masters only: the master's alive workers (its ``/json`` at
                       ``spark.cluster.master.ui.port``) and the app's executors; fails below
                       the cluster topology's two workers (one elsewhere).
app liveness           the app's Spark UI answers and lists the running application (and what
                       it waits for during an outage: ``<checkpoint>/status.json``).
free disk              the least free disk of the state folder and of each Elasticsearch node,
                       warned before Elasticsearch's own watermarks stop writes. Limit
                       ``health.min.free.disk.percent``.
=====================  ======================================================================

Every check is a plain function of clients and settings, so tests and the dashboard can call it.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import OffsetSpec

from streaming_platform.config import SPARK_CLUSTER_WORKERS, Settings, kafka_nodes
from streaming_platform.es_indices import parse_offset_range
from streaming_platform.streaming import APP_NAME, app_checkpoint, read_status

KAFKA_TIMEOUT_S = 10.0
RECENT_BATCHES = 200  # runtime docs scanned for the newest processed offsets
STATUS_FRESH_S = 90.0  # the app rewrites its status at least every 30 s while it waits
UI_PORT_TRIES = 4  # Spark moves the UI to the next port when the configured one is taken


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    value: float | None
    limit: float | None
    message: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.message}"


class PipelineUnhealthy(RuntimeError):
    """Raised by :func:`raise_for_failures`; the message names each failed check and its number."""


# ---------------------------------------------------------------------------- consumer lag


def end_offsets(admin: Any, topic: str) -> dict[int, tuple[int, int]]:
    """partition -> (earliest, latest) offsets of ``topic``."""
    meta = admin.list_topics(topic=topic, timeout=KAFKA_TIMEOUT_S).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise RuntimeError(f"Kafka topic {topic!r} does not exist (run the platform_setup DAG)")
    parts = list(meta.partitions)
    out: dict[int, list[int]] = {p: [0, 0] for p in parts}
    for i, spec in enumerate((OffsetSpec.earliest(), OffsetSpec.latest())):
        futures = admin.list_offsets({TopicPartition(topic, p): spec for p in parts}, request_timeout=10)
        for tp, fut in futures.items():
            out[tp.partition][i] = fut.result().offset
    return {p: (lo, hi) for p, (lo, hi) in out.items()}


def committed_offsets(admin: Any, group: str, topic: str, partitions: list[int]) -> dict[int, int]:
    """partition -> next offset the app will read, as committed under ``group`` (absent: none)."""
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions])
    result = admin.list_consumer_group_offsets([request])[group].result()
    return {tp.partition: tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def processed_offsets(es: Any, settings: Settings, topic: str) -> dict[int, int]:
    """partition -> next offset after the newest one in the app's runtime-metrics documents."""
    resp = es.options(ignore_status=404).search(
        index=settings["es.index.runtime"],
        size=RECENT_BATCHES,
        sort=[{"timestamp": "desc"}],
        source=["offset_ranges"],
    )
    out: dict[int, int] = {}
    for hit in resp.get("hits", {}).get("hits", []):
        for text in hit["_source"].get("offset_ranges") or []:
            parsed = parse_offset_range(text)
            if parsed is not None and parsed[0] == topic:
                _, part, _, last = parsed
                out[part] = max(out.get(part, 0), last + 1)
    return out


def consumer_lag(admin: Any, es: Any, settings: Settings) -> Check:
    topic, limit = settings["kafka.topic.events"], settings["health.max.consumer.lag"]
    ends = end_offsets(admin, topic)
    committed = committed_offsets(admin, settings["kafka.consumer.group"], topic, list(ends))
    processed = processed_offsets(es, settings, topic)
    lag = 0
    for p, (lo, hi) in ends.items():
        done = max(committed.get(p, lo), processed.get(p, lo), lo)  # retention may pass both
        lag += max(0, hi - done)
    end_total = sum(hi for _, hi in ends.values())
    message = (
        f"{lag:,} messages behind (limit {limit:,}); topic end offsets {end_total:,}, app committed "
        f"{sum(committed.values()):,}, processed per runtime metrics {sum(processed.values()):,}"
    )
    return Check("consumer lag", lag <= limit, lag, limit, message)


# ---------------------------------------------------------------------------- Elasticsearch


def _max_field(es: Any, index: str, field: str) -> float | None:
    resp = es.options(ignore_status=404).search(
        index=index, size=0, aggs={"newest": {"max": {"field": field}}}
    )
    return (resp.get("aggregations") or {}).get("newest", {}).get("value")


def aggregate_staleness(es: Any, settings: Settings, now: float | None = None) -> Check:
    limit = settings["health.max.staleness.seconds"]
    index = settings["es.index.aggregates"]
    newest_ms = _max_field(es, index, "updated_at")
    if newest_ms is None:
        return Check("aggregate staleness", False, None, limit, f"no aggregate in {index} yet")
    age = (now or time.time()) - newest_ms / 1000
    message = f"newest aggregate in {index} is {age:,.0f} s old (limit {limit:,} s)"
    return Check("aggregate staleness", age <= limit, round(age, 1), limit, message)


def quarantine_rate(es: Any, settings: Settings, interval_s: float, now: float | None = None) -> Check:
    limit = settings["health.max.quarantine.rate"]
    since_ms = int(((now or time.time()) - interval_s) * 1000)
    resp = es.options(ignore_status=404).search(
        index=settings["es.index.runtime"],
        size=0,
        query={"range": {"timestamp": {"gte": since_ms}}},
        aggs={"input": {"sum": {"field": "input_rows"}}, "bad": {"sum": {"field": "quarantined"}}},
    )
    aggs = resp.get("aggregations") or {}
    rows = int((aggs.get("input") or {}).get("value") or 0)
    bad = int((aggs.get("bad") or {}).get("value") or 0)
    minutes = interval_s / 60
    if not rows:
        return Check("quarantine rate", True, 0.0, limit, f"no input in the last {minutes:g} min")
    rate = bad / rows
    message = (
        f"{rate:.2%} of the last {minutes:g} min's input quarantined ({bad:,} of {rows:,}; limit {limit:.2%})"
    )
    return Check("quarantine rate", rate <= limit, round(rate, 6), limit, message)


def free_disk(es: Any, settings: Settings) -> Check:
    """The least free disk, in percent, of the state folder and of every Elasticsearch node."""
    limit = settings["health.min.free.disk.percent"]
    usage = shutil.disk_usage(settings.home if settings.home.exists() else settings.home.parent)
    free = {"state folder": 100.0 * usage.free / usage.total}
    for node in es.nodes.stats(metric="fs")["nodes"].values():
        total = node["fs"]["total"]
        if total.get("total_in_bytes"):
            free[f"Elasticsearch node {node['name']}"] = (
                100.0 * total["available_in_bytes"] / total["total_in_bytes"]
            )
    where, least = min(free.items(), key=lambda kv: kv[1])
    message = f"{least:.1f} % free on the {where} (limit {limit:g} %)"
    return Check("free disk", least >= limit, round(least, 1), limit, message)


def es_cluster_state(es: Any) -> dict[str, Any]:
    """The cluster's status, its nodes (name, elected master) and its shards by state."""
    health = es.cluster.health()
    nodes = es.cat.nodes(format="json", h="name,master")
    return {
        "cluster": health.get("cluster_name"),
        "status": health["status"],
        "nodes": sorted(n["name"] for n in nodes),
        "master": next((n["name"] for n in nodes if n.get("master") == "*"), None),
        "shards": {
            "active": health.get("active_shards", 0),
            "primaries": health.get("active_primary_shards", 0),
            "initializing": health.get("initializing_shards", 0),
            "relocating": health.get("relocating_shards", 0),
            "unassigned": health.get("unassigned_shards", 0),
        },
    }


def elasticsearch_health(es: Any, settings: Settings | None = None) -> Check:
    state = es_cluster_state(es)
    status, shards = state["status"], state["shards"]
    # Yellow is normal on one node (no replica can be assigned) and a lost node on a cluster.
    replicated = settings is not None and settings["es.replicas"] > 0
    ok = status == "green" or (status == "yellow" and not replicated)
    message = (
        f"cluster {state['cluster']} is {status}: {len(state['nodes'])} node(s) "
        f"{', '.join(state['nodes'])} (master {state['master']}); shards {shards['active']} active "
        f"({shards['primaries']} primaries), {shards['initializing']} initializing, "
        f"{shards['relocating']} relocating, {shards['unassigned']} unassigned"
    )
    return Check(
        "elasticsearch health",
        ok,
        {"green": 0, "yellow": 1}.get(status, 2),
        1 if not replicated else 0,
        message,
    )


# ---------------------------------------------------------------------------- Kafka cluster


def kafka_cluster_state(admin: Any) -> dict[str, Any]:
    """Brokers answering and the partitions (internal topics included) with fewer in-sync
    replicas than replicas, or no leader."""
    meta = admin.list_topics(timeout=KAFKA_TIMEOUT_S)
    under, offline = [], []
    for topic in meta.topics.values():
        for p in topic.partitions.values():
            if p.leader < 0:
                offline.append(f"{topic.topic}-{p.id}")
            elif len(p.isrs) < len(p.replicas):
                under.append(f"{topic.topic}-{p.id}")
    return {
        "brokers": sorted(f"{b.id}@{b.host}:{b.port}" for b in meta.brokers.values()),
        "controller": meta.controller_id,
        "partitions": sum(len(t.partitions) for t in meta.topics.values()),
        "under_replicated": sorted(under),
        "offline": sorted(offline),
    }


def expected_brokers(settings: Settings) -> int:
    """The brokers there should be: those ``platform up`` starts, or every bootstrap server."""
    return max(len(kafka_nodes(settings)), len(settings["kafka.bootstrap.servers"].split(",")))


def kafka_brokers(admin: Any, settings: Settings) -> Check:
    state = kafka_cluster_state(admin)
    expected = expected_brokers(settings)
    brokers, under, offline = state["brokers"], state["under_replicated"], state["offline"]
    message = (
        f"{len(brokers)} of {expected} broker(s) answering ({', '.join(brokers)}); "
        f"{len(under)} of {state['partitions']} partitions under-replicated"
        + (f" ({', '.join(under[:5])}{' …' if len(under) > 5 else ''})" if under else "")
        + (f", {len(offline)} without a leader" if offline else "")
    )
    ok = len(brokers) >= expected and not under and not offline
    return Check("kafka brokers", ok, len(under) + len(offline), 0, message)


# ---------------------------------------------------------------------------- Spark cluster


def standalone_master_ui(settings: Settings) -> str | None:
    """The standalone master's web UI when ``spark.master`` is ``spark://host:port`` (else None)."""
    master = settings["spark.master"]
    if not master.startswith("spark://"):
        return None
    host = master.removeprefix("spark://").split(",")[0].rsplit(":", 1)[0]
    return f"http://{host}:{settings['spark.cluster.master.ui.port']}"


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=3) as resp:
        return json.loads(resp.read())


def app_executors(settings: Settings) -> list[dict[str, Any]] | None:
    """The running app's executors (not the driver) from its UI, or None if it does not answer."""
    for url, app in _running_apps(settings):
        try:
            found = _get_json(f"{url}/api/v1/applications/{app['id']}/executors")
        except (OSError, ValueError):
            return None
        return [
            {
                "id": e["id"],
                "host_port": e.get("hostPort"),
                "active": e.get("isActive", True),
                "tasks": e.get("totalTasks", 0),
                "failed_tasks": e.get("failedTasks", 0),
            }
            for e in found
            if e.get("id") != "driver"
        ]
    return None


def spark_cluster_state(settings: Settings) -> dict[str, Any] | None:
    """The standalone master's workers and the app's executors; None unless on ``spark://``."""
    ui = standalone_master_ui(settings)
    if ui is None:
        return None
    master = _get_json(f"{ui}/json/")
    return {
        "master": master.get("url"),
        "status": master.get("status"),
        "workers": [
            {
                "id": w.get("id"),
                "host_port": f"{w.get('host')}:{w.get('port')}",
                "state": w.get("state"),
                "cores": w.get("cores"),
                "cores_used": w.get("coresused"),
            }
            for w in master.get("workers", [])
        ],
        "alive_workers": master.get("aliveworkers", 0),
        "expected_workers": expected_workers(settings),
        "apps": [
            {"id": a.get("id"), "name": a.get("name"), "cores": a.get("cores")}
            for a in master.get("activeapps", [])
        ],
        "executors": app_executors(settings),
    }


def expected_workers(settings: Settings) -> int:
    """The workers there should be: the cluster topology's, else at least one (compose scales)."""
    return SPARK_CLUSTER_WORKERS if settings["topology"] == "cluster" else 1


def spark_workers(settings: Settings) -> Check | None:
    state = spark_cluster_state(settings)
    if state is None:
        return None
    expected = state["expected_workers"]
    alive = [w for w in state["workers"] if w["state"] == "ALIVE"]
    executors = state["executors"]
    active = [e for e in executors or [] if e["active"]]
    message = (
        f"master {state['master']} {state['status']}: {len(alive)} of {expected} worker(s) alive ("
        + ", ".join(f"{w['host_port']} {w['cores_used']}/{w['cores']} cores" for w in alive)
        + "); "
        + (
            "the app is not running"
            if executors is None
            else f"the app has {len(active)} active executor(s) "
            + ", ".join(f"{e['host_port']} ({e['tasks']:,} tasks)" for e in active)
        )
    )
    ok = state["status"] == "ALIVE" and len(alive) >= expected
    return Check("spark workers", ok, len(alive), expected, message)


# ---------------------------------------------------------------------------- the app


def _ui_applications(url: str) -> list[dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/applications", timeout=3) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def app_waiting(settings: Settings, now: float | None = None) -> str:
    """What the running app says it waits for ("waiting for Elasticsearch since 12:03:10, 41
    retries"), or "" — a status older than the longest backoff is its last word, not news."""
    status = read_status(app_checkpoint(settings))
    fresh = (now or time.time()) - status.get("updated_at", 0) < STATUS_FRESH_S
    return status.get("detail", "") if fresh and status.get("waiting_for") else ""


def _running_apps(settings: Settings) -> Iterator[tuple[str, dict[str, Any]]]:
    """(UI URL, application) of the app, running, on each UI port it may have taken."""
    host, first = settings["bind.host"], settings["spark.ui.port"]
    for port in range(first, first + UI_PORT_TRIES):
        url = f"http://{host}:{port}"
        for app in _ui_applications(url) or []:
            running = not all(a.get("completed") for a in app.get("attempts", [{}]))
            if app.get("name") == APP_NAME and running:
                yield url, app


def app_liveness(settings: Settings) -> Check:
    """The Spark UI of the app answers and lists it, not completed (else: the app is not running)."""
    host, first = settings["bind.host"], settings["spark.ui.port"]
    for url, app in _running_apps(settings):
        waiting = app_waiting(settings)
        detail = f"{APP_NAME} is running ({app.get('id')}, UI {url})"
        return Check("app liveness", True, 1, None, f"{detail}, {waiting}" if waiting else detail)
    return Check(
        "app liveness",
        False,
        0,
        None,
        f"{APP_NAME} is not running: no Spark UI listing it on {host}:{first}-{first + UI_PORT_TRIES - 1} "
        "(trigger the streaming_app DAG)",
    )


# ---------------------------------------------------------------------------- all


def run_checks(admin: Any, es: Any, settings: Settings, interval_s: float) -> list[Check]:
    """Every check; a check that cannot be evaluated is a failed check with the error as message."""
    probes = {
        "app liveness": lambda: app_liveness(settings),
        "elasticsearch health": lambda: elasticsearch_health(es, settings),
        "kafka brokers": lambda: kafka_brokers(admin, settings),
        "spark workers": lambda: spark_workers(settings),
        "consumer lag": lambda: consumer_lag(admin, es, settings),
        "aggregate staleness": lambda: aggregate_staleness(es, settings),
        "quarantine rate": lambda: quarantine_rate(es, settings, interval_s),
        "free disk": lambda: free_disk(es, settings),
    }
    checks = []
    for name, probe in probes.items():
        try:
            check = probe()
            if check is not None:  # not applicable here (e.g. spark workers on local[N])
                checks.append(check)
        except Exception as exc:  # noqa: BLE001 - an unreachable service is a finding, not a crash
            checks.append(
                Check(name, False, None, None, f"could not be checked: {type(exc).__name__}: {exc}")
            )
    return checks


def raise_for_failures(checks: list[Check]) -> None:
    failed = [c for c in checks if not c.ok]
    if failed:
        raise PipelineUnhealthy(
            f"{len(failed)} of {len(checks)} health checks failed: "
            + "; ".join(f"{c.name}: {c.message}" for c in failed)
        )
