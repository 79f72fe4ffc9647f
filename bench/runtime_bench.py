"""Runtime benchmark: start-up time, memory per service, Kafka and Elasticsearch ceilings.

    .venv/bin/python bench/runtime_bench.py [--messages 500000] [--docs 100000] [--keep]

Runs its own copy of the stack (state under /tmp/bench-runtime, ports +10000) so it never
disturbs a running `make up`. Prints a table and writes bench/results/runtime.json; later
benchmarks (bench/pipeline_bench.py) compare the pipeline against these ceilings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
HOME = Path("/tmp/bench-runtime")
OFFSET = 10_000


def bench_env() -> dict[str, str]:
    """Every port option moved by OFFSET; the client URLs follow the ports (config._DERIVED)."""
    from streaming_platform import config

    ports = {o.env: str(o.default + OFFSET) for o in config.OPTIONS if o.name.endswith("port")}
    return {"PLATFORM_HOME": str(HOME), **ports}


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
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running")
    args = parser.parse_args()

    os.environ.update(bench_env())
    from streaming_platform import config
    from streaming_platform.runtime import cli, process

    settings = config.load()
    cli.down(settings, list(cli.SERVICES))
    shutil.rmtree(HOME, ignore_errors=True)
    results: dict[str, float] = {}
    t0 = time.monotonic()
    cli.up(settings, list(cli.SERVICES))
    results["cold_up_to_all_healthy_s"] = time.monotonic() - t0
    time.sleep(5)  # let start-up spikes settle before reading memory
    paths = process.Paths(settings.home)
    for name in list(cli.SERVICES):
        pid = process.read_pid(paths, name)
        results[f"rss_mb_{name}"] = process.tree_rss_bytes(pid) / 2**20 if pid else 0.0
    cli.down(settings, list(cli.SERVICES))
    t0 = time.monotonic()
    cli.up(settings, list(cli.SERVICES))
    results["warm_up_to_all_healthy_s"] = time.monotonic() - t0
    results.update(kafka_ceiling(settings, args.messages))
    results.update(es_ceiling(settings, args.docs))
    if not args.keep:
        cli.down(settings, list(cli.SERVICES))

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runtime.json").write_text(json.dumps(results, indent=2))
    print("\n=== runtime benchmark (this machine) ===")
    for key, value in results.items():
        print(f"  {key:34} {value:>12,.1f}")
    print(f"  {'total_rss_mb':34} {sum(v for k, v in results.items() if k.startswith('rss_mb')):>12,.1f}")
    print(f"(written to {RESULTS / 'runtime.json'})")


if __name__ == "__main__":
    main()
