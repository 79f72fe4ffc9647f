"""Fault drill: long outages of Elasticsearch and Kafka under a live stream, and its invariants.

With events flowing (``--rate``, 1 % bad), Elasticsearch is stopped for ``--es-outage`` seconds
(default 600), then, while the app drains the backlog that piled up, the Kafka broker for
``--kafka-outage`` seconds (default 300). The app must stay up through both, waiting (its status
says so), and afterwards Elasticsearch must hold every event exactly once:

- customers' events = valid events sent, quarantine = bad records sent,
- window events + late = valid events sent,
- the app never exited before it was asked to stop, and stopped with exit code 0.

Runs against the embedded stack (`make up kafka elasticsearch`), on topics and indices of its own,
deleted afterwards. Prints a line every 10 s and the invariants at the end; exit 1 if one fails.
A shorter drill: ``--es-outage 60 --kafka-outage 30``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from pipeline_bench import clean_up, isolate, require_services

from streaming_platform import clients, config, es_indices, topics
from streaming_platform.producer import EventGenerator, Summary, send
from streaming_platform.progress import say
from streaming_platform.runtime import elasticsearch, kafka, process
from streaming_platform.runtime.process import Paths
from streaming_platform.streaming import app_checkpoint, read_status, stop_file
from streaming_platform.streaming.submit import submit_command, submit_env


def _count(es, index: str, field: str | None = None) -> int:
    es.indices.refresh(index=index)
    if field is None:
        return es.count(index=index)["count"]
    body = es.search(index=index, size=0, aggs={"s": {"sum": {"field": field}}})
    return int(body["aggregations"]["s"]["value"])


def _watch(proc: subprocess.Popen, settings: config.Settings, seconds: float, what: str) -> None:
    """Wait ``seconds``, saying every 10 s what the app reports; fail if it exits."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"✗ the app exited ({proc.returncode}) during {what}")
        detail = read_status(app_checkpoint(settings)).get("detail") or "not waiting"
        say(f"  {what}: {end - time.monotonic():4.0f} s left; the app says: {detail}")
        time.sleep(min(10.0, max(0.0, end - time.monotonic())))


def _processed(es, settings: config.Settings) -> int:
    index = settings["es.index.runtime"]
    return _count(es, index, "input_rows") if es.indices.exists(index=index) else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=3000.0, help="events/s while producing")
    p.add_argument("--es-outage", type=float, default=600.0, help="seconds Elasticsearch is down")
    p.add_argument("--kafka-outage", type=float, default=300.0, help="seconds the broker is down")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds of stream before the first fault")
    args = p.parse_args(argv)
    stack = config.load()
    require_services(stack)
    paths = Paths(stack.home)
    run = f"drill-{time.strftime('%m%d%H%M%S')}"
    checkpoints = isolate(run)
    settings = config.load()
    es = clients.es_client(settings)
    topics.ensure_topics(settings, clients.kafka_admin(settings))
    es_indices.ensure_templates(es, settings)
    log = Path(checkpoints) / "app.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        submit_command(settings),
        env={**os.environ, **submit_env(settings)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    say(f"→ {run}: app started (log {log}); producing {args.rate:,.0f} events/s")
    sent: list[Summary] = []
    produce_s = args.warmup + args.es_outage + 30
    producer = threading.Thread(
        target=lambda: sent.append(
            send(
                clients.kafka_producer(settings),
                settings["kafka.topic.events"],
                EventGenerator(bad_fraction=0.01).records(),
                duration=produce_s,
                rate=args.rate,
                progress_every=0,
            )
        )
    )
    producer.start()
    try:
        _watch(proc, settings, args.warmup, "warm-up")
        say(f"→ stopping Elasticsearch for {args.es_outage:.0f} s")
        process.stop("elasticsearch", paths, 120)
        try:
            _watch(proc, settings, args.es_outage, "Elasticsearch down")
        finally:
            process.start(elasticsearch.spec(stack), paths, stack["bind.host"])
        producer.join()
        say(f"→ stopping Kafka for {args.kafka_outage:.0f} s (backlog still draining)")
        process.stop("kafka", paths)
        try:
            _watch(proc, settings, args.kafka_outage, "Kafka down")
        finally:
            process.start(kafka.spec(stack), paths, stack["bind.host"])
        summary = sent[0]
        while _processed(es, settings) < summary.sent:
            _watch(proc, settings, 10, f"draining ({_processed(es, settings):,} of {summary.sent:,})")
        stop_file(settings).touch()
        code = proc.wait(300)
        return _report(es, settings, summary, code)
    finally:
        if proc.poll() is None:
            proc.kill()
        clean_up(run, checkpoints, ("a",))


def _report(es, settings: config.Settings, summary: Summary, code: int) -> int:
    valid = summary.sent - summary.bad
    time.sleep(2)  # the last customer documents are written as the app stops
    customers = _count(es, settings["es.index.customers"], "total_events")
    quarantined = _count(es, settings["es.index.quarantine"])
    windows = _count(es, settings["es.index.aggregates"], "events")
    late = _count(es, settings["es.index.runtime"], "dropped_late")
    checks = [
        ("every record delivered to Kafka", summary.failed == 0, f"{summary.failed} failed"),
        ("customers' events = valid sent", customers == valid, f"{customers:,} vs {valid:,}"),
        ("quarantine = bad sent", quarantined == summary.bad, f"{quarantined:,} vs {summary.bad:,}"),
        (
            "window events + late = valid sent",
            windows + late == valid,
            f"{windows:,} + {late:,} vs {valid:,}",
        ),
        ("app stopped cleanly when asked", code == 0, f"exit code {code}"),
    ]
    for name, ok, detail in checks:
        say(f"{'✓' if ok else '✗'} {name}: {detail}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
