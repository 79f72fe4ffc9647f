"""Per-service resource usage (CPU, memory, disk) from psutil, sampled into ring buffers.

A service is found by its PID file (``$PLATFORM_HOME/run/<service>.pid``); its usage is the sum
over the process and all its descendants (Airflow and Spark start many). Disk is the size of
``$PLATFORM_HOME/<service>``, walked less often than CPU and memory are sampled.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from streaming_platform.runtime.process import Paths, read_pid

SAMPLE_EVERY_S = 10.0
DISK_EVERY_S = 60.0
KEEP_SAMPLES = 8640  # 24 h at one sample per 10 s


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


@dataclass
class _Tracked:
    pid: int
    procs: dict[int, psutil.Process] = field(default_factory=dict)

    def sample(self) -> tuple[float, int, int]:
        """(CPU % summed over the tree, RSS bytes, process count). CPU is 0 on first sight."""
        root = psutil.Process(self.pid)
        tree = [root, *root.children(recursive=True)]
        alive: dict[int, psutil.Process] = {}
        cpu, rss = 0.0, 0
        for proc in tree:
            known = self.procs.get(proc.pid, proc)
            try:
                cpu += known.cpu_percent(None)
                rss += known.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            alive[proc.pid] = known
        self.procs = alive
        return cpu, rss, len(alive)


class ResourceSampler:
    """Samples every service with a PID file; keeps a bounded history per service."""

    def __init__(self, paths: Paths, keep: int = KEEP_SAMPLES):
        self.paths = paths
        self.keep = keep
        self.history: dict[str, deque[dict[str, float]]] = {}
        self._tracked: dict[str, _Tracked] = {}
        self._disk: dict[str, tuple[float, int]] = {}

    def service_names(self) -> list[str]:
        if not self.paths.run.is_dir():
            return []
        return sorted(p.stem for p in self.paths.run.glob("*.pid"))

    def _disk_bytes(self, name: str, now: float) -> int:
        at, size = self._disk.get(name, (0.0, -1))
        if size < 0 or now - at >= DISK_EVERY_S:
            size = dir_size(self.paths.home / name)
            self._disk[name] = (now, size)
        return size

    def sample_once(self, now: float | None = None) -> dict[str, dict[str, float]]:
        now = time.time() if now is None else now
        latest: dict[str, dict[str, float]] = {}
        for name in self.service_names():
            pid = read_pid(self.paths, name)
            if pid is None:
                self._tracked.pop(name, None)
                continue
            tracked = self._tracked.get(name)
            if tracked is None or tracked.pid != pid:
                tracked = self._tracked[name] = _Tracked(pid)
            try:
                cpu, rss, count = tracked.sample()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
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
        return latest

    def latest(self) -> dict[str, dict[str, float]]:
        return {name: h[-1] for name, h in self.history.items() if h}

    def series(self, since: float) -> dict[str, list[dict[str, float]]]:
        return {name: [p for p in h if p["t"] >= since] for name, h in self.history.items()}
