"""Body of the demo_load DAG: the platform's producer with the DAG run's params."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from streaming_platform import clients, config
from streaming_platform.orchestration.hooks import kafka_bootstrap
from streaming_platform.producer import EventGenerator, send
from streaming_platform.progress import say


def produce_events(
    rate: float = 500,
    duration: float = 60,
    bad_fraction: float = 0.0,
    customers: int = 10_000,
    seed: int = 42,
    **_ignored: Any,
) -> dict[str, Any]:
    settings = config.load()
    topic = settings["kafka.topic.events"]
    # The producer's own settings (idempotence, acks=all), pointed at the kafka_default connection.
    producer = clients.kafka_producer(settings, **{"bootstrap.servers": kafka_bootstrap()})
    gen = EventGenerator(
        customers=int(customers),
        seed=int(seed),
        bad_fraction=float(bad_fraction),
        max_payload_bytes=settings["validation.max.payload.bytes"],
    )
    say(f"→ producing to {topic} for {duration:g}s at {rate or 'max'}/s, bad fraction {bad_fraction:g}")
    summary = send(producer, topic, gen.records(), duration=float(duration), rate=float(rate))
    say(("✓ " if not summary.failed else "✗ ") + summary.line())
    for kind, n in sorted(summary.by_kind.items()):
        say(f"    {kind:26} {n:,}")
    if summary.failed:
        raise RuntimeError(f"{summary.failed} events were not delivered: {summary.errors[:3]}")
    return {**asdict(summary), "rate": summary.rate}
