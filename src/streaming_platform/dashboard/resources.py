"""Per-service resource usage (CPU, memory, disk) from psutil, sampled into ring buffers.

A service is found by its PID file (``$PLATFORM_HOME/run/<service>.pid``); its usage is the sum
over the process and all its descendants (Airflow and Spark start many). Disk is the size of
``$PLATFORM_HOME/<service>``, walked less often than CPU and memory are sampled.

The streaming app has no PID file (Airflow's spark-submit starts it), so it is found by its
processes: the driver JVM listening on the app's Spark UI port (with the Python driver and workers
it starts) and, on a standalone cluster, the executor JVMs whose ``--driver-url`` is that driver.
It is its own series, ``spark-app``, and left out of the trees it runs in (Airflow, the workers).
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path

import psutil

from streaming_platform.runtime.process import Paths, read_pid

SAMPLE_EVERY_S = 10.0
DISK_EVERY_S = 60.0
KEEP_SAMPLES = 8640  # 24 h at one sample per 10 s
SPARK_APP = "spark-app"  # the series of the streaming app: driver and executors
DRIVER = "org.apache.spark.deploy.SparkSubmit"  # main class of the driver JVM (spark-submit)
EXECUTOR = "org.apache.spark.executor.CoarseGrainedExecutorBackend"  # an executor JVM


def dir_size(path: Path) -> int:
    """Bytes under ``path`` (files only, symlinks not followed); 0 if it does not exist."""
    total = 0
    for root, _dirs, files in os.walk(path, followlinks=False):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def driver_port(cmdline: list[str]) -> int | None:
    """The driver's port an executor JVM serves (``--driver-url spark://...@host:port``)."""
    if EXECUTOR not in cmdline or "--driver-url" not in cmdline[:-1]:
        return None
    url = cmdline[cmdline.index("--driver-url") + 1]
    port = url.rsplit(":", 1)[-1]
    return int(port) if port.isdigit() else None


def spark_app_roots(ui_ports: range) -> list[psutil.Process]:
    """The driver JVM whose Spark UI listens on one of ``ui_ports`` and the executor JVMs serving
    it; [] when the app is not running."""
    drivers, executors = [], []
    for proc in psutil.process_iter():
        cmd = _cmdline(proc)
        if DRIVER in cmd:
            drivers.append(proc)
        elif EXECUTOR in cmd:
            executors.append((proc, driver_port(cmd)))
    for driver in drivers:
        try:
            ports = {c.laddr.port for c in driver.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        except psutil.Error:
            continue
        if ports & set(ui_ports):
            return [driver, *(e for e, port in executors if port in ports)]
    return []


def _tree(roots: list[psutil.Process]) -> list[psutil.Process]:
    procs = []
    for root in roots:
        try:
            procs += [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
    return procs


class ResourceSampler:
    """Samples every service with a PID file; keeps a bounded history per service."""

    def __init__(
        self,
        paths: Paths,
        app_ui_ports: range = range(0),
        app_dir: Path | None = None,
        keep: int = KEEP_SAMPLES,
    ):
        self.paths = paths
        self.app_ui_ports = app_ui_ports
        self.app_dir = app_dir
        self.keep = keep
        self.history: dict[str, deque[dict[str, float]]] = {}
        self._procs: dict[int, psutil.Process] = {}  # kept between samples: CPU % is a delta
        self._disk: dict[str, tuple[float, int]] = {}

    def service_names(self) -> list[str]:
        if not self.paths.run.is_dir():
            return []
        return sorted(p.stem for p in self.paths.run.glob("*.pid"))

    def _disk_bytes(self, name: str, now: float) -> int:
        at, size = self._disk.get(name, (0.0, -1))
        if size < 0 or now - at >= DISK_EVERY_S:
            folder = self.app_dir if name == SPARK_APP else self.paths.home / name
            size = dir_size(folder) if folder else 0
            self._disk[name] = (now, size)
        return size

    def _usage(self, procs: list[psutil.Process], skip: set[int]) -> tuple[float, int, int]:
        """(CPU % summed, RSS bytes, process count) of ``procs`` not in ``skip``; CPU is 0 on first sight."""
        cpu, rss, count = 0.0, 0, 0
        for proc in procs:
            if proc.pid in skip:
                continue
            known = self._procs.get(proc.pid)
            if known != proc:  # new, or the PID was reused (psutil compares creation times)
                known = self._procs[proc.pid] = proc
            try:
                cpu += known.cpu_percent(None)
                rss += known.memory_info().rss
            except psutil.Error:
                continue
            count += 1
        return cpu, rss, count

    def sample_once(self, now: float | None = None) -> dict[str, dict[str, float]]:
        now = time.time() if now is None else now
        trees: dict[str, tuple[int, list[psutil.Process]]] = {}
        for name in self.service_names():
            pid = read_pid(self.paths, name)
            if pid is None:
                continue
            try:
                trees[name] = (pid, _tree([psutil.Process(pid)]))
            except psutil.Error:
                continue
        app = spark_app_roots(self.app_ui_ports) if self.app_ui_ports else []
        app_tree = _tree(app)
        if app_tree:
            trees[SPARK_APP] = (app[0].pid, app_tree)
        app_pids = {p.pid for p in app_tree}
        latest: dict[str, dict[str, float]] = {}
        for name, (pid, procs) in trees.items():
            cpu, rss, count = self._usage(procs, set() if name == SPARK_APP else app_pids)
            point = {
                "t": now,
                "cpu": round(cpu, 1),
                "rss": float(rss),
                "disk": float(self._disk_bytes(name, now)),
                "procs": float(count),
                "pid": float(pid),
            }
            self.history.setdefault(name, deque(maxlen=self.keep)).append(point)
            latest[name] = point
        seen = {p.pid for _, procs in trees.values() for p in procs}
        self._procs = {pid: p for pid, p in self._procs.items() if pid in seen}
        return latest

    def latest(self) -> dict[str, dict[str, float]]:
        return {name: h[-1] for name, h in self.history.items() if h}

    def series(self, since: float) -> dict[str, list[dict[str, float]]]:
        return {name: [p for p in h if p["t"] >= since] for name, h in self.history.items()}
