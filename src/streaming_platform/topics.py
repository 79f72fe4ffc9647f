"""Create the platform's Kafka topics (events + dead letters) from the configuration, idempotently.

:func:`ensure_topics` is what the platform_setup DAG runs. It accepts any confluent-kafka
``AdminClient`` — e.g. the one the Airflow Kafka provider's ``KafkaAdminClientHook`` exposes as
``hook.get_conn`` — and reports per topic whether it was created, already matched, or changed
(partitions grown, configuration set). Partitions only ever grow: Kafka cannot shrink a topic.

The events topic stamps every record with the broker's clock (``LogAppendTime``): the app judges
"future" event times against that timestamp (``validation.max.future.seconds``), and a producer
could set a ``CreateTime`` of its choosing, so one record an hour ahead could otherwise move the
watermark an hour ahead. Both topics are bounded by age and by size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from streaming_platform.config import Settings

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]
    replication_factor: int = 1


@dataclass
class TopicReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # topic -> what changed

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "existing": self.existing, "changed": self.changed}


# Retention deletes whole segments only: segments of a quarter of the size bound keep a partition
# within 1.25 times it (Kafka's default segment is 1 GiB, as large as the default bound).
_SEGMENTS_PER_BOUND = 4
_MAX_SEGMENT_BYTES = 1024**3


def retention_config(settings: Settings) -> dict[str, str]:
    """Age and size bounds of both topics (size per partition)."""
    size = settings["kafka.topic.retention.bytes"]
    return {
        "retention.ms": str(settings["kafka.topic.retention.ms"]),
        "retention.bytes": str(size),
        "segment.bytes": str(min(size // _SEGMENTS_PER_BOUND, _MAX_SEGMENT_BYTES)),
    }


def topic_specs(settings: Settings) -> list[TopicSpec]:
    partitions, rf = settings["kafka.topic.partitions"], settings["kafka.topic.replication.factor"]
    # With acks=all, a write needs min.insync.replicas copies: one broker of three may fail.
    common = {
        **retention_config(settings),
        "min.insync.replicas": str(settings["kafka.topic.min.insync.replicas"]),
    }
    return [
        TopicSpec(
            settings["kafka.topic.events"],
            partitions,
            {**common, "message.timestamp.type": "LogAppendTime"},
            rf,
        ),
        # Quarantined records are kept as long as the events they came from.
        TopicSpec(settings["kafka.topic.deadletter"], partitions, common, rf),
    ]


def _current_config(admin: Any, name: str) -> dict[str, str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    entries = admin.describe_configs([resource])[resource].result(TIMEOUT_S)
    return {k: v.value for k, v in entries.items()}


def _reconcile(admin: Any, spec: TopicSpec, partitions: int) -> list[str]:
    """Grow partitions and fix config of an existing topic; returns what was changed."""
    changes: list[str] = []
    if partitions < spec.partitions:
        admin.create_partitions([NewPartitions(spec.name, spec.partitions)])[spec.name].result(TIMEOUT_S)
        changes.append(f"partitions {partitions} -> {spec.partitions}")
    current = _current_config(admin, spec.name)
    wrong = {k: v for k, v in spec.config.items() if current.get(k) != v}
    if wrong:
        resource = ConfigResource(
            ConfigResource.Type.TOPIC,
            spec.name,
            incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in wrong.items()
            ],
        )
        admin.incremental_alter_configs([resource])[resource].result(TIMEOUT_S)
        changes += [f"{k} {current.get(k)} -> {v}" for k, v in wrong.items()]
    return changes


def ensure_topics(settings: Settings, admin: Any) -> TopicReport:
    """Create missing topics; grow partitions and set the configuration of existing ones."""
    report = TopicReport()
    metadata = admin.list_topics(timeout=TIMEOUT_S).topics
    specs = topic_specs(settings)
    missing = [s for s in specs if s.name not in metadata]
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(
                    s.name,
                    num_partitions=s.partitions,
                    replication_factor=s.replication_factor,
                    config=s.config,
                )
                for s in missing
            ]
        )
        for name, future in futures.items():
            future.result(TIMEOUT_S)
            report.created.append(name)
    for spec in specs:
        if spec in missing:
            continue
        changes = _reconcile(admin, spec, len(metadata[spec.name].partitions))
        if changes:
            report.changed[spec.name] = changes
        else:
            report.existing.append(spec.name)
    return report
