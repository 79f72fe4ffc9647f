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
                       it waits for during an outage: ``<checkpoint>/status.json``). A UI that
                       accepts the connection has 20 s to answer (its REST API answers the first
                       request late); one that does not is "unknown", not "not running".
free disk              the least free disk of the state folder and of each Elasticsearch node,
                       warned before Elasticsearch's own watermarks stop writes. Limit
                       ``health.min.free.disk.percent``.
=====================  ======================================================================

This module is the platform's one health model: the check names, their limits (``health.*``
settings) and their states. Each check has a *judgement* (a pure function of numbers: ``judge_*``)
that ``pipeline_health`` and the dashboard both use, the DAG on what its probes here measure, the
dashboard on what its own live probes measure; :data:`CHECKS` lists the checks ``run_checks``
evaluates. A new check (e.g. one per Kafka broker, Elasticsearch node or Spark worker) is a probe
returning a :class:`Check` plus one entry in :data:`CHECKS`.

States: ``ok``; ``warn`` (worth a look, the DAG still passes: e.g. a yellow cluster, a lag that
keeps growing below its limit); ``fail`` (the DAG fails, the dashboard shows red).
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from streaming_platform.clients import kafka_consumer
from streaming_platform.config import SPARK_CLUSTER_WORKERS, Settings, kafka_nodes
from streaming_platform.es_indices import parse_offset_range
from streaming_platform.streaming import APP_NAME, app_checkpoint, read_status

KAFKA_TIMEOUT_S = 10.0
# A new broker loading __consumer_offsets, or a group moving between brokers: worth asking again.
COORDINATOR_NOT_READY = frozenset(
    {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
    }
)
RECENT_BATCHES = 200  # runtime docs scanned for the newest processed offsets
STATUS_FRESH_S = 90.0  # the app rewrites its status at least every 30 s while it waits
UI_PORT_TRIES = 4  # Spark moves the UI to the next port when the configured one is taken
# The UI's REST API starts on its first request: that answer can take over 10 s on a busy machine.
UI_ANSWER_WAIT_S = 20.0
UI_RETRY_S = 1.0  # between attempts at a UI that accepted the connection but did not answer
NO_ANSWER = "no answer"  # a UI port that listens but gave no answer in time: liveness unknown
LAG_GROWING_WARN_S = 60.0  # a lag growing this long (yet under its limit) is a warning

# The checks' names, as the DAG's log, its failure message and the dashboard show them.
APP_LIVENESS = "app liveness"
ELASTICSEARCH_HEALTH = "elasticsearch health"
KAFKA_BROKERS = "kafka brokers"
SPARK_WORKERS = "spark workers"
CONSUMER_LAG = "consumer lag"
AGGREGATE_STALENESS = "aggregate staleness"
QUARANTINE_RATE = "quarantine rate"
FREE_DISK = "free disk"


