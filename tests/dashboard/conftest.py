"""A throwaway embedded stack for the dashboard tests: own PLATFORM_HOME, own free ports.

Kafka, Elasticsearch and the dashboard are started with the platform CLI (``platform up``), as in
production, so a test can stop and restart one of them without touching the developer's stack.
Airflow is deliberately pointed at a closed port: the dashboard must show it red and keep going.
Anything that does not start FAILS the session (never skipped).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streaming_platform import config

TOKEN = "test-dashboard-token"
PLATFORM = [sys.executable, "-m", "streaming_platform.runtime.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    def __init__(self, home: Path):
        kafka, es, dash = free_port(), free_port(), free_port()
        suffix = uuid.uuid4().hex[:8]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PLATFORM_")},
            "PLATFORM_HOME": str(home),
            "PLATFORM_KAFKA_PORT": str(kafka),
            "PLATFORM_KAFKA_CONTROLLER_PORT": str(free_port()),
            "PLATFORM_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
            "PLATFORM_KAFKA_HEAP": "256m",
            "PLATFORM_ES_PORT": str(es),
            "PLATFORM_ES_TRANSPORT_PORT": str(free_port()),
            "PLATFORM_ES_URL": f"http://127.0.0.1:{es}",
            "PLATFORM_ES_HEAP": "384m",
            "PLATFORM_ES_INDEX_RUNTIME": f"test-runtime-{suffix}",
            "PLATFORM_KAFKA_TOPIC_EVENTS": f"test-events-{suffix}",
            "PLATFORM_KAFKA_TOPIC_DEADLETTER": f"test-dlq-{suffix}",
            "PLATFORM_DASHBOARD_PORT": str(dash),
            "PLATFORM_SPARK_UI_PORT": str(free_port()),
            "PLATFORM_DASHBOARD_TOKEN": TOKEN,
            "PLATFORM_AIRFLOW_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        }
        self.home = home
        self.settings = config.load(env=self.env, overrides={})
        self.url = f"http://127.0.0.1:{dash}/pipeline"
        self.api = httpx.Client(base_url=f"{self.url}/api", timeout=15)

    def platform(self, *args: str, timeout: float = 300) -> None:
        proc = subprocess.run(
            [*PLATFORM, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if proc.returncode != 0:
            pytest.fail(f"`platform {' '.join(args)}` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")

    def status(self) -> dict[str, Any]:
        resp = self.api.get("/status")
        resp.raise_for_status()
        return resp.json()

    def card(self, cid: str) -> dict[str, Any]:
        return next(c for c in self.status()["cards"] if c["id"] == cid)

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(1)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Not pytest's tmp_path: its folders are private (0700) and Elasticsearch runs as another user.
    home = Path(tempfile.mkdtemp(prefix="dash-stack-"))
    home.chmod(0o755)
    st = Stack(home)
    try:
        st.platform("up", "kafka", "elasticsearch", "dashboard")
        yield st
    finally:
        st.platform("down", "dashboard", "elasticsearch", "kafka")
        st.api.close()
        shutil.rmtree(home, ignore_errors=True)
