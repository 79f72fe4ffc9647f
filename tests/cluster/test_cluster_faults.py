"""The stream on the cluster topology, and one node of each engine killed under it.

One stream on ``spark://`` (executors in both workers' JVMs, state partitioned over them) reads a
known event set from three replicated Kafka brokers and writes to a two-node Elasticsearch
cluster. While it runs, ``kill -9`` takes out in turn one Kafka broker, one Spark worker (with
its executor) and one Elasticsearch node, each while a phase of events is being processed; after
each, the stream goes on and ``pipeline_health`` names what is missing. At the end every total is
exact against the reference model (``tests/reference_model.py``).
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from stream_harness import Stream, assert_exact, kill, produce_known

from streaming_platform import health
from streaming_platform.runtime.process import Paths, pid_alive, read_pid
from streaming_platform.runtime.spark_cluster import from_settings
from streaming_platform.streaming import APP_NAME, stop_file
from streaming_platform.topics import _current_config

pytestmark = pytest.mark.integration

PHASE = 1500  # events per phase: several micro-batches of PER_BATCH
PER_BATCH = "400"
# The first phase includes the app's start and its executors' first (cold) batches.
FIRST_PHASE_TIMEOUT_S = 600
# A state store partition an executor committed a version of (Spark's state store logs "…
# UPDATING to COMMITTED for StateStoreId StateStoreId[ operatorId=1, partitionId=3, …").
STATE_PARTITION = re.compile(
    r"UPDATING to COMMITTED for StateStoreId StateStoreId\[ operatorId=(\d+), partitionId=(\d+)"
)


def kill9(paths: Paths, name: str) -> None:
    """SIGKILL a node's whole process group (a worker takes its executor with it)."""
    pid = read_pid(paths, name)
    assert pid is not None, f"{name} is not running"
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"{name} (pid {pid}) survived SIGKILL"
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.2)


def _runtime(stream: Stream) -> tuple[int, int]:
    """(micro-batches reported, input rows summed) from the app's runtime-metrics index."""
    index = stream.settings["es.index.runtime"]
    if not stream.es.indices.exists(index=index):
        return 0, 0
    stream.es.indices.refresh(index=index)
    resp = stream.es.search(index=index, size=0, aggs={"rows": {"sum": {"field": "input_rows"}}})
    return resp["hits"]["total"]["value"], int(resp["aggregations"]["rows"]["value"] or 0)