class State(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


_LINE_LABEL = {State.OK: "ok  ", State.WARN: "warn", State.FAIL: "FAIL"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool  # False: pipeline_health fails
    value: float | None
    limit: float | None
    message: str
    warn: bool = False  # ok, but worth a look

    @property
    def state(self) -> State:
        return State.FAIL if not self.ok else State.WARN if self.warn else State.OK

    def line(self) -> str:
        return f"{_LINE_LABEL[self.state]}  {self.name}: {self.message}"


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


def committed_offsets(settings: Settings, group: str, topic: str, partitions: list[int]) -> dict[int, int]:
    """partition -> next offset the app will read, as committed under ``group`` (absent: none).

    Read with a group consumer's ``committed()`` (it never subscribes, so it never joins the
    group), not ``AdminClient.list_consumer_group_offsets``: librdkafka's admin client has no
    consumer group, and an OffsetFetch answered NOT_COORDINATOR (a broker still loading
    ``__consumer_offsets``, e.g. the first group lookup on a new broker) makes it dereference that
    NULL group and kill the process with SIGSEGV (librdkafka #5040, still in 2.16).
    """
    consumer = kafka_consumer(settings, group)
    try:
        wanted = [TopicPartition(topic, p) for p in partitions]
        found = _committed(consumer, wanted, time.monotonic() + KAFKA_TIMEOUT_S)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in found if tp.error is None and tp.offset >= 0}


def _committed(consumer: Any, wanted: list[TopicPartition], deadline: float) -> list[TopicPartition]:
    """``consumer.committed(wanted)``, asked again while the group's coordinator is not ready."""
    while True:
        try:
            return consumer.committed(wanted, timeout=max(deadline - time.monotonic(), 1.0))
        except KafkaException as exc:
            if exc.args[0].code() not in COORDINATOR_NOT_READY or time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


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


def judge_lag(lag: float, limit: int, detail: str = "", growing_s: float = 0.0) -> Check:
    """Messages the app is behind the events topic: fails above ``limit``; a warning while it has
    grown for ``LAG_GROWING_WARN_S`` (only a watcher that samples it over time knows that)."""
    grow = f", growing for {growing_s:,.0f} s" if growing_s >= LAG_GROWING_WARN_S else ""
    message = f"{lag:,.0f} messages behind{grow} (limit {limit:,})" + (f"; {detail}" if detail else "")
    return Check(CONSUMER_LAG, lag <= limit, lag, limit, message, warn=bool(grow))


def consumer_lag(admin: Any, es: Any, settings: Settings) -> Check:
    topic, limit = settings["kafka.topic.events"], settings["health.max.consumer.lag"]
    ends = end_offsets(admin, topic)
    committed = committed_offsets(settings, settings["kafka.consumer.group"], topic, list(ends))
    processed = processed_offsets(es, settings, topic)
    lag = 0
    for p, (lo, hi) in ends.items():
        done = max(committed.get(p, lo), processed.get(p, lo), lo)  # retention may pass both
        lag += max(0, hi - done)
    end_total = sum(hi for _, hi in ends.values())
    detail = (
        f"topic end offsets {end_total:,}, app committed {sum(committed.values()):,}, "
        f"processed per runtime metrics {sum(processed.values()):,}"
    )
    return judge_lag(lag, limit, detail)


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
        return Check(AGGREGATE_STALENESS, False, None, limit, f"no aggregate in {index} yet")
    age = (now or time.time()) - newest_ms / 1000
    message = f"newest aggregate in {index} is {age:,.0f} s old (limit {limit:,} s)"
    return Check(AGGREGATE_STALENESS, age <= limit, round(age, 1), limit, message)


def judge_quarantine_rate(bad: int, rows: int, limit: float, span: str) -> Check:
    """Share of ``span``'s input rows that were quarantined: fails above ``limit``."""
    if not rows:
        return Check(QUARANTINE_RATE, True, 0.0, limit, f"no input in {span}")
    rate = bad / rows
    message = f"{rate:.2%} of {span}'s input quarantined ({bad:,} of {rows:,}; limit {limit:.2%})"
    return Check(QUARANTINE_RATE, rate <= limit, round(rate, 6), limit, message)


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
    return judge_quarantine_rate(bad, rows, limit, f"the last {interval_s / 60:g} min")


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
    return Check(FREE_DISK, least >= limit, round(least, 1), limit, message)


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


def judge_elasticsearch(state: dict[str, Any], replicated: bool = False) -> Check:
    """The cluster's state (:func:`es_cluster_state`): red fails. Yellow is normal on one node (no
    replica can be assigned): a warning; with replicas configured it means a lost node: a failure."""
    status, shards = state["status"], state["shards"]
    message = (
        f"cluster {state['cluster']} is {status}: {len(state['nodes'])} node(s) "
        f"{', '.join(state['nodes'])} (master {state['master']}); shards {shards['active']} active "
        f"({shards['primaries']} primaries), {shards['initializing']} initializing, "
        f"{shards['relocating']} relocating, {shards['unassigned']} unassigned"
    )
    level = {"green": 0, "yellow": 1}.get(str(status), 2)
    ok = level == 0 or (level == 1 and not replicated)
    return Check(ELASTICSEARCH_HEALTH, ok, level, 1 if not replicated else 0, message, warn=level == 1 and ok)


def elasticsearch_health(es: Any, settings: Settings | None = None) -> Check:
    return judge_elasticsearch(es_cluster_state(es), settings is not None and settings["es.replicas"] > 0)


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
    return Check(KAFKA_BROKERS, ok, len(under) + len(offline), 0, message)


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


def app_executors(settings: Settings, wait_s: float = UI_ANSWER_WAIT_S) -> list[dict[str, Any]] | None:
    """The running app's executors (not the driver) from its UI, or None if it does not answer."""
    for url, app in running_apps(ui_answers(settings, wait_s)):
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


def spark_cluster_state(settings: Settings, wait_s: float = UI_ANSWER_WAIT_S) -> dict[str, Any] | None:
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
        "executors": app_executors(settings, wait_s),
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
    return Check(SPARK_WORKERS, ok, len(alive), expected, message)


# ---------------------------------------------------------------------------- the app


UiAnswer = list[dict[str, Any]] | str | None  # the applications, NO_ANSWER, or None: nothing listens


def _ui_applications(url: str, deadline: float) -> UiAnswer:
    """``GET <url>/api/v1/applications``, asked again until ``deadline`` while the UI is silent."""
    while True:
        timeout = max(deadline - time.monotonic(), 1.0)
        try:
            with urllib.request.urlopen(f"{url}/api/v1/applications", timeout=timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code < 500:  # something else answers on this port: it lists no app
                return []
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError):
                return None
        except ConnectionRefusedError:
            return None
        except (OSError, ValueError):  # timed out, reset or cut short: the UI is still starting
            pass
        if time.monotonic() + UI_RETRY_S >= deadline:
            return NO_ANSWER
        time.sleep(UI_RETRY_S)


def ui_answers(settings: Settings, wait_s: float = UI_ANSWER_WAIT_S) -> dict[str, UiAnswer]:
    """UI URL -> its answer, for each port the app's UI may have taken; ``wait_s`` in all."""
    host, first = settings["bind.host"], settings["spark.ui.port"]
    deadline = time.monotonic() + wait_s
    return {
        url: _ui_applications(url, deadline)
        for url in (f"http://{host}:{port}" for port in range(first, first + UI_PORT_TRIES))
    }


def running_apps(answers: dict[str, UiAnswer]) -> list[tuple[str, dict[str, Any]]]:
    """(UI URL, application) of each answer listing the app, not completed."""
    return [
        (url, app)
        for url, apps in answers.items()
        if isinstance(apps, list)
        for app in apps
        if app.get("name") == APP_NAME and not all(a.get("completed") for a in app.get("attempts", [{}]))
    ]


def app_waiting(settings: Settings, now: float | None = None) -> str:
    """What the running app says it waits for ("waiting for Elasticsearch since 12:03:10, 41
    retries"), or "" — a status older than the longest backoff is its last word, not news."""
    status = read_status(app_checkpoint(settings))
    fresh = (now or time.time()) - status.get("updated_at", 0) < STATUS_FRESH_S
    return status.get("detail", "") if fresh and status.get("waiting_for") else ""


def judge_app_liveness(
    answers: dict[str, UiAnswer], waiting: str = "", wait_s: float = UI_ANSWER_WAIT_S
) -> Check:
    """Alive (value 1) when a UI lists the app running; unknown (value None) when none does but a
    port accepted the connection without answering; else not running (value 0)."""
    for url, app in running_apps(answers):
        detail = f"{APP_NAME} is running ({app.get('id')}, UI {url})"
        return Check(APP_LIVENESS, True, 1, None, f"{detail}, {waiting}" if waiting else detail)
    silent = [url for url, apps in answers.items() if apps == NO_ANSWER]
    if silent:
        return Check(
            APP_LIVENESS,
            False,
            None,
            None,
            f"{APP_NAME} is not known to run: the Spark UI at {', '.join(silent)} accepted the "
            f"connection but gave no answer in {wait_s:.0f}s",
        )
    ports = [url.rsplit(":", 1) for url in answers]
    where = f"{ports[0][0].removeprefix('http://')}:{ports[0][1]}-{ports[-1][1]}" if ports else "no port"
    return Check(
        APP_LIVENESS,
        False,
        0,
        None,
        f"{APP_NAME} is not running: no Spark UI listing it on {where} (trigger the streaming_app DAG)",
    )


def app_liveness(settings: Settings, wait_s: float = UI_ANSWER_WAIT_S) -> Check:
    """The Spark UI of the app answers and lists it, not completed (else: the app is not running).

    A UI that accepts the connection is given up to ``wait_s`` to answer: its REST API answers
    the first request late, and judging it "not running" meanwhile fails pipeline_health."""
    return judge_app_liveness(ui_answers(settings, wait_s), app_waiting(settings), wait_s)


# ---------------------------------------------------------------------------- all


@dataclass(frozen=True)
class Sources:
    """What a check's probe may use: Kafka admin client, Elasticsearch client, settings, interval."""

    admin: Any
    es: Any
    settings: Settings
    interval_s: float


# name -> probe, in the order pipeline_health logs them. The extension point: a new check is a
# probe returning a Check (its judgement a pure judge_* function when the dashboard shows it too).
CHECKS: dict[str, Callable[[Sources], Check | None]] = {  # None: not applicable here
    APP_LIVENESS: lambda s: app_liveness(s.settings),
    ELASTICSEARCH_HEALTH: lambda s: elasticsearch_health(s.es, s.settings),
    KAFKA_BROKERS: lambda s: kafka_brokers(s.admin, s.settings),
    SPARK_WORKERS: lambda s: spark_workers(s.settings),
    CONSUMER_LAG: lambda s: consumer_lag(s.admin, s.es, s.settings),
    AGGREGATE_STALENESS: lambda s: aggregate_staleness(s.es, s.settings),
    QUARANTINE_RATE: lambda s: quarantine_rate(s.es, s.settings, s.interval_s),
    FREE_DISK: lambda s: free_disk(s.es, s.settings),
}


def run_check(name: str, sources: Sources) -> Check | None:
    """One check; one that cannot be evaluated is a failed check with the error as message
    (None: not applicable here, e.g. spark workers on local[N])."""
    try:
        return CHECKS[name](sources)
    except Exception as exc:  # noqa: BLE001 - an unreachable service is a finding, not a crash
        return Check(name, False, None, None, f"could not be checked: {type(exc).__name__}: {exc}")


def run_checks(admin: Any, es: Any, settings: Settings, interval_s: float) -> list[Check]:
    """Every applicable check, in :data:`CHECKS` order."""
    sources = Sources(admin, es, settings, interval_s)
    return [check for name in CHECKS if (check := run_check(name, sources)) is not None]


def raise_for_failures(checks: list[Check]) -> None:
    failed = [c for c in checks if not c.ok]
    if failed:
        raise PipelineUnhealthy(
            f"{len(failed)} of {len(checks)} health checks failed: "
            + "; ".join(f"{c.name}: {c.message}" for c in failed)
        )
