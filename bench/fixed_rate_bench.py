"""Fixed-rate probe: the streaming app at a steady event rate, its latency and where the CPU goes.

    .venv/bin/python bench/fixed_rate_bench.py [--rate 45000] [--windows 2] [--window-seconds 30]

Needs Kafka and Elasticsearch running (``platform up kafka elasticsearch``); uses topics,
indices and a checkpoint of its own (``fixed-<run>-*``, deleted afterwards). Starts the app
(spark-submit), warms it up (``--warmup`` events at 40k/s), then produces at ``--rate`` for
``--windows`` windows of ``--window-seconds`` and prints, per window, the CPU-seconds each part
of the platform spent (Linux ``/proc``: the app's JVM split into JIT compiler, GC, executor tasks
and the rest; its Python driver and workers; Elasticsearch; Kafka; this producer); then p50 /
p95 / p99 produce → aggregates searchable, and the bound to the customer documents (every
customer of the event's batch written). Steadier than the pipeline bench's half-rate phase for
A/B comparisons of one change: same load every run, whatever the sustained rate was.
Writes ``bench/results/fixed-<run>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections import defaultdict
from pathlib import Path

import pipeline_bench as pb
import psutil

from streaming_platform import clients, config, es_indices, topics
from streaming_platform.progress import say

JVM_THREADS = (  # thread name prefix → component (names are cut at 15 characters by Linux)
    ("C1 CompilerThre", "jit"),
    ("C2 CompilerThre", "jit"),
    ("GC Thread", "gc"),
    ("G1 ", "gc"),
    ("Executor task", "tasks"),
    ("stream executio", "micro-batch loop"),
)


def component(cmdline: str, thread: str, app_pid: int, pid: int, own_pid: int) -> str:
    """The platform part a thread's CPU counts for (pure, for the report and its test)."""
    if pid == own_pid:
        return "producer (this process)"
    if "org.elasticsearch" in cmdline:
        return "elasticsearch" + (" jit" if "CompilerThre" in thread else "")
    if "kafka.Kafka" in cmdline:
        return "kafka"
    if "customer_events_stream" in cmdline and "java" not in cmdline.split(" ", 1)[0]:
        return "app driver (Python)"
    if pid != app_pid and "python" in cmdline.split(" ", 1)[0]:
        return "app Python workers"
    for prefix, name in JVM_THREADS:
        if thread.startswith(prefix):
            return f"app JVM {name}"
    return "app JVM other"


def _threads(pid: int) -> dict[int, tuple[str, float]]:
    """thread id → (name, CPU seconds) of a process."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return out


def cpu_snapshot(app_pid: int) -> dict[tuple[int, int], tuple[str, float]]:
    """(pid, tid) → (component, CPU seconds) for the app's process tree, ES, Kafka and us."""
    procs = [psutil.Process(app_pid), *psutil.Process(app_pid).children(recursive=True)]
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "org.elasticsearch.bootstrap" in cmd or "kafka.Kafka" in cmd:
            procs.append(p)
    procs.append(psutil.Process())
    out = {}
    for p in procs:
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        for tid, (thread, cpu) in _threads(p.pid).items():
            out[(p.pid, tid)] = (
                component(cmd, re.sub(r"#\d+", "", thread), app_pid, p.pid, os.getpid()),
                cpu,
            )
    return out


def cpu_between(a: dict, b: dict) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for key, (name, cpu) in b.items():
        totals[name] += cpu - a.get(key, (name, 0.0))[1]
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


DRIVER_PARTS = ("app driver (Python)", "app JVM micro-batch loop")  # what runs in the driver only


def driver_share(cpu: dict[str, float]) -> float:
    """The driver's part of the app's CPU (Python driver + the JVM's micro-batch loop thread)."""
    app = sum(v for k, v in cpu.items() if k.startswith("app "))
    return sum(cpu.get(k, 0.0) for k in DRIVER_PARTS) / app if app else 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=45_000.0, help="events/s")
    p.add_argument("--windows", type=int, default=2)
    p.add_argument("--window-seconds", type=float, default=30.0)
    p.add_argument("--warmup", type=int, default=200_000, help="events before measuring (at 40k/s)")
    p.add_argument("--customers", type=int, default=10_000)
    args = p.parse_args(argv)
    if args.rate <= 0 or args.windows < 1 or args.window_seconds <= 0:
        p.error("--rate and --window-seconds must be > 0, --windows at least 1")
    if args.warmup < 0 or args.customers < 1:
        p.error("--warmup must be >= 0 and --customers at least 1")
    run = f"fixed-{time.strftime('%m%d%H%M%S')}"
    checkpoints = pb.isolate(run)
    settings = config.load()
    pb.require_services(settings)
    es = clients.es_client(settings)
    topics.ensure_topics(settings, clients.kafka_admin(settings))
    es_indices.ensure_templates(es, settings)
    topic, runtime, parts = run + "-a", settings["es.index.runtime"], settings["kafka.topic.partitions"]
    pb.RESULTS.mkdir(parents=True, exist_ok=True)
    proc = pb.start_app(settings, pb.RESULTS / f"{run}-app.log")
    rec, windows = pb.Recorder(), []
    try:
        say(f"→ warm-up: {args.warmup:,} events at 40,000/s")
        pb.produce(settings, topic, args.warmup, 1, args.customers, rate=40_000, recorder=rec)
        pb.wait_processed(es, runtime, args.warmup, proc, 300)
        first = pb.end_offsets(settings, topic, parts)
        n = int(args.rate * args.window_seconds)
        for w in range(args.windows):
            say(f"→ window {w + 1}/{args.windows}: {n:,} events at {args.rate:,.0f}/s")
            before = cpu_snapshot(proc.pid)
            pb.produce(settings, topic, n, 2 + w, args.customers, rate=args.rate, recorder=rec)
            cpu = cpu_between(before, cpu_snapshot(proc.pid))
            windows.append(cpu)
            say("  CPU-s: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items() if v >= 0.05))
            say(f"  driver share of the app's CPU: {driver_share(cpu):.1%}")
        pb.wait_processed(
            es, runtime, args.warmup + n * args.windows, proc, 300, customers=run + "-customers"
        )
        last = pb.end_offsets(settings, topic, parts)
        batches = pb.runtime_batches(es, runtime)
        lat = pb.latencies(batches, rec.ts, first, last)
        lat_customers = pb.customer_latencies(batches, rec.ts, first, last)
    finally:
        pb.stop_app(settings, proc)
        pb.clean_up(run, checkpoints, ("a",))

    result = {
        "rate": args.rate,
        "window_seconds": args.window_seconds,
        "cpu_seconds_per_window": windows,
        "driver_share_per_window": [driver_share(w) for w in windows],
        "latency_ms": pb.percentiles(lat),
        "customer_latency_ms_bound": pb.percentiles(lat_customers),
    }
    for name, key in (
        ("to the aggregates", "latency_ms"),
        ("customer docs, bound", "customer_latency_ms_bound"),
    ):
        q = result[key]
        say(f"  {name:22} " + "  ".join(f"{k} {q.get(k, 0):,.0f}" for k in ("p50", "p95", "p99")) + " ms")
    out = pb.RESULTS / f"{run}.json"
    out.write_text(json.dumps(result, indent=2))
    say(f"✓ figures {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
