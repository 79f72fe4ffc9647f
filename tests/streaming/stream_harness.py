"""Helpers of the streaming tests: one test's isolated pipeline, how to run/kill the app, a known event
set produced and the exact check of what Elasticsearch holds against the reference model.

A module of its own (not conftest.py) so test modules can import it unambiguously.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import reference_model as ref
from confluent_kafka import Consumer, TopicPartition
from elasticsearch import helpers

from streaming_platform import clients, config
from streaming_platform.producer import BAD_KINDS, EventGenerator
from streaming_platform.streaming.submit import submit_command, submit_env
from streaming_platform.validation import Limits


@dataclass
class Stream:
    """One test's isolated pipeline: settings, clients, and a way to run the app."""

    settings: config.Settings
    env: dict[str, str]
    es: Any
    admin: Any
    log_dir: Path

    def app(self, *args: str, name: str = "app", **overrides: str) -> subprocess.Popen:
        """Start the Spark app with spark-submit, in its own process group (for SIGKILL)."""
        settings = config.load(env={**self.env, **overrides}, overrides={})
        log = (self.log_dir / f"{name}.log").open("ab")
        return subprocess.Popen(
            submit_command(settings, list(args)),
            env={**os.environ, **self.env, **overrides, **submit_env(settings)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self, proc: subprocess.Popen, timeout: float = 600, name: str = "app") -> int:
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill(proc)
            pytest.fail(f"the app did not finish within {timeout:.0f}s\n{self.log_tail(name)}")

    def log_tail(self, name: str = "app", lines: int = 60) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return f"--- {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the app's whole process group (spark-submit JVM and the Python driver)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)


def produce_known(stream: Stream, n: int, seed: int, bad_fraction: float = 0.05) -> list[ref.KafkaRecord]:
    """Produce ``n`` records and return each with the partition/offset/timestamp Kafka gave it."""
    now = int(time.time() * 1000)
    # Event times spread over 3 minutes ending now: several windows, all within the watermark.
    gen = EventGenerator(
        customers=150, seed=seed, bad_fraction=bad_fraction, start_ms=now - 180_000, step_ms=180_000 / n
    )
    producer = clients.kafka_producer(stream.settings)
    out: list[ref.KafkaRecord] = []
    kinds: set[str] = set()

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        out.append(ref.KafkaRecord(msg.partition(), msg.offset(), msg.timestamp()[1], msg.value(), msg.key()))

    for (key, value, kind), _ in zip(gen.records(), range(n), strict=False):
        kinds.add(kind)
        producer.produce(stream.settings["kafka.topic.events"], value=value, key=key, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert len(out) == n
    assert kinds == {"valid", *BAD_KINDS}, "the event set must contain every kind of bad record"
    return out


def produce_values(stream: Stream, values: list[bytes]) -> list[ref.KafkaRecord]:
    """Produce these records (one partition, in order) and return each as Kafka stored it."""
    producer = clients.kafka_producer(stream.settings)
    out: list[ref.KafkaRecord] = []

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        out.append(ref.KafkaRecord(msg.partition(), msg.offset(), msg.timestamp()[1], msg.value(), msg.key()))

    for value in values:
        producer.produce(
            stream.settings["kafka.topic.events"], value=value, partition=0, on_delivery=delivered
        )
    assert producer.flush(60) == 0
    return sorted(out, key=lambda r: r.offset)


def expected(
    stream: Stream,
    records: list[ref.KafkaRecord],
    *later: list[ref.KafkaRecord],
    limits: Limits | None = None,
) -> ref.Expected:
    """The reference results of ``records`` and of each later run's records (a batch each), under
    ``limits`` (default: the shipped contract)."""
    s = stream.settings
    return ref.compute(
        [records, *later],
        config.duration_ms(s["spark.window.duration"]),
        config.duration_ms(s["spark.watermark"]),
        limits,
        config.duration_ms(s["spark.late.retention"]),
    )


def assert_documents(exp: ref.Expected, customers: dict[str, dict], windows: dict[str, dict]) -> None:
    """The customer and window documents are exactly the reference results, field by field."""
    assert set(customers) == set(exp.customers)
    for cid, doc in customers.items():
        assert {k: doc[k] for k in ref.CUSTOMER_FIELDS} == {
            k: exp.customers[cid][k] for k in ref.CUSTOMER_FIELDS
        }
    want = {f"{ws}-{cat}": w for (ws, cat), w in exp.windows.items()}
    assert set(windows) == set(want)
    for wid, doc in windows.items():
        assert {k: doc[k] for k in ref.WINDOW_FIELDS} == {k: want[wid][k] for k in ref.WINDOW_FIELDS}, wid


def all_docs(stream: Stream, key: str) -> dict[str, dict[str, Any]]:
    index = stream.settings[f"es.index.{key}"]
    stream.es.indices.refresh(index=index)
    return {
        h["_id"]: h["_source"]
        for h in helpers.scan(stream.es, index=index, query={"query": {"match_all": {}}})
    }


def dead_letters(stream: Stream) -> set[str]:
    topic = stream.settings["kafka.topic.deadletter"]
    consumer = Consumer(
        {
            "bootstrap.servers": stream.settings["kafka.bootstrap.servers"],
            "group.id": "t",
            "enable.auto.commit": False,
        }
    )
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    keys: set[str] = set()
    idle = time.monotonic()
    while time.monotonic() - idle < 3:
        for msg in consumer.consume(1000, timeout=0.5):
            if msg.error() is None:
                keys.add(msg.key().decode())
                idle = time.monotonic()
    consumer.close()
    return keys


def assert_exact(stream: Stream, records: list[ref.KafkaRecord], *later: list[ref.KafkaRecord]) -> None:
    """Elasticsearch holds exactly the reference results (``later``: records of later runs, whose
    batches are judged by the watermark the earlier records set)."""
    exp = expected(stream, records, *later)
    topic = stream.settings["kafka.topic.events"]
    customers = all_docs(stream, "customers")
    assert_documents(exp, customers, all_docs(stream, "aggregates"))
    quarantine = all_docs(stream, "quarantine")
    want_q = {f"{topic}-{p}-{o}": reasons for (p, o), reasons in exp.quarantine.items()}
    assert {qid: doc["reasons"] for qid, doc in quarantine.items()} == want_q
    by_pos = {(r.partition, r.offset): r for r in [*records, *(r for run in later for r in run)]}
    for doc in quarantine.values():  # raw payload kept, safely encoded
        raw = by_pos[(doc["partition"], doc["offset"])].value
        if doc["raw_encoding"] == "utf-8" and not doc["raw_truncated"]:
            assert doc["raw"].encode() == raw
    # Runtime metrics: every input record counted once, in the last run's batches or earlier ones.
    runtime = all_docs(stream, "runtime")
    assert sum(d["input_rows"] for d in runtime.values()) >= len(records) + sum(map(len, later))
    # Dead-letter topic: at least once, keyed by source position → as a set, exactly the quarantine.
    assert dead_letters(stream) == set(want_q)
    totals = sum(c["total_events"] for c in customers.values())
    set_aside = sum(reasons != ["late"] for reasons in exp.quarantine.values())  # late ones count
    assert totals == exp.accepted == len(records) + sum(map(len, later)) - set_aside
