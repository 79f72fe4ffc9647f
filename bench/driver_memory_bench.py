"""Driver memory against the number of customers: the app drains the same number of events over
10k and over 1M customers, and the peak RSS of its Python driver and of its JVM is printed.

    .venv/bin/python bench/driver_memory_bench.py [--events 600000] [--customers 10000 1000000]

Needs Kafka and Elasticsearch running (``platform up kafka elasticsearch``); each run uses topics,
indices and a checkpoint of its own (``mem<customers>-<time>-*``, deleted afterwards). The state
is Spark's (per customer, in the executors' state store), so the Python driver should stay flat;
under ``local[N]`` the JVM is driver and executors in one process, so it grows with the state.
Writes ``bench/results/driver-memory-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time

import pipeline_bench as pb
import psutil

from streaming_platform import clients, config, es_indices, topics
from streaming_platform.progress import say
from streaming_platform.streaming.submit import submit_command, submit_env


def peak_rss(proc: subprocess.Popen) -> dict[str, int]:
    """Peak RSS (bytes) of the Python driver and of the spark-submit JVM until ``proc`` exits."""
    peak = {"driver": 0, "jvm": 0}
    while proc.poll() is None:
        try:
            jvm = psutil.Process(proc.pid)
            peak["jvm"] = max(peak["jvm"], jvm.memory_info().rss)
            children = jvm.children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:  # Python workers come and go: each one on its own
            try:
                if "customer_events_stream" in " ".join(child.cmdline()):
                    peak["driver"] = max(peak["driver"], child.memory_info().rss)
            except psutil.Error:
                continue
        time.sleep(0.5)
    return peak


def one_run(events: int, customers: int) -> dict[str, float]:
    run = f"mem{customers}-{time.strftime('%m%d%H%M%S')}"
    checkpoints = pb.isolate(run)
    settings = config.load()
    pb.require_services(settings)
    topics.ensure_topics(settings, clients.kafka_admin(settings))
    es_indices.ensure_templates(clients.es_client(settings), settings)
    try:
        say(f"→ {customers:,} customers: producing {events:,} events, then draining them")
        pb.produce(settings, f"{run}-a", events, 5, customers)
        t0 = time.time()
        with (pb.RESULTS / f"{run}-app.log").open("wb") as log:
            proc = subprocess.Popen(
                submit_command(settings, ["--available-now"]),
                env={**os.environ, **submit_env(settings)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            peak = peak_rss(proc)
        if proc.returncode != 0:
            raise SystemExit(f"the app exited {proc.returncode}: see {pb.RESULTS / f'{run}-app.log'}")
        drain = time.time() - t0
        say(
            f"  Python driver peak {peak['driver'] / 2**20:,.0f} MB, JVM peak {peak['jvm'] / 2**20:,.0f} MB, "
            f"drained in {drain:.0f} s"
        )
        return {"customers": customers, "driver_mb": peak["driver"] / 2**20, "jvm_mb": peak["jvm"] / 2**20}
    finally:
        pb.clean_up(run, checkpoints, ("a",))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=600_000)
    p.add_argument("--customers", type=int, nargs="+", default=[10_000, 1_000_000])
    args = p.parse_args(argv)
    if args.events < 1 or min(args.customers) < 1:
        p.error("--events and every --customers value must be at least 1")
    pb.RESULTS.mkdir(parents=True, exist_ok=True)
    runs = [one_run(args.events, n) for n in args.customers]
    out = pb.RESULTS / f"driver-memory-{time.strftime('%m%d%H%M%S')}.json"
    out.write_text(json.dumps({"events": args.events, "runs": runs}, indent=1))
    for r in runs:
        driver, jvm = r["driver_mb"], r["jvm_mb"]
        print(f"{r['customers']:>10,} customers  Python driver {driver:>6,.0f} MB  JVM {jvm:>6,.0f} MB")
    say(f"✓ figures {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
