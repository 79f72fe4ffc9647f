"""Runtime benchmark: start-up time, memory per service and process, Kafka and Elasticsearch ceilings.

    .venv/bin/python bench/runtime_bench.py [--topology embedded|cluster|both] [--messages 500000]
                                            [--docs 100000] [--app-events 200000] [--keep]
                                            [--ports-from-env]

Runs its own copy of the stack (state under /tmp/bench-runtime-<topology>, ports +10000, or the
PLATFORM_*_PORT variables already set with --ports-from-env) so it never disturbs a running
`make up`. Each topology starts what `platform up` starts for it (cli.services_for): cold, then
again on its state; its memory is read per process (RSS, and PSS, which shares shared memory such
as PostgreSQL's buffers out among the processes that map it) and checked against MEMORY_BUDGET_GB,
then again while the streaming app drains --app-events events on it (driver, and under spark://
its executors with their Python workers).
The Kafka and Elasticsearch ceilings are measured on the embedded topology. Prints a table and
writes bench/results/runtime.json; later benchmarks (bench/pipeline_bench.py) compare the
pipeline against these ceilings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
HOMES = Path("/tmp")
OFFSET = 10_000
MEMORY_BUDGET_GB = 12.0  # the cluster topology must fit in this here


def bench_env(topology: str, ports_from_env: bool) -> dict[str, str]:
    """Every port option moved by OFFSET (unless set and kept); the client URLs follow the ports
    (config._DERIVED)."""
    from streaming_platform import config

    ports = {
        o.env: str(o.default + OFFSET)
        for o in config.OPTIONS
        if o.name.endswith("port") and not (ports_from_env and o.env in os.environ)
    }
    return {"PLATFORM_HOME": str(HOMES / f"bench-runtime-{topology}"), "PLATFORM_TOPOLOGY": topology, **ports}


def _describe(argv: list[str]) -> str:
    """A short command: a JVM by its main class, anything else by its first words."""
    if argv and Path(argv[0]).name == "java":
        words = [a for a in argv[1:] if not a.startswith("-") and ":" not in a and "/" not in a]
        return f"java {words[0] if words else ''}"
    return " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv[:4]))


def process_memory(settings, services: list[str]) -> list[dict]:
    """One row per process of each service's tree: pid, service, command, RSS and PSS in MB."""
    import psutil

    from streaming_platform.runtime import cli, process

    rows = []
    paths = process.Paths(settings.home)
    # A service is one process tree, or one per node under topology=cluster (kafka-1…3, …).
    nodes = [(name, spec.name) for name in services for spec in cli.node_specs(name, settings)]
    for name, node in nodes:
        pid = process.read_pid(paths, node)
        if pid is None:
            continue
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        rows += [row for proc in procs if (row := _memory_row(name, proc))]
    return rows


def _memory_row(service: str, proc) -> dict | None:
    """pid, service, command, RSS and PSS in MB of one process (None if it exited meanwhile)."""
    import psutil

    try:
        mem = proc.memory_full_info()
        argv = proc.cmdline()
    except psutil.Error:
        return None
    return {
        "service": service,
        "pid": proc.pid,
        "command": _describe(argv)[:60],
        "rss_mb": mem.rss / 2**20,
        "pss_mb": mem.pss / 2**20,
    }


