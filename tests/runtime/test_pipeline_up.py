"""``platform up`` + ``platform pipeline`` (``make up``) on a throwaway stack: to a live stream, once.

Its own ``PLATFORM_HOME`` and free ports, every service real (Kafka, Elasticsearch, Airflow,
Spark through ``streaming_app``; the dashboard is not needed). A second ``platform pipeline``
must trigger nothing. Takes ~3 minutes on two cores.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming_platform import clients, config
from streaming_platform.airflow_api import call

PLATFORM = [sys.executable, "-m", "streaming_platform.runtime.cli"]
SERVICES = ("kafka", "elasticsearch", "airflow")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    def __init__(self, home: Path) -> None:
        kafka, es = _free_port(), _free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PLATFORM_")},
            "PLATFORM_HOME": str(home),
            "PLATFORM_KAFKA_PORT": str(kafka),
            "PLATFORM_KAFKA_CONTROLLER_PORT": str(_free_port()),
            "PLATFORM_KAFKA_HEAP": "256m",
            "PLATFORM_ES_PORT": str(es),
            "PLATFORM_ES_TRANSPORT_PORT": str(_free_port()),
            "PLATFORM_ES_HEAP": "384m",
            "PLATFORM_AIRFLOW_PORT": str(_free_port()),
            "PLATFORM_SPARK_UI_PORT": str(_free_port()),
            "PLATFORM_DASHBOARD_PORT": str(_free_port()),
        }
        self.settings = config.load(env=self.env, overrides={})

    def platform(self, *args: str, timeout: float = 600) -> str:
        proc = subprocess.run(
            [*PLATFORM, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"`platform {' '.join(args)}` failed:\n{out[-4000:]}"
        return out


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Not pytest's tmp_path: its folders are private (0700) and Elasticsearch runs as another user.
    home = Path(tempfile.mkdtemp(prefix="pipeline-up-"))
    home.chmod(0o755)
    st = Stack(home)
    try:
        st.platform("up", *SERVICES)
        yield st
    finally:
        st.platform("down", *SERVICES)
        shutil.rmtree(home, ignore_errors=True)


def _runs(settings: config.Settings, dag_id: str) -> list[dict]:
    answer = call(settings, lambda c: c.request("GET", f"/api/v2/dags/{dag_id}/dagRuns"))
    return list(answer["dag_runs"])


def test_pipeline_goes_live_once(stack: Stack) -> None:
    first = stack.platform("pipeline")

    assert "✓ platform_setup succeeded" in first, first
    assert "✓ streaming app live" in first, first
    assert "✓ pipeline live in" in first, first
    es = clients.es_client(stack.settings)
    assert es.count(index=stack.settings["es.index.runtime"])["count"] >= 1
    assert [r["state"] for r in _runs(stack.settings, "platform_setup")] == ["success"]
    assert [r["state"] for r in _runs(stack.settings, "streaming_app")] == ["running"]

    second = stack.platform("pipeline")

    assert "already running" in second, second
    assert "triggered" not in second, second
    assert len(_runs(stack.settings, "platform_setup")) == 1
    assert len(_runs(stack.settings, "streaming_app")) == 1
