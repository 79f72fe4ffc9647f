"""The stream on a Spark standalone cluster: a master and two workers (1 core each) on loopback,
the executors in the workers' JVMs holding the state store's partitions; a restart on one worker
of two carries on from the same state. Exact against the reference model."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from stream_harness import Stream, assert_exact, produce_known

from streaming_platform.runtime import process
from streaming_platform.runtime.spark_cluster import Cluster, master_state, specs

pytestmark = pytest.mark.integration


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    master, ui = _free_ports(2)
    cluster = Cluster(tmp_path / "spark-home", master_port=master, master_ui_port=ui)
    paths = process.Paths(cluster.home)
    started = []
    try:
        for spec in specs(cluster):
            process.start(spec, paths)
            started.append(spec.name)
        yield cluster
    finally:
        for name in reversed(started):
            process.stop(name, paths)


def test_the_stream_on_a_standalone_cluster_is_exact(stream: Stream, cluster: Cluster) -> None:
    records = produce_known(stream, 6000, seed=31)
    on_cluster = {
        "PLATFORM_SPARK_MASTER": cluster.master_url,
        "PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER": "2000",
    }
    proc = stream.app("--available-now", name="cluster", **on_cluster)
    assert stream.wait(proc, name="cluster") == 0, stream.log_tail("cluster")
    # An executor ran in each worker's JVM (a worker keeps each executor's log in its work folder).
    for i in range(cluster.workers):
        work = cluster.home / "spark" / cluster.worker_name(i)
        assert list(work.glob("app-*/*/stderr")), f"no executor ran on {cluster.worker_name(i)}"
    assert master_state(cluster)["aliveworkers"] == 2
    more = produce_known(stream, 3000, seed=32)
    # One of the two workers gone: the same state, read by the one executor left.
    process.stop(cluster.worker_name(1), process.Paths(cluster.home))
    proc = stream.app("--available-now", name="one-worker", **on_cluster)
    assert stream.wait(proc, name="one-worker") == 0, stream.log_tail("one-worker")
    assert_exact(stream, records + more)
