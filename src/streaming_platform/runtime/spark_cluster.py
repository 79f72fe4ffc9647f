"""A Spark standalone cluster on loopback from pyspark's own jars: one master, N workers.

The streaming app submitted to ``spark://…`` runs its executors in the workers' JVMs (their
Python workers are the venv's interpreter), which is where its state store partitions live: the
code path of every multi-node deployment. The checkpoint folder is a path the driver and every
worker see (one machine here; shared storage in production).

``platform up`` starts it under ``topology=cluster`` (:func:`service_specs`: the master on
``spark.cluster.master.port``, its UI on ``spark.cluster.master.ui.port``, two 1-core workers);
``spark.master`` then defaults to that master.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from streaming_platform.config import SPARK_CLUSTER_WORKERS, Settings
from streaming_platform.runtime.process import ServiceSpec

MASTER = "spark-master"


@dataclass(frozen=True)
class Cluster:
    """Where the cluster listens and keeps its work folders."""

    home: Path
    master_port: int = 7077
    master_ui_port: int = 8090
    workers: int = SPARK_CLUSTER_WORKERS
    worker_cores: int = 1
    worker_memory: str = "2g"
    host: str = "127.0.0.1"

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.master_port}"

    def worker_name(self, i: int) -> str:
        return f"spark-worker-{i + 1}"

    def worker_ui_port(self, i: int) -> int:
        return self.master_ui_port + 1 + i


def _spark_class() -> str:
    return str(Path(sys.executable).parent / "spark-class")


def _env(cluster: Cluster) -> dict[str, str]:
    # Daemons stay in the foreground (the supervisor owns their PIDs), on loopback only.
    return {"SPARK_NO_DAEMONIZE": "1", "SPARK_LOCAL_IP": cluster.host, "PYSPARK_PYTHON": sys.executable}


def master_state(cluster: Cluster) -> dict:
    """The master's own view (``/json``): status and the workers it has alive."""
    url = f"http://{cluster.host}:{cluster.master_ui_port}/json/"
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.load(resp)


def alive_workers(cluster: Cluster) -> int:
    try:
        return int(master_state(cluster).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


def master_spec(cluster: Cluster) -> ServiceSpec:
    def healthy() -> bool:
        try:
            return master_state(cluster).get("status") == "ALIVE"
        except (OSError, ValueError):
            return False

    command = [_spark_class(), "org.apache.spark.deploy.master.Master"]
    command += ["--host", cluster.host, "--port", str(cluster.master_port)]
    command += ["--webui-port", str(cluster.master_ui_port)]
    return ServiceSpec(
        MASTER,
        command,
        [cluster.master_port, cluster.master_ui_port],
        healthy,
        env=_env(cluster),
        timeout_s=90,
    )


def worker_spec(cluster: Cluster, i: int) -> ServiceSpec:
    """Worker ``i``: healthy once the master counts it (workers register one by one)."""
    work = cluster.home / "spark" / cluster.worker_name(i)
    work.mkdir(parents=True, exist_ok=True)
    command = [_spark_class(), "org.apache.spark.deploy.worker.Worker", "--host", cluster.host]
    command += ["--webui-port", str(cluster.worker_ui_port(i)), "--cores", str(cluster.worker_cores)]
    command += ["--memory", cluster.worker_memory, "--work-dir", str(work), cluster.master_url]
    return ServiceSpec(
        cluster.worker_name(i),
        command,
        [cluster.worker_ui_port(i)],
        lambda: alive_workers(cluster) >= i + 1,
        env=_env(cluster),
        timeout_s=90,
    )


def specs(cluster: Cluster) -> list[ServiceSpec]:
    """Master first, then the workers, in start order."""
    return [master_spec(cluster), *(worker_spec(cluster, i) for i in range(cluster.workers))]


def from_settings(settings: Settings) -> Cluster:
    """The cluster ``platform up`` starts under topology=cluster."""
    return Cluster(
        settings.home,
        master_port=settings["spark.cluster.master.port"],
        master_ui_port=settings["spark.cluster.master.ui.port"],
        host=settings["bind.host"],
    )


def service_specs(settings: Settings) -> list[ServiceSpec]:
    """The master and workers under topology=cluster; none embedded (the app runs local[N])."""
    return specs(from_settings(settings)) if settings["topology"] == "cluster" else []