def wait_for(stream: Stream, proc: Any, done: Any, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert proc.poll() is None, f"the app exited while waiting for {what}\n{stream.log_tail('stream')}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s\n{stream.log_tail('stream')}"
        time.sleep(0.5)


def phase(stream: Stream, proc: Any, seed: int, before: int) -> list[Any]:
    """Produce a phase of events and return once the stream has run a batch of it (mid-phase)."""
    batches = _runtime(stream)[0]
    records = produce_known(stream, PHASE, seed=seed)
    wait_for(stream, proc, lambda: _runtime(stream)[0] > batches, "micro-batch of the new phase")
    assert _runtime(stream)[1] < before + PHASE, "the kill must land while the phase is processed"
    return records


def all_processed(stream: Stream, proc: Any, total: int, timeout: float = 300) -> None:
    wait_for(stream, proc, lambda: _runtime(stream)[1] >= total, f"all {total:,} events processed", timeout)


def state_partitions(work: Path, app_id: str) -> set[tuple[str, str]]:
    """The state store partitions the app's executors on this worker committed (from their logs)."""
    found: set[tuple[str, str]] = set()
    for log in work.glob(f"{app_id}/*/stderr"):
        found |= set(STATE_PARTITION.findall(log.read_text(errors="replace")))
    return found


def active_executors(s: Any, want: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The app's active executors that ran tasks, once there are ``want`` (or the last seen)."""
    deadline, found = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        executors = health.spark_cluster_state(s)["executors"] or []
        found = [e for e in executors if e["active"] and e["tasks"]]
        if len(found) == want:
            break
        time.sleep(1)
    return found


def eventually(stream: Stream, name: str, ok: bool, timeout: float = 90) -> health.Check:
    """Check ``name``, run as pipeline_health runs it, once its verdict is ``ok`` (the cluster
    takes a moment to notice a lost node, and a loaded machine to answer)."""
    sources = health.Sources(stream.admin, stream.es, stream.settings, 60.0)
    deadline = time.monotonic() + timeout
    while True:
        found = health.run_check(name, sources)
        assert found is not None
        if found.ok == ok:
            return found
        assert time.monotonic() < deadline, f"{found.name} still {'FAIL' if ok else 'ok'}: {found.message}"
        time.sleep(1)


def test_kills_of_a_broker_a_worker_and_an_es_node_keep_totals_exact(cluster_stream: Stream) -> None:
    stream, s = cluster_stream, cluster_stream.settings
    paths, cluster = Paths(s.home), from_settings(s)
    assert s["spark.master"] == cluster.master_url
    # Replication as the cluster topology sets it up.
    events = s["kafka.topic.events"]
    for topic in (events, s["kafka.topic.deadletter"]):
        parts = stream.admin.list_topics(topic, timeout=10).topics[topic].partitions.values()
        assert {len(p.replicas) for p in parts} == {3}, topic
        assert _current_config(stream.admin, topic)["min.insync.replicas"] == "2"

    first = produce_known(stream, PHASE, seed=61)
    proc = stream.app(name="stream", PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER=PER_BATCH)
    try:
        all_processed(stream, proc, PHASE, FIRST_PHASE_TIMEOUT_S)
        # Every index holds a primary and a replica, one on each node: green.
        stream.es.cluster.health(index=s["es.index.customers"], wait_for_status="green", timeout="60s")
        replicas = stream.es.indices.get_settings(index=s["es.index.customers"])
        assert next(iter(replicas.values()))["settings"]["index"]["number_of_replicas"] == "1"
        eventually(stream, health.KAFKA_BROKERS, True)
        eventually(stream, health.ELASTICSEARCH_HEALTH, True)
        eventually(stream, health.SPARK_WORKERS, True)
        eventually(stream, health.APP_LIVENESS, True)
        assert len(active_executors(s, 2)) == 2  # one in each worker, both ran tasks
        # The state is spread over both workers' executors: each loaded some of its partitions
        # (both operators' partitions, spark.shuffle.partitions each, between them).
        (app,) = [a["id"] for a in health.spark_cluster_state(s)["apps"] if a["name"] == APP_NAME]
        spread = [state_partitions(cluster.home / "spark" / cluster.worker_name(i), app) for i in range(2)]
        ops = {op for op, _ in spread[0] | spread[1]}
        every = {(op, str(p)) for op in ops for p in range(s["spark.shuffle.partitions"])}
        assert all(spread) and spread[0] | spread[1] == every, spread

        # 1. A Kafka broker: the other two hold every partition (replicas 3, min.insync 2).
        second = phase(stream, proc, 62, PHASE)
        kill9(paths, "kafka-2")
        brokers = eventually(stream, health.KAFKA_BROKERS, False)
        assert brokers.value and "2 of 3 broker(s)" in brokers.message, brokers.message
        all_processed(stream, proc, 2 * PHASE)

        # 2. A Spark worker and its executor: its tasks rerun on the other worker's executor.
        third = phase(stream, proc, 63, 2 * PHASE)
        kill9(paths, cluster.worker_name(1))
        all_processed(stream, proc, 3 * PHASE)
        workers = eventually(stream, health.SPARK_WORKERS, False)
        assert workers.value == 1, workers.message
        assert len(active_executors(s, 1)) == 1

        # 3. The Elasticsearch node that is not the elected master (two master-eligible nodes
        # keep one vote: losing the master would leave no quorum): writes go on to the other.
        fourth = phase(stream, proc, 64, 3 * PHASE)
        master = stream.es.cat.master(format="json")[0]["node"]
        victim = next(n for n in ("node-1", "node-2") if n != master)
        kill9(paths, f"elasticsearch-{victim.removeprefix('node-')}")
        all_processed(stream, proc, 4 * PHASE)
        es_check = eventually(stream, health.ELASTICSEARCH_HEALTH, False)
        assert "yellow" in es_check.message and "1 node(s)" in es_check.message, es_check.message

        stop_file(s).touch()
        assert stream.wait(proc, 180, name="stream") == 0, stream.log_tail("stream")
    finally:
        if proc.poll() is None:
            kill(proc)
    assert_exact(stream, first + second + third + fourth)
