"""The platform's configuration: every option has one name, doc, default and validator here.

Modelled on Kafka Connect's ``ConfigDef``: an :class:`Option` is declared once and every consumer
(the embedded runtime, the Spark app, the DAGs, the dashboard, docker-compose) reads it through
:func:`load`. Values resolve in this order, later wins:

1. the default declared below,
2. the saved overrides file (``$PLATFORM_HOME/config/overrides.json``, written by the dashboard),
3. the environment variable (``PLATFORM_<NAME>`` with dots as underscores, upper case).

Each resolved value remembers its source so the dashboard can show where it came from.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the option and the rule."""


# --------------------------------------------------------------------------- validators


def _port(value: int) -> None:
    if not 1 <= value <= 65535:
        raise ValueError("must be a TCP port between 1 and 65535")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _between(lo: float, hi: float) -> Callable[[float], None]:
    """A number in [lo, hi]; NaN and infinities fail the comparison and are refused too."""

    def check(value: float) -> None:
        if not lo <= value <= hi:
            raise ValueError(f"must be between {_number(lo)} and {_number(hi)}")

    return check


def _above(lo: float, hi: float) -> Callable[[float], None]:
    """A number in (lo, hi]."""

    def check(value: float) -> None:
        if not lo < value <= hi:
            raise ValueError(f"must be greater than {_number(lo)} and at most {_number(hi)}")

    return check


def _fraction(value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")


def _percent(value: float) -> None:
    if not 0.0 <= value <= 100.0:
        raise ValueError("must be between 0 and 100")


def _non_empty(value: str) -> None:
    if not value.strip():
        raise ValueError("must not be empty")


_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_INDEX = re.compile(r"^[a-z0-9][a-z0-9._-]{0,254}$")
_DURATION = re.compile(r"^(\d+) (millisecond|second|minute|hour)s?$")
_UNIT_MS = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000}
_HEAP = re.compile(r"^\d+[mg]$")


def _topic(value: str) -> None:
    if not _TOPIC.match(value):
        raise ValueError("must be a Kafka topic name: letters, digits, '.', '_' or '-'")


def _index(value: str) -> None:
    if not _INDEX.match(value):
        raise ValueError("must be a lower-case Elasticsearch index name")


def _duration(value: str) -> None:
    if not _DURATION.match(value):
        raise ValueError("must look like '500 milliseconds', '30 seconds', '1 minute' or '2 hours'")


