"""Pipeline benchmark: the streaming app end to end, against its ceilings and a naive baseline.

    .venv/bin/python bench/pipeline_bench.py [--events 1000000] [--customers 10000] [--latency-seconds 30]

Needs Kafka and Elasticsearch running (``platform up kafka elasticsearch``); uses topics and
indices of its own (``bench-<run>-*``, deleted afterwards). On the same workload and machine,
one run measures:

1. produce rate (pre-filling topic A with ``--events`` events, seeded);
2. (a) Kafka consume-only ceiling: one Python consumer, batched, topic A;
3. (c) naive baseline: one Python consumer computing the same category × window aggregates
   and writing them with ``helpers.bulk`` (topic A, pre-filled); and (c') the same consumer
   started first and fed by the producer running alongside, measured like the pipeline;
4. (b) Elasticsearch bulk ceiling: the raw events as documents, 2 client threads;
5. the pipeline: the Spark app (spark-submit, continuous trigger) warmed up on topic B
   (``--warmup-seconds`` at ``--warmup-rate``: a streaming app is measured warm), then
   ``--events`` produced as fast as possible while it runs → sustained end-to-end events/s
   (first produce → last event searchable in the customer and aggregate indices);
   then ``--latency-seconds`` at half that rate → p50/p95/p99 produce → searchable latency;
   peak RSS of the app's process tree.

Latency per event = the app's "visible" time of the micro-batch holding the event (taken after
the Elasticsearch refresh of its writes) − the event's Kafka produce timestamp, matched by the
batch's offset ranges against the producer's delivery reports: the batch's aggregates are then
searchable. Customer documents are paced (``spark.customers.write.interval``): their latency is
reported apart, exactly per event for a sample of customers (``--probe-customers``, their
documents polled with a search every 50 ms: event k of a customer is searchable once its
``total_events`` counts it), and as a bound over all events (the first batch document whose
``customers_through_batch`` covers the event's batch: every customer of the batch written).
Prints ratios and saves a plot (PNG) and the figures (JSON) under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from array import array
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import psutil

from streaming_platform import clients, config, es_indices, topics
from streaming_platform.producer import EventGenerator, customer_id
from streaming_platform.progress import say
from streaming_platform.runtime.process import tree_rss_bytes
from streaming_platform.streaming import app_checkpoint, stop_file
from streaming_platform.streaming.submit import submit_command, submit_env

RESULTS = Path(__file__).resolve().parent / "results"


# ---------------------------------------------------------------------------- producing


class Recorder:
    """Produce timestamps by (partition, offset), from the producer's delivery reports; and, per
    customer of ``watch`` (keys), the produce times of its events in order."""

    def __init__(self) -> None:
        self.parts, self.offsets, self.stamps = array("q"), array("q"), array("q")
        self.failed = 0
        self.watch: dict[bytes, list[int]] = {}

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failed += 1
            return
        self.parts.append(msg.partition())
        self.offsets.append(msg.offset())
        self.stamps.append(msg.timestamp()[1])
        watched = self.watch.get(msg.key())
        if watched is not None:  # one partition per key: delivery order is offset order
            watched.append(msg.timestamp()[1])

    @property
    def ts(self) -> np.ndarray:
        """[partition, offset] → produce time (ms)."""
        p, o, t = (np.frombuffer(a, np.int64) for a in (self.parts, self.offsets, self.stamps))
        table = np.zeros((int(p.max()) + 1, int(o.max()) + 1), np.int64)
        table[p, o] = t
        return table


def produce(
    settings: config.Settings,
    topic: str,
    n: int,
    seed: int,
    customers: int,
    rate: float = 0.0,
    recorder: Recorder | None = None,
) -> float:
    """Produce ``n`` events (rate 0: as fast as possible); returns events/s."""
    producer = clients.kafka_producer(settings)
    records = EventGenerator(customers=customers, seed=seed).records()
    t0 = time.monotonic()
    for i in range(n):
        key, value, _ = next(records)
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=recorder)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 2000 == 0:
            producer.poll(0)
            if rate > 0:
                ahead = i / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
    if producer.flush(120):
        raise RuntimeError("undelivered events after 120 s")
    if recorder is not None and recorder.failed:
        raise RuntimeError(f"{recorder.failed} events failed delivery")
    return n / (time.monotonic() - t0)


# ---------------------------------------------------------------------------- ceilings


def consume_ceiling(settings: config.Settings, topic: str, n: int) -> float:
    """(a) One Python consumer, batched consume(), no processing."""
    consumer = clients.kafka_consumer(settings, f"bench-consume-{uuid.uuid4().hex[:6]}")
    consumer.subscribe([topic])
    got, t0 = 0, None
    while got < n:
        msgs = consumer.consume(10_000, timeout=1.0)
        if msgs and t0 is None:
            t0 = time.monotonic()
        got += sum(1 for m in msgs if m.error() is None)
    rate = n / (time.monotonic() - (t0 or time.monotonic()))
    consumer.close()
    return rate


def bulk_ceiling(settings: config.Settings, index: str, n: int, customers: int) -> float:
    """(b) Raw event documents, bulk by 5,000, 2 client threads."""
    from elasticsearch import helpers

    es = clients.es_client(settings)
    es.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 0})
    records = EventGenerator(customers=customers, seed=99).records()
    docs = [orjson.loads(next(records)[1]) for _ in range(n)]
    actions = ({"_index": index, "_id": d["event_id"], "_source": d} for d in docs)
    t0 = time.monotonic()
    for ok, item in helpers.parallel_bulk(es, actions, thread_count=2, chunk_size=5000):
        if not ok:
            raise RuntimeError(f"bulk failed: {item}")
    es.indices.refresh(index=index)
    rate = n / (time.monotonic() - t0)
    es.indices.delete(index=index)
    return rate


def naive_baseline(
    settings: config.Settings, topic: str, n: int, index: str, window_ms: int, done: Any = None
) -> float:
    """(c) What a user would hand-write: one consumer, dict aggregates, helpers.bulk every second.

    Returns events/s from its first record to its last write; puts the wall-clock end in ``done``.
    """
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition
    from elasticsearch import helpers

    es = clients.es_client(settings)
    consumer = clients.kafka_consumer(settings, f"bench-naive-{uuid.uuid4().hex[:6]}")
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    aggs: dict[tuple[int, str], dict[str, Any]] = {}
    customers: dict[tuple[int, str], set[str]] = defaultdict(set)
    dirty: set[tuple[int, str]] = set()
    from datetime import datetime

    def flush() -> None:
        actions = []
        for key in dirty:
            doc = dict(aggs[key], distinct_customers=len(customers[key]))
            actions.append({"_index": index, "_id": f"{key[0]}-{key[1]}", "_source": doc})
        helpers.bulk(es, actions)
        dirty.clear()

    got, t0, last_flush = 0, None, time.monotonic()
    while got < n:
        for msg in consumer.consume(10_000, timeout=1.0):
            if msg.error() is not None:
                continue
            t0 = t0 or time.monotonic()
            got += 1
            e = orjson.loads(msg.value())
            ms = int(datetime.fromisoformat(e["timestamp"]).timestamp() * 1000)
            key = (ms - ms % window_ms, e["product_category"])
            a = aggs.get(key)
            if a is None:
                a = aggs[key] = {
                    "window_start": key[0],
                    "product_category": key[1],
                    "events": 0,
                    "view": 0,
                    "add_to_cart": 0,
                    "purchase": 0,
                    "refund": 0,
                    "units": 0,
                    "revenue": 0.0,
                }
            a["events"] += 1
            a[e["event_type"]] += 1
            if e["event_type"] == "purchase":
                a["units"] += e["quantity"]
                a["revenue"] += e["amount"]
            customers[key].add(e["customer_id"])
            dirty.add(key)
        if time.monotonic() - last_flush >= 1.0:
            flush()
            last_flush = time.monotonic()
    flush()
    es.indices.refresh(index=index)
    rate = n / (time.monotonic() - (t0 or time.monotonic()))
    if done is not None:
        done.put(time.time())
    consumer.close()
    es.indices.delete(index=index)
    return rate


def naive_live(
    settings: config.Settings, topic: str, n: int, index: str, window_ms: int, customers: int
) -> float:
    """(c') The naive consumer running while the producer produces (as the pipeline is measured)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    done = ctx.Queue()
    proc = ctx.Process(target=naive_baseline, args=(settings, topic, n, index, window_ms, done))
    proc.start()
    time.sleep(2.0)  # let it connect and start polling
    t0 = time.time()
    produce(settings, topic, n, 5, customers)
    end = done.get(timeout=900)
    proc.join(60)
    return n / (end - t0)


# ---------------------------------------------------------------------------- the pipeline


class RssSampler(threading.Thread):
    """Peak RSS of a process tree (the spark-submit JVM, the Python driver, its workers)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            if not psutil.pid_exists(self.pid):
                return
            self.peak = max(self.peak, tree_rss_bytes(self.pid))


def runtime_batches(es: Any, index: str) -> list[dict[str, Any]]:
    from elasticsearch import helpers

    es.indices.refresh(index=index)
    docs = [h["_source"] for h in helpers.scan(es, index=index, query={"query": {"match_all": {}}})]
    return sorted(docs, key=lambda d: d["batch_id"])


def field_sum(es: Any, index: str, field: str) -> int:
    """Sum of ``field`` over the index (0 before it exists)."""
    if not es.indices.exists(index=index):
        return 0
    es.indices.refresh(index=index)
    resp = es.search(index=index, size=0, aggs={"n": {"sum": {"field": field}}})
    return int(resp["aggregations"]["n"]["value"])


def wait_processed(
    es: Any,
    index: str,
    target: int,
    proc: subprocess.Popen,
    timeout: float,
    series: list[tuple[float, int]] | None = None,
    customers: str | None = None,
) -> float:
    """Wait until ``target`` events are in written batches (and in the ``customers`` index's
    documents, which the app writes at its own pace: spark.customers.write.interval)."""
    deadline = time.monotonic() + timeout
    while True:
        n = field_sum(es, index, "input_rows")  # rows of the batches written
        if customers is not None and n >= target:
            # Events counted in the customer documents (all of them: the bench sends no bad records).
            n = min(n, field_sum(es, customers, "total_events"))
        if series is not None:
            series.append((time.time(), n))
        if n >= target:
            return time.time()
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {n:,}/{target:,} processed after {timeout:.0f} s")
        time.sleep(0.1)  # the sustained run's end is known to within this (0.25 s added ~1 % to it)


def percentiles(a: np.ndarray) -> dict[str, float]:
    """p50 / p95 / p99 of latencies (ms) for the results file; empty when there are none."""
    return {f"p{q}": float(np.percentile(a, q)) for q in (50, 95, 99)} if len(a) else {}


def batch_spans(batch: dict[str, Any], first: np.ndarray, last: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """(partition, lo, hi) of the batch's offsets with first[p] <= offset < last[p]."""
    for text in batch["offset_ranges"]:
        _, p, lo, hi = es_indices.parse_offset_range(text)
        lo, hi = max(lo, first[p]), min(hi, last[p] - 1)
        if lo <= hi:
            yield p, lo, hi


def latencies(
    batches: list[dict[str, Any]], ts: np.ndarray, first: np.ndarray, last: np.ndarray
) -> np.ndarray:
    """Per-event produce → searchable latency (ms) of events with first[p] <= offset < last[p]:
    searchable = the batch's aggregates written and refreshed (customers: customer_latencies)."""
    out = [b["timestamp"] - ts[p, lo : hi + 1] for b in batches for p, lo, hi in batch_spans(b, first, last)]
    return np.concatenate(out) if out else np.empty(0, np.int64)


def customer_latencies(
    batches: list[dict[str, Any]], ts: np.ndarray, first: np.ndarray, last: np.ndarray
) -> np.ndarray:
    """Per-event produce → customer document searchable latency (ms): ``customers_timestamp`` of
    the first batch document whose ``customers_through_batch`` covers the event's batch (all
    customer changes of that batch written and refreshed). Events of the last batches, whose
    customers were written once the stream caught up (no batch document follows), are left out."""
    through = np.maximum.accumulate([b.get("customers_through_batch", -1) for b in batches])
    out = []
    for b in batches:
        i = int(np.searchsorted(through, b["batch_id"]))  # first document covering b
        if i < len(batches):
            seen = batches[i]["customers_timestamp"]
            out += [seen - ts[p, lo : hi + 1] for p, lo, hi in batch_spans(b, first, last)]
    return np.concatenate(out) if out else np.empty(0, np.int64)


class CustomerProbe(threading.Thread):
    """Polls the customer documents of a sample of customers (a search: what is searchable, not
    a realtime get) and records when each one's ``total_events`` first reached each value."""

    def __init__(self, es: Any, index: str, ids: list[str], every_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.es, self.index, self.ids, self.every_s = es, index, ids, every_s
        self.seen: dict[str, list[tuple[int, int]]] = {c: [] for c in ids}  # (total, ms)
        self.stop = threading.Event()

    def totals(self) -> dict[str, int]:
        # From doc values, not _source: ~1.4 ms less of Elasticsearch's CPU per poll (20 a second).
        resp = self.es.search(
            index=self.index,
            query={"ids": {"values": self.ids}},
            size=len(self.ids),
            source=False,
            docvalue_fields=["total_events"],
            filter_path="hits.hits._id,hits.hits.fields",
        )
        return {h["_id"]: h["fields"]["total_events"][0] for h in resp.get("hits", {}).get("hits", [])}

    def poll(self) -> None:
        totals = self.totals()
        now = int(time.time() * 1000)  # after the answer: an upper bound of the visible time
        for c, n in totals.items():
            if not self.seen[c] or self.seen[c][-1][0] < n:
                self.seen[c].append((n, now))

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            self.poll()


def probed_customer_latencies(
    seen: dict[str, list[tuple[int, int]]], base: dict[str, int], produced: dict[bytes, list[int]]
) -> np.ndarray:
    """Per-event produce → its customer's document searchable with it (ms), for the probed
    customers (``seen``: :attr:`CustomerProbe.seen`): event k (1-based) of a customer since
    ``base`` is in once ``total_events`` ≥ base + k. Events never seen so are left out (the caller
    reports the coverage)."""
    out = []
    for key, stamps in produced.items():
        c = key.decode()
        polls = seen.get(c, [])
        if not polls or not stamps:
            continue
        totals = np.array([n for n, _ in polls])
        times = np.array([t for _, t in polls])
        need = base.get(c, 0) + np.arange(1, len(stamps) + 1)
        i = np.searchsorted(totals, need)  # first poll whose total covers the event
        ok = i < len(totals)
        out.append(times[i[ok]] - np.array(stamps)[ok])
    return np.concatenate(out) if out else np.empty(0, np.int64)


def end_offsets(settings: config.Settings, topic: str, partitions: int) -> np.ndarray:
    from confluent_kafka import TopicPartition

    consumer = clients.kafka_consumer(settings, "bench-offsets")
    ends = [
        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)
    ]
    consumer.close()
    return np.array(ends, np.int64)


def start_app(settings: config.Settings, log: Path) -> subprocess.Popen:
    stop_file(settings).unlink(missing_ok=True)
    return subprocess.Popen(
        submit_command(settings),
        env={**os.environ, **submit_env(settings)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_app(settings: config.Settings, proc: subprocess.Popen) -> None:
    """Graceful stop through the stop file (the batch in flight finishes)."""
    path = stop_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_pipeline(settings: config.Settings, args: argparse.Namespace, log: Path) -> dict[str, Any]:
    es = clients.es_client(settings)
    topic, runtime = settings["kafka.topic.events"], settings["es.index.runtime"]
    customers = settings["es.index.customers"]
    parts = settings["kafka.topic.partitions"]
    rec = Recorder()
    proc = start_app(settings, log)
    rss = RssSampler(proc.pid)
    rss.start()
    try:
        # A streaming app runs for days: measure it warm. Its JVM's JIT compiler alone spends
        # ~10 CPU-seconds of the 2 cores in the first minute (measured), Python workers start.
        warmup = int(args.warmup_rate * args.warmup_seconds)
        say(f"  warm-up: {warmup:,} events at {args.warmup_rate:,.0f}/s")
        produce(settings, topic, warmup, 1, args.customers, rate=args.warmup_rate, recorder=rec)
        wait_processed(es, runtime, warmup, proc, 300)
        first = end_offsets(settings, topic, parts)
        series: list[tuple[float, int]] = []
        say(f"  throughput: {args.events:,} events as fast as the producer goes")
        # Sustained = until the aggregates *and* the customer documents hold every event.
        target = warmup + args.events
        poller = threading.Thread(
            target=lambda: wait_processed(es, runtime, target, proc, 1200, series, customers),
            daemon=True,
        )
        t0 = time.time()
        poller.start()
        prod_rate = produce(settings, topic, args.events, 2, args.customers, recorder=rec)
        poller.join()
        t_end = series[-1][0]
        sustained = args.events / (t_end - t0)
        mid = end_offsets(settings, topic, parts)
        say(f"  sustained {sustained:,.0f} events/s (producer {prod_rate:,.0f}/s); latency at half rate")
        half = sustained / 2
        n_half = int(half * args.latency_seconds)
        # Exact per-event latency to the customer document, on a sample of the customers.
        step = max(1, args.customers // args.probe_customers)
        sample = [customer_id(i) for i in range(0, args.customers, step)]
        probe = CustomerProbe(es, customers, sample)
        base = probe.totals()
        rec.watch = {c.encode(): [] for c in sample}
        probe.start()
        produce(settings, topic, n_half, 3, args.customers, rate=half, recorder=rec)
        total = warmup + args.events + n_half
        wait_processed(es, runtime, total, proc, 600, series, customers)
        probe.stop.set()
        probe.join()
        probe.poll()  # the last documents (all events are in them now)
        last = end_offsets(settings, topic, parts)
        batches = runtime_batches(es, runtime)
        ts = rec.ts
        lat_tp = latencies(batches, ts, first, mid)
        lat_half = latencies(batches, ts, mid, last)
        lat_customers = customer_latencies(batches, ts, mid, last)
        lat_probed = probed_customer_latencies(probe.seen, base, rec.watch)
        n_probed = sum(len(v) for v in rec.watch.values())
    finally:
        stop_app(settings, proc)
        rss.stop.set()
    # The checkpoint: Kafka offsets, commits and Spark's state store (RocksDB files).
    checkpoint = app_checkpoint(settings)
    state_bytes = sum(f.stat().st_size for f in checkpoint.rglob("*") if f.is_file())
    catch_up = (
        measure_catch_up(settings, args, log, total, batches[-1]["batch_id"]) if args.catch_up else None
    )

    return {
        "sustained_eps": sustained,
        "catch_up_eps": catch_up,
        "producer_eps_during_run": prod_rate,
        "half_rate_eps": half,
        "latency_ms_at_half_rate": percentiles(lat_half),
        "latency_ms_during_throughput_run": percentiles(lat_tp),
        # Customer documents are paced (spark.customers.write.interval): produce → the event's
        # customer document searchable, and the share of the half-rate events that covers.
        "customer_latency_ms_at_half_rate": percentiles(lat_customers),
        "customer_latency_coverage": len(lat_customers) / max(1, len(lat_half)),
        # The same, exact per event: the event's own customer document searchable with it
        # (polled every 50 ms for a sample of the customers: an upper bound by up to ~50 ms + a search).
        "probed_customer_latency_ms_at_half_rate": percentiles(lat_probed),
        "probed_customers": len(sample),
        "probed_events": n_probed,
        "probed_coverage": len(lat_probed) / max(1, n_probed),
        "peak_rss_mb": rss.peak / 2**20,
        "checkpoint_bytes_per_customer": state_bytes / args.customers,
        "batches": batches,
        "series": series,
        "t0": t0,
    }


def measure_catch_up(
    settings: config.Settings, args: argparse.Namespace, log: Path, done: int, last_batch: int
) -> float:
    """Like (c): the app drains a pre-filled backlog (no producer competing for the 2 cores).

    Measured from the end of the restarted app's first batch (which pays the Python workers'
    start) to the last batch: rows of the batches in between / elapsed.
    """
    es = clients.es_client(settings)
    runtime = settings["es.index.runtime"]
    say(f"  catch-up: {args.events:,} events into the topic, then the app is restarted")
    produce(settings, settings["kafka.topic.events"], args.events, 4, args.customers)
    proc = start_app(settings, log)
    try:
        wait_processed(es, runtime, done + args.events, proc, 900)
    finally:
        stop_app(settings, proc)
    run = [b for b in runtime_batches(es, runtime) if b["batch_id"] > last_batch and b["input_rows"]]
    if len(run) < 2:
        return float("nan")
    rows = sum(b["input_rows"] for b in run[1:])
    return rows / ((run[-1]["timestamp"] - run[0]["timestamp"]) / 1000)


# ---------------------------------------------------------------------------- report


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = result["pipeline"]["t0"]
    batches = [b for b in result["pipeline"]["batches"] if b["timestamp"] / 1000 >= t0 - 5]
    t = np.array([b["timestamp"] / 1000 - t0 for b in batches])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    ax1.plot(t, [b["rows_per_second"] for b in batches], ".-", label="batch rows/s")
    ser = np.array(result["pipeline"]["series"], dtype=float)
    if len(ser) > 2:
        # Polled totals are uneven in time: show them as a cumulative step, not as a jagged rate.
        ax1b = ax1.twinx()
        ax1b.step(ser[:, 0] - t0, ser[:, 1], where="post", color="tab:orange", alpha=0.7)
        ax1b.set_ylabel("records processed, all phases (cumulative)", color="tab:orange")
    for name, key in (
        ("naive", "naive_eps"),
        ("naive live", "naive_live_eps"),
        ("kafka consume", "kafka_consume_eps"),
    ):
        if result.get(key):
            ax1.axhline(result[key], ls="--", lw=1, label=f"{name} {result[key]:,.0f}/s")
    ax1.set_ylabel("events/s")
    ax1.legend(fontsize=8)
    ax1.set_title(
        f"streaming app, {result['events']:,} events, sustained {result['pipeline']['sustained_eps']:,.0f}/s"
    )
    ax2.plot(t, [b["latency_p50_ms"] for b in batches], ".-", label="p50")
    ax2.plot(t, [b["latency_p95_ms"] for b in batches], ".-", label="p95")
    ax2.plot(t, [b["latency_max_ms"] for b in batches], ".-", label="max")
    ax2.set_yscale("log")
    ax2.set_ylabel("produce → searchable (ms)")
    ax2.set_xlabel("seconds since the throughput phase started")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def isolate(run: str) -> Path:
    """Point this process's settings (and the app it starts) at topics, indices, a consumer
    group and a checkpoint of the run's own; returns the checkpoint folder."""
    checkpoints = Path(os.environ.get("PLATFORM_HOME", "/tmp")) / "bench" / run
    os.environ.update(
        {
            "PLATFORM_KAFKA_TOPIC_EVENTS": f"{run}-a",
            "PLATFORM_KAFKA_TOPIC_DEADLETTER": f"{run}-dlq",
            "PLATFORM_KAFKA_CONSUMER_GROUP": f"{run}-group",
            **{f"PLATFORM_ES_INDEX_{k.upper()}": f"{run}-{k}" for k in es_indices.APP_INDEX_KEYS},
            "PLATFORM_SPARK_CHECKPOINT_DIR": str(checkpoints),
        }
    )
    return checkpoints


def clean_up(run: str, checkpoints: Path, topic_suffixes: tuple[str, ...]) -> None:
    """Delete what :func:`isolate` pointed at: topics, index templates, indices, the app's state."""
    settings = config.load()
    admin, es = clients.kafka_admin(settings), clients.es_client(settings)
    admin.delete_topics([f"{run}-{t}" for t in (*topic_suffixes, "dlq")])
    for name in es_indices.templates(settings):
        es.options(ignore_status=404).indices.delete_index_template(name=name)
    es_indices.delete_app_indices(es, settings)
    shutil.rmtree(checkpoints, ignore_errors=True)  # the app's state: ~200 MB a run


def require_services(settings: config.Settings) -> None:
    """Stop at once, in words, when Kafka or Elasticsearch is not running."""
    from streaming_platform.runtime import kafka

    if not kafka.healthy(settings):
        raise SystemExit(f"Kafka is not reachable at {settings['kafka.bootstrap.servers']}: `make up` first")
    if not clients.es_client(settings).ping():
        raise SystemExit(f"Elasticsearch is not reachable at {settings['es.url']}: `make up` first")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--warmup-seconds", type=float, default=60.0, help="warm-up before measuring")
    p.add_argument("--warmup-rate", type=float, default=40_000.0, help="events/s during the warm-up")
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--es-docs", type=int, default=100_000, help="documents for the bulk ceiling")
    p.add_argument("--latency-seconds", type=float, default=30.0)
    p.add_argument(
        "--probe-customers", type=int, default=200, help="customers whose documents are polled for latency"
    )
    p.add_argument("--skip-baselines", action="store_true", help="only the pipeline")
    p.add_argument("--trigger", help="spark.trigger.interval for this run (e.g. '0 seconds')")
    p.add_argument("--max-offsets", type=int, help="spark.max.offsets.per.trigger for this run")
    p.add_argument("--customers-interval", help="spark.customers.write.interval for this run")
    p.add_argument("--no-catch-up", dest="catch_up", action="store_false", help="skip the backlog phase")
    args = p.parse_args(argv)

    run = f"bench-{time.strftime('%m%d%H%M%S')}"
    checkpoints = isolate(run)
    for opt, value in (
        ("TRIGGER_INTERVAL", args.trigger),
        ("MAX_OFFSETS_PER_TRIGGER", args.max_offsets),
        ("CUSTOMERS_WRITE_INTERVAL", args.customers_interval),
    ):
        if value:
            os.environ[f"PLATFORM_SPARK_{opt}"] = str(value)
    settings_a = config.load()
    require_services(settings_a)
    admin, es = clients.kafka_admin(settings_a), clients.es_client(settings_a)
    topics.ensure_topics(settings_a, admin)
    result: dict[str, Any] = {"events": args.events, "customers": args.customers, "run": run}
    result["app_settings"] = {
        k: settings_a[k]
        for k in (
            "spark.trigger.interval",
            "spark.max.offsets.per.trigger",
            "spark.es.bulk.docs",
            "spark.customers.write.interval",
        )
    }
    window_ms = 60_000
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        if not args.skip_baselines:
            say(f"→ producing {args.events:,} events to {run}-a")
            result["produce_eps"] = produce(settings_a, f"{run}-a", args.events, 7, args.customers)
            say(f"  produce {result['produce_eps']:,.0f}/s; (a) Kafka consume-only ceiling")
            result["kafka_consume_eps"] = consume_ceiling(settings_a, f"{run}-a", args.events)
            say(f"  {result['kafka_consume_eps']:,.0f}/s; (c) naive single-consumer baseline")
            result["naive_eps"] = naive_baseline(
                settings_a, f"{run}-a", args.events, f"{run}-naive", window_ms
            )
            say(
                f"  {result['naive_eps']:,.0f} events/s; (c') naive while the producer runs (as the pipeline)"
            )
            topics.ensure_topics(
                config.load(env={**os.environ, "PLATFORM_KAFKA_TOPIC_EVENTS": f"{run}-c"}), admin
            )
            result["naive_live_eps"] = naive_live(
                settings_a, f"{run}-c", args.events, f"{run}-naive2", window_ms, args.customers
            )
            say(
                f"  {result['naive_live_eps']:,.0f} events/s; (b) Elasticsearch bulk ceiling "
                f"({args.es_docs:,} docs)"
            )
            result["es_bulk_docs_per_s"] = bulk_ceiling(
                settings_a, f"{run}-bulk", args.es_docs, args.customers
            )
            say(f"  {result['es_bulk_docs_per_s']:,.0f} docs/s")
            time.sleep(5)  # let Elasticsearch finish refreshes/merges of the bulk run
        os.environ["PLATFORM_KAFKA_TOPIC_EVENTS"] = f"{run}-b"
        settings = config.load()
        topics.ensure_topics(settings, admin)
        es_indices.ensure_templates(es, settings)
        say("→ pipeline (spark-submit)")
        result["pipeline"] = run_pipeline(settings, args, RESULTS / f"{run}-app.log")
    finally:
        clean_up(run, checkpoints, ("a", "b", "c"))
    report(result, args)
    png = RESULTS / f"{run}.png"
    plot(result, png)
    slim = {k: v for k, v in result.items() if k != "pipeline"}
    slim["pipeline"] = {k: v for k, v in result["pipeline"].items() if k not in ("batches", "series")}
    (RESULTS / f"{run}.json").write_text(json.dumps(slim, indent=2))
    say(f"✓ plot {png}, figures {RESULTS / f'{run}.json'}")
    return 0


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    pl = result["pipeline"]
    print(f"\n=== pipeline benchmark: {args.events:,} events, {args.customers:,} customers ===")
    if "produce_eps" in result:
        print(f"produce (Python, 1 thread)             {result['produce_eps']:>12,.0f} events/s")
        print(f"(a) Kafka consume-only ceiling          {result['kafka_consume_eps']:>12,.0f} events/s")
        print(f"(b) Elasticsearch bulk ceiling          {result['es_bulk_docs_per_s']:>12,.0f} docs/s")
        print(
            f"(c) naive single Python consumer        {result['naive_eps']:>12,.0f} events/s"
            " (pre-filled topic)"
        )
        print(
            f"(c') naive, producer running alongside  {result['naive_live_eps']:>12,.0f} events/s"
            " (as the pipeline)"
        )
    print(
        f"pipeline sustained end to end           {pl['sustained_eps']:>12,.0f} events/s (producer alongside)"
    )
    if pl.get("catch_up_eps"):
        print(f"pipeline catch-up, pre-filled topic     {pl['catch_up_eps']:>12,.0f} events/s (like (c))")
    lat = pl["latency_ms_at_half_rate"]
    if lat:
        print(
            f"latency at half rate ({pl['half_rate_eps']:,.0f}/s)  p50 {lat['p50']:,.0f}  "
            f"p95 {lat['p95']:,.0f}  p99 {lat['p99']:,.0f} ms"
        )
    interval = result["app_settings"]["spark.customers.write.interval"]
    pc = pl["probed_customer_latency_ms_at_half_rate"]
    if pc:
        print(
            f"  same, to the event's customer doc     p50 {pc['p50']:,.0f}  p95 {pc['p95']:,.0f}  "
            f"p99 {pc['p99']:,.0f} ms ({pl['probed_events']:,} events of {pl['probed_customers']} "
            f"customers polled, {pl['probed_coverage']:.0%} seen; spark.customers.write.interval {interval})"
        )
    cl = pl["customer_latency_ms_at_half_rate"]
    if cl:
        print(
            f"  bound: all customers of its batch     p50 {cl['p50']:,.0f}  p95 {cl['p95']:,.0f}  "
            f"p99 {cl['p99']:,.0f} ms ({pl['customer_latency_coverage']:.0%} of the events)"
        )
    tl = pl["latency_ms_during_throughput_run"]
    if tl:
        print(
            f"latency during the max-rate run         p50 {tl['p50']:,.0f}  p95 {tl['p95']:,.0f}  "
            f"p99 {tl['p99']:,.0f} ms"
        )
    print(f"peak RSS of the app (JVM + Python)      {pl['peak_rss_mb']:>12,.0f} MB")
    print(f"checkpoint on disk per customer         {pl['checkpoint_bytes_per_customer']:>12,.0f} B")
    if "naive_eps" in result:
        slowest = min(result["kafka_consume_eps"], result["es_bulk_docs_per_s"])
        result["ratio_pipeline_to_slowest_ceiling"] = pl["sustained_eps"] / slowest
        result["ratio_pipeline_to_naive"] = pl["sustained_eps"] / result["naive_eps"]
        result["ratio_pipeline_to_naive_live"] = pl["sustained_eps"] / result["naive_live_eps"]
        print(f"ratio pipeline / slowest ceiling        {result['ratio_pipeline_to_slowest_ceiling']:>12.2f}")
        print(f"ratio pipeline / naive (pre-filled)     {result['ratio_pipeline_to_naive']:>12.2f}")
        print(f"ratio pipeline / naive (same way)       {result['ratio_pipeline_to_naive_live']:>12.2f}")
        if pl.get("catch_up_eps"):
            result["ratio_catch_up_to_naive"] = pl["catch_up_eps"] / result["naive_eps"]
            print(f"ratio catch-up / naive (pre-filled)     {result['ratio_catch_up_to_naive']:>12.2f}")


if __name__ == "__main__":
    sys.exit(main())