def _app_processes(driver_pid: int, settings, services: list[str]) -> list:
    """The app's processes: spark-submit's tree (the driver) and, under ``spark://``, each
    executor with its Python workers (children of the Spark workers)."""
    import psutil

    from streaming_platform.runtime import cli, process

    def tree(proc) -> list:
        try:
            return [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return []

    procs = tree(psutil.Process(driver_pid))
    paths = process.Paths(settings.home)
    for node in [spec.name for spec in cli.node_specs("spark", settings)] if "spark" in services else []:
        pid = process.read_pid(paths, node)
        for child in tree(psutil.Process(pid))[1:] if pid else []:
            try:
                if "CoarseGrainedExecutorBackend" in " ".join(child.cmdline()):
                    procs += tree(child)
            except psutil.Error:
                continue
    return procs


def app_memory(settings, services: list[str], events: int) -> tuple[dict[str, float], list[dict]]:
    """The app drains ``events`` (``--available-now``) while every process's memory is read each
    second: the app's peak RSS (driver; executors and their Python workers) and the whole stack's
    peak PSS, with each process's figures at that peak."""
    import subprocess

    import pipeline_bench as pb

    from streaming_platform import clients, es_indices, topics
    from streaming_platform.streaming.submit import submit_command, submit_env

    topics.ensure_topics(settings, clients.kafka_admin(settings))
    es_indices.ensure_templates(clients.es_client(settings), settings)
    pb.produce(settings, settings["kafka.topic.events"], events, 7, 10_000)
    log = settings.home / "logs" / "bench-app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            submit_command(settings, ["--available-now"]),
            env={**os.environ, **submit_env(settings)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        peak = {"app_peak_rss_mb": 0.0, "total_pss_mb_with_app": 0.0}
        at_peak: list[dict] = []
        t0 = time.monotonic()
        while proc.poll() is None:
            app_rows = [
                r for p in _app_processes(proc.pid, settings, services) if (r := _memory_row("app", p))
            ]
            app_pids = {r["pid"] for r in app_rows}
            rows = [r for r in process_memory(settings, services) if r["pid"] not in app_pids] + app_rows
            peak["app_peak_rss_mb"] = max(peak["app_peak_rss_mb"], sum(r["rss_mb"] for r in app_rows))
            total = sum(r["pss_mb"] for r in rows)
            if total > peak["total_pss_mb_with_app"]:
                peak["total_pss_mb_with_app"], at_peak = total, rows
            time.sleep(1)
    if proc.returncode != 0:
        raise SystemExit(f"the app exited {proc.returncode}: see {log}")
    peak["app_drain_s"] = time.monotonic() - t0
    peak[f"fits_{MEMORY_BUDGET_GB:.0f}gb_with_app"] = float(
        peak["total_pss_mb_with_app"] <= MEMORY_BUDGET_GB * 1024
    )
    return peak, at_peak


def measure_topology(topology: str, args: argparse.Namespace) -> tuple[dict[str, float], list[dict]]:
    """Cold and warm start of what `platform up` starts under ``topology``; memory per process."""
    from streaming_platform import config
    from streaming_platform.runtime import cli

    os.environ.update(bench_env(topology, args.ports_from_env))
    settings = config.load()
    services = cli.services_for(settings)
    cli.down(settings, services)
    shutil.rmtree(settings.home, ignore_errors=True)
    results: dict[str, float] = {}
    t0 = time.monotonic()
    cli.up(settings, services)
    results["cold_up_to_all_healthy_s"] = time.monotonic() - t0
    time.sleep(5)  # let start-up spikes settle before reading memory
    procs = process_memory(settings, services)
    for name in services:
        results[f"rss_mb_{name}"] = sum(p["rss_mb"] for p in procs if p["service"] == name)
        results[f"processes_{name}"] = sum(1 for p in procs if p["service"] == name)
    results["total_rss_mb"] = sum(p["rss_mb"] for p in procs)
    results["total_pss_mb"] = sum(p["pss_mb"] for p in procs)
    results[f"fits_{MEMORY_BUDGET_GB:.0f}gb"] = float(results["total_pss_mb"] <= MEMORY_BUDGET_GB * 1024)
    cli.down(settings, services)
    t0 = time.monotonic()
    cli.up(settings, services)
    results["warm_up_to_all_healthy_s"] = time.monotonic() - t0
    if args.app_events:
        app, procs = app_memory(settings, services, args.app_events)
        results.update(app)
    if topology == "embedded" and args.messages:
        results.update(kafka_ceiling(settings, args.messages))
    if topology == "embedded" and args.docs:
        results.update(es_ceiling(settings, args.docs))
    if not args.keep:
        cli.down(settings, services)
    return results, procs


def kafka_ceiling(settings, n: int) -> dict[str, float]:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import NewTopic

    from streaming_platform.clients import kafka_admin, kafka_consumer, kafka_producer

    topic = f"bench-{int(time.time())}"
    admin = kafka_admin(settings)  # keep a reference: a collected client cancels its futures
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    payload = b'{"event_id":"' + b"x" * 180 + b'"}'  # ~200 B, like a customer event
    producer = kafka_producer(settings)
    t0 = time.perf_counter()
    for i in range(n):
        while True:
            try:
                producer.produce(topic, key=str(i % 1000).encode(), value=payload)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(120)
    produce_s = time.perf_counter() - t0
    consumer = kafka_consumer(settings, group_id=f"{topic}-reader")
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    got, t0 = 0, time.perf_counter()
    while got < n:
        got += len(consumer.consume(num_messages=10_000, timeout=1.0))
    consume_s = time.perf_counter() - t0
    consumer.close()
    return {"kafka_produce_msgs_per_s": n / produce_s, "kafka_consume_msgs_per_s": n / consume_s}


def es_ceiling(settings, n: int) -> dict[str, float]:
    from elasticsearch import helpers

    from streaming_platform.clients import es_client

    es = es_client(settings)
    index = f"bench-{int(time.time())}"
    es.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 0})
    docs = (
        {"_index": index, "_id": str(i), "customer_id": f"c{i % 5000}", "amount": i % 500, "n": i}
        for i in range(n)
    )
    t0 = time.perf_counter()
    for ok, item in helpers.parallel_bulk(es, docs, thread_count=2, chunk_size=2000):
        if not ok:
            raise RuntimeError(f"bulk failure: {item}")
    es.indices.refresh(index=index)
    took = time.perf_counter() - t0
    assert es.count(index=index)["count"] == n
    return {"es_bulk_docs_per_s": n / took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topology", choices=("embedded", "cluster", "both"), default="both")
    parser.add_argument("--messages", type=int, default=500_000, help="Kafka ceiling (0: skip)")
    parser.add_argument("--docs", type=int, default=100_000, help="Elasticsearch ceiling (0: skip)")
    parser.add_argument(
        "--app-events",
        type=int,
        default=200_000,
        help="events the app drains while memory is read (0: no app)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running")
    parser.add_argument(
        "--ports-from-env", action="store_true", help="keep the PLATFORM_*_PORT variables already set"
    )
    args = parser.parse_args()

    topologies = ("embedded", "cluster") if args.topology == "both" else (args.topology,)
    report: dict[str, dict] = {}
    for topology in topologies:
        results, procs = measure_topology(topology, args)
        report[topology] = {**results, "processes": procs}
        print(f"\n=== runtime benchmark, topology {topology} (this machine) ===")
        for key, value in results.items():
            print(f"  {key:34} {value:>12,.1f}")
        print(f"  {'pid':>8}  {'service':14} {'RSS MB':>8} {'PSS MB':>8}  command")
        for p in procs:
            mem = f"{p['rss_mb']:>8,.0f} {p['pss_mb']:>8,.0f}"
            print(f"  {p['pid']:>8}  {p['service']:14} {mem}  {p['command']}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runtime.json").write_text(json.dumps(report, indent=2))
    print(f"(written to {RESULTS / 'runtime.json'})")


if __name__ == "__main__":
    main()