def _duration_between(lo: str, hi: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        _duration(value)
        if not duration_ms(lo) <= duration_ms(value) <= duration_ms(hi):
            raise ValueError(f"must be between {lo} and {hi}")

    return check


def duration_ms(text: str) -> int:
    """``"1 minute"`` → 60000: the format of the duration options (``spark.trigger.interval`` …),
    which Spark's own interval parser reads too."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


def duration_seconds(text: str) -> float:
    """``"1 minute"`` → 60.0."""
    return duration_ms(text) / 1000


_MIN_HEAP_MB, _MAX_HEAP_MB = 128, 64 * 1024


def _heap(value: str) -> None:
    if not _HEAP.match(value):
        raise ValueError("must be a JVM heap size such as '512m' or '1g'")
    mb = int(value[:-1]) * (1024 if value.endswith("g") else 1)
    if not _MIN_HEAP_MB <= mb <= _MAX_HEAP_MB:
        raise ValueError("must be between 128m and 64g")


def _jvm_options(value: str) -> None:
    for token in value.split():
        if not token.startswith("-"):
            raise ValueError(f"must be JVM options such as '-XX:TieredStopAtLevel=1' ({token!r} is not one)")
        if token.startswith(("-Xmx", "-Xms")):
            raise ValueError("must not set the heap: that is spark.driver.memory / spark.executor.memory")


def _url(value: str) -> None:
    if value and not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http:// or https:// URL (or empty)")


def _host_ports(value: str) -> None:
    for part in value.split(","):
        if not re.match(r"^[\w.-]+:\d{1,5}$", part.strip()):
            raise ValueError("must be host:port[,host:port...]")


def _urls(value: str) -> None:
    for part in value.split(","):
        if not re.match(r"^https?://[^\s/,]+", part.strip()):
            raise ValueError("must be one http:// or https:// URL or several, comma-separated")


def _one_of(*allowed: str) -> Callable[[str], None]:
    def check(value: str) -> None:
        if value not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))

    return check


def _spark_master(value: str) -> None:
    if not re.match(r"^(local(\[(\d+|\*)\])?|spark://[\w.-]+:\d+|yarn|k8s://.+)$", value):
        raise ValueError("must be local[N], spark://host:port, yarn or k8s://...")


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Option:
    """One configuration option: its name, type, default, documentation and validator."""

    name: str
    type: type
    default: Any
    doc: str
    group: str
    validator: Callable[[Any], None] | None = None
    secret: bool = False
    editable: bool = False  # may be changed from the dashboard
    applies: str = "restart of the embedded stack"  # when a change takes effect

    @property
    def env(self) -> str:
        return "PLATFORM_" + self.name.upper().replace(".", "_")

    def parse(self, raw: Any) -> Any:
        """Convert ``raw`` (a string from the environment, or JSON) and validate it."""
        try:
            if self.type is bool and isinstance(raw, str):
                if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                    raise ValueError("must be true or false")
                value: Any = raw.lower() in {"1", "true", "yes"}
            elif self.type is int and isinstance(raw, float | bool):
                raise ValueError("must be a whole number")
            else:
                value = self.type(raw)
            if self.validator is not None:
                self.validator(value)
        except (TypeError, ValueError) as exc:
            shown = "***" if self.secret else repr(raw)
            raise ConfigError(f"{self.name} ({self.env}) = {shown}: {exc}") from None
        return value


_SPARK = "restart of the streaming app (trigger the streaming_app DAG)"
_HEALTH = "next pipeline_health run"
# Topic bounds: at least an hour and 64 MiB per partition, so no edit can empty a topic at once.
MAX_PARTITIONS = 256
MIN_RETENTION_MS, MAX_RETENTION_MS = 3_600_000, 365 * 86_400_000
MIN_RETENTION_BYTES, MAX_RETENTION_BYTES = 64 * 1024**2, 1024**4

OPTIONS: tuple[Option, ...] = (
    # -- platform
    Option(
        "home",
        str,
        str(REPO_ROOT / ".platform"),
        "State folder: data, logs, PID files, checkpoints.",
        "platform",
    ),
    Option(
        "bind.host",
        str,
        "127.0.0.1",
        "Address every embedded service binds to (loopback only by default).",
        "platform",
        _non_empty,
    ),
    Option(
        "bind.allow.remote",
        bool,
        False,
        "Let `platform up` bind Kafka, Airflow and the dashboard beyond loopback (bind.host). The "
        "embedded Kafka has no authentication: only on a network you trust, and only with "
        "dashboard.token set. The embedded Elasticsearch (no security) always stays on loopback.",
        "platform",
    ),
    Option(
        "topology",
        str,
        "embedded",
        "What `platform up` starts: embedded (one Kafka broker, one Elasticsearch node, Spark "
        "local[N], Airflow on SQLite) or cluster (three KRaft brokers, two Elasticsearch nodes, a "
        "Spark standalone master with two workers, Airflow on PostgreSQL), all on loopback.",
        "platform",
        _one_of("embedded", "cluster"),
    ),
    # -- kafka
    Option(
        "kafka.bootstrap.servers",
        str,
        "127.0.0.1:9092",
        "Kafka bootstrap servers used by every client (default: every broker `platform up` starts).",
        "kafka",
        _host_ports,
    ),
    Option(
        "kafka.port",
        int,
        9092,
        "Embedded Kafka broker listener port. Under topology=cluster, node i (0, 1, 2) listens on "
        "kafka.port + 2i (9092, 9094, 9096), leaving kafka.port + 1 to the first controller.",
        "kafka",
        _port,
    ),
    Option(
        "kafka.controller.port",
        int,
        9093,
        "Embedded Kafka KRaft controller port. Under topology=cluster, node i's controller is "
        "kafka.controller.port + 2i (9093, 9095, 9097).",
        "kafka",
        _port,
    ),
    Option("kafka.heap", str, "512m", "Embedded Kafka JVM heap.", "kafka", _heap),
    Option(
        "kafka.topic.events",
        str,
        "customer-events",
        "Topic the producer writes customer events to.",
        "kafka",
        _topic,
    ),
    Option(
        "kafka.topic.deadletter",
        str,
        "customer-events-dlq",
        "Dead-letter topic for quarantined records.",
        "kafka",
        _topic,
    ),
    Option(
        "kafka.topic.replication.factor",
        int,
        1,
        "Replicas of each partition of the events and dead-letter topics when platform_setup "
        "creates them (default: 1 embedded, 3 under topology=cluster, one per broker).",
        "kafka",
        _between(1, 16),
    ),
    Option(
        "kafka.topic.min.insync.replicas",
        int,
        1,
        "min.insync.replicas of the events and dead-letter topics: an acks=all write succeeds "
        "once this many replicas have it (default: 1 embedded, 2 under topology=cluster, so one "
        "broker may fail without stopping writes or losing one).",
        "kafka",
        _between(1, 16),
    ),
    Option(
        "kafka.topic.partitions",
        int,
        3,
        "Partitions of the events and dead-letter topics (they only grow: Kafka cannot remove one).",
        "kafka",
        _between(1, MAX_PARTITIONS),
        editable=True,
        applies="next platform_setup run (partitions only grow)",
    ),
    Option(
        "kafka.topic.retention.ms",
        int,
        7 * 24 * 3600 * 1000,
        "Retention of the events and dead-letter topics in milliseconds (at least an hour: a shorter "
        "one deletes events a stopped app has not read yet).",
        "kafka",
        _between(MIN_RETENTION_MS, MAX_RETENTION_MS),
        editable=True,
        applies="next platform_setup run",
    ),
    Option(
        "kafka.topic.retention.bytes",
        int,
        1024**3,
        "Size bound of each partition of the events and dead-letter topics in bytes: beyond it the "
        "oldest segments are deleted, whatever their age (keeps the disk from filling).",
        "kafka",
        _between(MIN_RETENTION_BYTES, MAX_RETENTION_BYTES),
        editable=True,
        applies="next platform_setup run",
    ),
    Option(
        "kafka.consumer.group",
        str,
        "customer-events-spark",
        "Group id the Spark app reports its progress under (for lag).",
        "kafka",
        _non_empty,
    ),
    # -- elasticsearch
    Option(
        "es.url",
        str,
        "http://127.0.0.1:9200",
        "Elasticsearch URL used by every client; several nodes comma-separated (default: every "
        "node `platform up` starts).",
        "elasticsearch",
        _urls,
    ),
    Option(
        "es.port",
        int,
        9200,
        "Embedded Elasticsearch HTTP port. Under topology=cluster, node i (0, 1) listens on es.port + i.",
        "elasticsearch",
        _port,
    ),
    Option(
        "es.transport.port",
        int,
        9300,
        "Embedded Elasticsearch transport port. Under topology=cluster, node i's is es.transport.port + i.",
        "elasticsearch",
        _port,
    ),
    Option(
        "es.replicas",
        int,
        0,
        "Replicas of each shard of the platform's indices (default: 0 embedded, where a replica "
        "could never be assigned; 1 under topology=cluster, so either node holds every document).",
        "elasticsearch",
        _between(0, 8),
        applies="next platform_setup run",
    ),
    Option("es.heap", str, "512m", "Embedded Elasticsearch JVM heap.", "elasticsearch", _heap),
    Option(
        "es.username",
        str,
        "",
        "Elasticsearch user (empty: no authentication, as in the embedded node).",
        "elasticsearch",
    ),
    Option("es.password", str, "", "Elasticsearch password.", "elasticsearch", secret=True),
    Option(
        "es.index.aggregates",
        str,
        "pipeline-metrics",
        "Index of windowed aggregates per product category.",
        "elasticsearch",
        _index,
    ),
    Option(
        "es.index.customers",
        str,
        "customer-activity",
        "Index of per-customer activity summaries.",
        "elasticsearch",
        _index,
    ),
    Option(
        "es.index.quarantine",
        str,
        "pipeline-quarantine",
        "Index of quarantined (invalid) records.",
        "elasticsearch",
        _index,
    ),
    Option(
        "es.index.runtime",
        str,
        "pipeline-runtime-metrics",
        "Index of the streaming app's per-batch health metrics.",
        "elasticsearch",
        _index,
    ),
    Option(
        "es.index.quality",
        str,
        "pipeline-quality-results",
        "Index of Great Expectations validation results.",
        "elasticsearch",
        _index,
    ),
    # -- spark
    Option(
        "spark.master",
        str,
        "local[2]",
        # Not editable from the dashboard: SparkSubmitOperator takes the master from the
        # spark_default connection, which Airflow builds from this value when it starts.
        "Spark master the streaming app is submitted to (the spark_default Airflow connection; "
        "default: local[2] embedded, the standalone master `platform up` starts under "
        "topology=cluster).",
        "spark",
        _spark_master,
        applies="restart of Airflow (its spark_default connection)",
    ),
    Option(
        "spark.trigger.interval",
        str,
        "0 seconds",
        "Micro-batch trigger interval of the streaming app (0: next batch as soon as one ends and "
        "data is waiting — lowest latency; the app has no idle cost when no data arrives).",
        "spark",
        _duration_between("0 seconds", "1 hour"),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.max.offsets.per.trigger",
        int,
        400_000,
        "Upper bound of Kafka records read per micro-batch (bigger batches amortise the ~0.5 s fixed "
        "cost of a batch when catching up; small batches keep latency low when not).",
        "spark",
        _between(1, 10_000_000),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.customers.write.interval",
        str,
        "1 seconds",
        "Longest a changed customer waits for its document to be written again: a customer's "
        "document is written at most once per interval (a state-store timer holds the next one), "
        "so Elasticsearch indexes an active customer about once per interval instead of once per "
        "micro-batch; those waiting are written when the stream goes idle, stops or restarts. "
        "0: every micro-batch writes every customer it touched (most Elasticsearch load).",
        "spark",
        _duration_between("0 seconds", "1 hour"),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.window.duration",
        str,
        "1 minute",
        "Event-time tumbling window of the category aggregates.",
        "spark",
        _duration_between("1 second", "24 hours"),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.watermark",
        str,
        "10 minutes",
        "How late an event may arrive and still be counted.",
        "spark",
        _duration_between("0 seconds", "168 hours"),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.late.retention",
        str,
        "1 hour",
        "How long a closed window keeps counting the events that arrive too late for it (its "
        "late_events); later ones are still counted for their customer and kept in the quarantine "
        "with reason late.",
        "spark",
        _duration_between("0 seconds", "168 hours"),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.shuffle.partitions",
        int,
        4,
        "Partitions of the stream's state (by customer; by window × category) and of its shuffles: "
        "at most this many executors share the state. Fixed by a checkpoint when it is created.",
        "spark",
        _between(1, 200),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.checkpoint.dir",
        str,
        "",
        "Checkpoint folder of the streaming app (empty: $PLATFORM_HOME/checkpoints).",
        "spark",
    ),
    Option(
        "spark.driver.memory",
        str,
        "1g",
        "Driver memory of the streaming app.",
        "spark",
        _heap,
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.java.options",
        str,
        "",
        "Extra JVM options of the streaming app's driver and executors (Spark's "
        "extraJavaOptions). The test suite sets -XX:TieredStopAtLevel=1: its short runs start "
        "~20 % sooner on the quick JIT alone; a long-running app wants the full JIT (the default).",
        "spark",
        _jvm_options,
        applies=_SPARK,
    ),
    Option("spark.ui.port", int, 4040, "Spark UI port of the streaming app.", "spark", _port),
    Option(
        "spark.cluster.master.port",
        int,
        7077,
        "Port of the Spark standalone master `platform up` starts under topology=cluster.",
        "spark",
        _port,
    ),
    Option(
        "spark.cluster.master.ui.port",
        int,
        8090,
        "Web UI (and /json state) port of that master; worker i's UI is this port + 1 + i.",
        "spark",
        _port,
    ),
    Option(
        "spark.es.bulk.docs",
        int,
        5_000,
        "Documents per Elasticsearch bulk request of the streaming app.",
        "spark",
        _between(1, 100_000),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.es.bulk.threads",
        int,
        2,
        "Bulk requests the streaming app keeps in flight to Elasticsearch.",
        "spark",
        _between(1, 16),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "spark.outage.timeout",
        str,
        "15 minutes",
        "How long the streaming app waits out an unreachable Elasticsearch or Kafka (retrying with "
        "capped backoff, taking no new data) before it stops with an error for Airflow to restart it.",
        "spark",
        _duration_between("10 seconds", "24 hours"),
        editable=True,
        applies=_SPARK,
    ),
    # -- validation
    Option(
        "contract.path",
        str,
        str(REPO_ROOT / "contracts" / "customer_event.yaml"),
        "The event contract (YAML): fields, rules, event types and their roles, categories.",
        "validation",
        _non_empty,
        applies=_SPARK,
    ),
    Option(
        "validation.max.amount",
        float,
        100_000.0,
        # The bound keeps cents exact in a float64 and sums of them far inside int64.
        "Largest plausible amount of one event.",
        "validation",
        _above(0, 1e9),
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "validation.max.quantity",
        int,
        1_000,
        "Largest plausible quantity of one event.",
        "validation",
        _between(1, 1_000_000),  # quantities travel as int32
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "validation.max.payload.bytes",
        int,
        16_384,
        "Largest accepted Kafka message value.",
        "validation",
        _between(1, 1024 * 1024),  # Kafka's default message size limit
        editable=True,
        applies=_SPARK,
    ),
    Option(
        "validation.max.future.seconds",
        int,
        300,
        "How far an event timestamp may lie ahead of the broker's append time (clock skew).",
        "validation",
        _between(1, 86_400),
        editable=True,
        applies=_SPARK,
    ),
    # -- health thresholds
    Option(
        "health.max.consumer.lag",
        int,
        100_000,
        "Consumer lag (messages) above which pipeline_health fails.",
        "health",
        _between(1, 1_000_000_000),
        editable=True,
        applies=_HEALTH,
    ),
    Option(
        "health.max.staleness.seconds",
        int,
        600,
        "Age of the newest aggregate above which pipeline_health fails.",
        "health",
        _between(1, 7 * 86_400),
        editable=True,
        applies=_HEALTH,
    ),
    Option(
        "health.max.quarantine.rate",
        float,
        0.05,
        "Quarantined / input fraction above which pipeline_health fails.",
        "health",
        _fraction,
        editable=True,
        applies=_HEALTH,
    ),
    Option(
        "health.min.free.disk.percent",
        float,
        15.0,
        "Free disk (percent) below which pipeline_health fails: of the platform's state folder "
        "(Kafka, checkpoints) and of every Elasticsearch node (its low disk watermark is 85 % used).",
        "health",
        _percent,
        editable=True,
        applies=_HEALTH,
    ),
    # -- data quality
    Option(
        "quality.max.docs",
        int,
        200_000,
        "Most documents per index the data_quality DAG reads into a frame (newest first).",
        "quality",
        _between(1, 5_000_000),
        editable=True,
        applies="next data_quality run",
    ),
    Option(
        "quality.max.reconcile.attempts",
        int,
        20,
        "Tries of data_quality to read a consistent snapshot between two micro-batches.",
        "quality",
        _between(1, 1_000),
    ),
    # -- airflow
    Option("airflow.port", int, 8080, "Airflow API server / UI port.", "airflow", _port),
    Option(
        "airflow.url",
        str,
        "http://127.0.0.1:8080",
        "Airflow base URL (UI, REST API v2, execution API).",
        "airflow",
        _url,
    ),
    Option(
        "airflow.username",
        str,
        "admin",
        "Airflow user the dashboard authenticates as.",
        "airflow",
        _non_empty,
    ),
    Option(
        "airflow.password",
        str,
        "",
        "Airflow password (empty: read the standalone generated password file).",
        "airflow",
        secret=True,
    ),
    Option(
        "airflow.database",
        str,
        "sqlite",
        "Airflow's metadata database: sqlite (a file under the state folder) or postgres (the "
        "PostgreSQL server `platform up` starts). Default: postgres under topology=cluster.",
        "airflow",
        _one_of("sqlite", "postgres"),
    ),
    Option(
        "postgres.port",
        int,
        5432,
        "PostgreSQL port (127.0.0.1) of Airflow's metadata under airflow.database=postgres.",
        "airflow",
        _port,
    ),
    # -- kibana
    Option("kibana.url", str, "", "Kibana URL (empty: no Kibana, as in the embedded mode).", "kibana", _url),
    # -- dashboard
    Option("dashboard.port", int, 3000, "Pipeline dashboard port (served at /pipeline).", "dashboard", _port),
    Option(
        "dashboard.token",
        str,
        "",
        "Token required to edit settings from the dashboard (empty: editing off).",
        "dashboard",
        secret=True,
    ),
)

_BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}


@dataclass(frozen=True)
class Resolved:
    option: Option
    value: Any
    source: str  # "default" | "saved" | "environment"


@dataclass(frozen=True)
class Settings:
    """The effective configuration: ``settings["kafka.port"]`` or ``settings.get(...)``."""

    values: Mapping[str, Resolved] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name].value

    def source(self, name: str) -> str:
        return self.values[name].source

    @property
    def home(self) -> Path:
        return Path(self["home"])

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self["spark.checkpoint.dir"] or self.home / "checkpoints")

    def describe(self) -> list[dict[str, Any]]:
        """Every option with its effective value and source; secrets masked."""
        rows = []
        for r in self.values.values():
            o = r.option
            rows.append(
                {
                    "name": o.name,
                    "env": o.env,
                    "group": o.group,
                    "doc": o.doc,
                    "type": o.type.__name__,
                    "default": None if o.secret else o.default,
                    "value": ("***" if r.value else "") if o.secret else r.value,
                    "source": r.source,
                    "secret": o.secret,
                    "editable": o.editable,
                    "applies": o.applies,
                }
            )
        return rows


def option(name: str) -> Option:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown option {name!r}") from None


def overrides_path(home: Path | None = None) -> Path:
    base = home or Path(os.environ.get("PLATFORM_HOME", _BY_NAME["home"].default))
    return base / "config" / "overrides.json"


def read_overrides(path: Path | None = None) -> dict[str, Any]:
    path = path or overrides_path()
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a JSON object of option -> value")
    return data


def validate_overrides(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check dashboard edits: only editable options, every value valid. Returns parsed values."""
    errors, parsed = [], {}
    for name, raw in changes.items():
        try:
            opt = option(name)
            if not opt.editable:
                raise ConfigError(f"{name} cannot be edited from the dashboard")
            parsed[name] = opt.parse(raw)
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("; ".join(errors))
    return parsed


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback one (an unresolvable name is not)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def _client_host(bind_host: str) -> str:
    return "127.0.0.1" if bind_host in ("0.0.0.0", "::") else bind_host


# Nodes per service under topology=cluster: a 3-voter KRaft quorum survives one broker, two
# Elasticsearch nodes hold a primary and a replica of every shard.
KAFKA_CLUSTER_NODES = 3
ES_CLUSTER_NODES = 2
SPARK_CLUSTER_WORKERS = 2


@dataclass(frozen=True)
class KafkaNode:
    node_id: int  # 1-based KRaft node id
    port: int
    controller_port: int


@dataclass(frozen=True)
class EsNode:
    name: str
    port: int
    transport_port: int


def kafka_nodes(values: Mapping[str, Any] | Settings) -> list[KafkaNode]:
    """The Kafka nodes ``platform up`` starts: one embedded, three under topology=cluster (node i
    on kafka.port + 2i and kafka.controller.port + 2i, so the defaults interleave 9092…9097)."""
    n = KAFKA_CLUSTER_NODES if values["topology"] == "cluster" else 1
    port, cport = values["kafka.port"], values["kafka.controller.port"]
    nodes = [KafkaNode(i + 1, port + 2 * i, cport + 2 * i) for i in range(n)]
    ports = [p for node in nodes for p in (node.port, node.controller_port)]
    if len(set(ports)) != len(ports):
        raise ConfigError(
            f"kafka.port={values['kafka.port']} and kafka.controller.port={values['kafka.controller.port']}: "
            f"the cluster's nodes would share ports {sorted(ports)} (keep the controller port odd steps "
            "away, e.g. kafka.port + 1)"
        )
    return nodes


def es_nodes(values: Mapping[str, Any] | Settings) -> list[EsNode]:
    """The Elasticsearch nodes ``platform up`` starts: one embedded, two under topology=cluster."""
    if values["topology"] != "cluster":
        return [EsNode("embedded", values["es.port"], values["es.transport.port"])]
    return [
        EsNode(f"node-{i + 1}", values["es.port"] + i, values["es.transport.port"] + i)
        for i in range(ES_CLUSTER_NODES)
    ]


def es_hosts(url: str) -> list[str]:
    """The node URLs of ``es.url`` (one, or several comma-separated)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def _bootstrap(v: Mapping[str, Any]) -> str:
    host = _client_host(v["bind.host"])
    return ",".join(f"{host}:{node.port}" for node in kafka_nodes(v))


def _es_url(v: Mapping[str, Any]) -> str:
    host = _client_host(v["bind.host"])
    return ",".join(f"http://{host}:{node.port}" for node in es_nodes(v))


def _spark_master_url(v: Mapping[str, Any]) -> str:
    if v["topology"] != "cluster":
        return v["spark.master"]
    return f"spark://{_client_host(v['bind.host'])}:{v['spark.cluster.master.port']}"


def _cluster(embedded: int, cluster: int) -> Callable[[Mapping[str, Any]], str]:
    return lambda v: str(cluster if v["topology"] == "cluster" else embedded)


# Client addresses left at their default follow the embedded services' host and ports, so moving a
# port (e.g. PLATFORM_KAFKA_PORT) moves every client with it; an explicit value always wins. Under
# topology=cluster they list every node, and replication follows the number of nodes; Airflow's
# database left at its default follows the topology.
_DERIVED: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "kafka.bootstrap.servers": _bootstrap,
    "es.url": _es_url,
    "spark.master": _spark_master_url,
    "airflow.url": lambda v: f"http://{_client_host(v['bind.host'])}:{v['airflow.port']}",
    "kafka.topic.replication.factor": _cluster(1, KAFKA_CLUSTER_NODES),
    "kafka.topic.min.insync.replicas": _cluster(1, KAFKA_CLUSTER_NODES - 1),
    "es.replicas": _cluster(0, ES_CLUSTER_NODES - 1),
    "airflow.database": lambda v: "postgres" if v["topology"] == "cluster" else "sqlite",
}


def load(env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Resolve every option from defaults, saved overrides and the environment."""
    env = os.environ if env is None else env
    if overrides is None:
        home = env.get(_BY_NAME["home"].env)
        overrides = read_overrides(overrides_path(Path(home) if home else None))
    values: dict[str, Resolved] = {}
    for opt in OPTIONS:
        if opt.env in env:
            values[opt.name] = Resolved(opt, opt.parse(env[opt.env]), "environment")
        elif opt.name in overrides:
            values[opt.name] = Resolved(opt, opt.parse(overrides[opt.name]), "saved")
        else:
            values[opt.name] = Resolved(opt, opt.parse(opt.default), "default")
    plain = {name: r.value for name, r in values.items()}
    for name, derive in _DERIVED.items():
        if values[name].source == "default":
            values[name] = Resolved(values[name].option, values[name].option.parse(derive(plain)), "default")
    return Settings(values)
