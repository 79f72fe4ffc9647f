"""The Airflow flow on PostgreSQL: setup → stream → demo load → health → quality → stop.

A throwaway stack with its own ``PLATFORM_HOME`` and free ports: Kafka, Elasticsearch, PostgreSQL
and Airflow with ``airflow.database = postgres`` (what ``topology = cluster`` selects; chosen here
alone so the test does not depend on the multi-node Kafka, Elasticsearch and Spark). Every DAG is
triggered through Airflow's REST API and must succeed; then the runs must be rows of PostgreSQL's
``dag_run`` table, and no SQLite database may exist. Takes ~4-5 minutes on two cores.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streaming_platform import clients, config
from streaming_platform.airflow_api import call
from streaming_platform.runtime import airflow, postgres
from streaming_platform.runtime.process import port_in_use

PLATFORM = [sys.executable, "-m", "streaming_platform.runtime.cli"]
SERVICES = ("kafka", "elasticsearch", "postgres", "airflow")
DEMO = {"rate": 200, "duration": 10, "customers": 200, "bad_fraction": 0.02, "seed": 15}
RUN_TIMEOUT_S = 300.0


def _free_ui_ports(count: int = 4) -> int:
    """The first of ``count`` free ports below Linux's ephemeral range (32768+): Spark's UI port
    and the next ones health probes, which no outgoing connection can take meanwhile."""
    for first in range(random.randrange(20_000, 32_000, count), 32_700, count):
        if not any(port_in_use("127.0.0.1", p) for p in range(first, first + count)):
            return first
    raise RuntimeError("no free port range for the Spark UI below 32768")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    def __init__(self, home: Path) -> None:
        # No PLATFORM_* nor AIRFLOW__* of the caller: an inherited sql_alchemy_conn (the DAG tests
        # set one in this process) would win over the PostgreSQL one.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_", "AIRFLOW"))}
        self.env = {
            **inherited,
            "PLATFORM_HOME": str(home),
            "PLATFORM_AIRFLOW_DATABASE": "postgres",
            "PLATFORM_POSTGRES_PORT": str(_free_port()),
            "PLATFORM_KAFKA_PORT": str(_free_port()),
            "PLATFORM_KAFKA_CONTROLLER_PORT": str(_free_port()),
            "PLATFORM_KAFKA_HEAP": "256m",
            "PLATFORM_ES_PORT": str(_free_port()),
            "PLATFORM_ES_TRANSPORT_PORT": str(_free_port()),
            "PLATFORM_ES_HEAP": "384m",
            "PLATFORM_AIRFLOW_PORT": str(_free_port()),
            "PLATFORM_SPARK_UI_PORT": str(_free_ui_ports()),
            "PLATFORM_DASHBOARD_PORT": str(_free_port()),
        }
        self.settings = config.load(env=self.env, overrides={})

    def platform(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        proc = subprocess.run(
            [*PLATFORM, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        out = proc.stdout + proc.stderr
        assert not check or proc.returncode == 0, f"`platform {' '.join(args)}` failed:\n{out[-4000:]}"
        return out


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Not pytest's tmp_path: its folders are private (0700); PostgreSQL and Elasticsearch run as
    # other users and must reach their folders under the home.
    home = Path(tempfile.mkdtemp(prefix="airflow-postgres-"))
    home.chmod(0o755)
    st = Stack(home)
    try:
        st.platform("up", *SERVICES)
        yield st
    finally:
        st.platform("down", *SERVICES)
        shutil.rmtree(home, ignore_errors=True)


def _trigger(settings: config.Settings, dag_id: str, conf: dict[str, Any] | None = None) -> str:
    return str(call(settings, lambda c: c.trigger(dag_id, conf or {}), timeout_s=20.0)["run_id"])


def _state(settings: config.Settings, dag_id: str, run_id: str) -> str:
    return str(call(settings, lambda c: c.get_run(dag_id, run_id), timeout_s=20.0)["state"])


def _wait_done(settings: config.Settings, dag_id: str, run_id: str) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (state := _state(settings, dag_id, run_id)) in ("queued", "running"):
        assert time.monotonic() < deadline, f"{dag_id} {run_id} still {state} after {RUN_TIMEOUT_S:.0f}s"
        time.sleep(2)
    return state


def _run_to_success(settings: config.Settings, dag_id: str, conf: dict[str, Any] | None = None) -> str:
    run_id = _trigger(settings, dag_id, conf)
    state = _wait_done(settings, dag_id, run_id)
    assert state == "success", f"{dag_id} run {run_id} ended {state}:\n{_failures(settings, dag_id, run_id)}"
    return run_id


def _failures(settings: config.Settings, dag_id: str, run_id: str) -> str:
    """The FAIL and error lines of the run's task logs (the stack's home is removed after the test)."""
    logs = airflow.airflow_home(settings) / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    lines = [
        f"{path.parent.parent.name}: {line[:400]}"
        for path in sorted(logs.glob("*/*.log"))
        for line in path.read_text(errors="replace").splitlines()
        if "FAIL" in line or '"level":"error"' in line
    ]
    return "\n".join(lines[-20:]) or f"(no failure lines in {logs})"


def _latest_run_id(settings: config.Settings, dag_id: str) -> str:
    run = call(settings, lambda c: c.latest_run(dag_id), timeout_s=20.0)
    assert run, f"no {dag_id} run"
    return str(run["dag_run_id"])


def _wait_aggregates(settings: config.Settings) -> None:
    """Until the stream wrote the demo load's first aggregates (health checks their staleness)."""
    es = clients.es_client(settings)
    index = settings["es.index.aggregates"]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while es.options(ignore_status=404).count(index=index).get("count", 0) == 0:
        assert time.monotonic() < deadline, f"no aggregate in {index} {RUN_TIMEOUT_S:.0f}s after demo_load"
        time.sleep(2)


def _dag_runs_in_postgres(settings: config.Settings) -> dict[tuple[str, str], str]:
    with contextlib.closing(postgres.connect(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT dag_id, run_id, state FROM dag_run")
        return {(dag_id, run_id): state for dag_id, run_id, state in cur.fetchall()}


def test_airflow_flow_runs_on_postgres(stack: Stack) -> None:
    settings = stack.settings
    # Not its exit code: on a loaded machine one of Airflow's health probes may time out.
    status = stack.platform("status", check=False)
    line = next((row for row in status.splitlines() if row.startswith("postgres ")), "")
    assert " running " in line and " healthy " in line, status

    out = stack.platform("pipeline")
    assert "✓ platform_setup succeeded" in out, out
    assert "✓ streaming app live" in out, out
    runs = {
        "platform_setup": _latest_run_id(settings, "platform_setup"),
        "streaming_app": _latest_run_id(settings, "streaming_app"),
    }
    runs["demo_load"] = _run_to_success(settings, "demo_load", DEMO)
    _wait_aggregates(settings)
    for dag_id in ("pipeline_health", "data_quality", "streaming_app_stop"):
        runs[dag_id] = _run_to_success(settings, dag_id)
    # The stop request ends the stream's run green.
    assert _wait_done(settings, "streaming_app", runs["streaming_app"]) == "success"

    in_db = _dag_runs_in_postgres(settings)
    for dag_id, run_id in runs.items():
        assert in_db.get((dag_id, run_id)) == "success", (dag_id, run_id, in_db)
    home = airflow.airflow_home(settings)
    assert not list(home.glob("*.db")), f"a SQLite database in {home}: {list(home.glob('*.db'))}"
