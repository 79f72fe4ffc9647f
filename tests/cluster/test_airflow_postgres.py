"""The Airflow flow on PostgreSQL: platform_setup → streaming_app → demo_load → pipeline_health →
data_quality → streaming_app_stop, each run green and recorded in PostgreSQL's ``dag_run`` table.

Airflow's metadata database is a real PostgreSQL server, started with ``platform up postgres``'s
code (:mod:`streaming_platform.runtime.postgres`) in a state folder of its own
(``$PLATFORM_HOME/airflow-postgres-tests``, kept between runs so the schema is migrated once) on
``postgres.port`` + :data:`PORT_SHIFT`, and stopped afterwards. Only the database is the cluster
topology's here: Kafka, Elasticsearch and Spark (``local[N]``) are the embedded stack the other
tests use, which keeps this test to a few minutes; the cluster topology's faults are tested in
``test_cluster_faults.py``. Topics, indices, consumer group and checkpoint are this test's own.

The DAGs run with ``dag.test()`` in child processes (``run_dag.py``): Airflow reads its database
configuration once per process, and this pytest process may already be configured for the DAG
tests' SQLite. One child runs the DAGs in turn (Airflow starts once); ``streaming_app`` has a
child of its own, in the background for as long as the continuous query, and ends green when
``streaming_app_stop`` has stopped the app gracefully. Retries are off: every run must succeed at
its first attempt. About 3 minutes on a busy 2-core machine, most of it Spark's start and first
micro-batch. PostgreSQL not installed FAILS the test (``make setup`` installs it): never a skip.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from streaming_platform import clients, config, health
from streaming_platform.runtime import airflow as airflow_runtime
from streaming_platform.runtime import cli, kafka, postgres
from streaming_platform.runtime.process import ServiceError
from tests.cluster.conftest import PORT_SHIFT
from tests.conftest import STACK_SETTINGS, drop_platform, require

RUNNER = Path(__file__).with_name("run_dag.py")
DAG_TIMEOUT_S = 300
# A small load: 1,000 events, bad ones below health.max.quarantine.rate (5 %).
DEMO_LOAD = {"rate": 500, "duration": 2, "bad_fraction": 0.02, "customers": 200, "seed": 11}


def _own_names(run: str, tmp: Path) -> dict[str, str]:
    names = {
        "kafka.topic.events": f"pgflow-{run}-events",
        "kafka.topic.deadletter": f"pgflow-{run}-dlq",
        "kafka.consumer.group": f"pgflow-{run}-group",
        "spark.checkpoint.dir": str(tmp / "checkpoints"),
    }
    for key in ("aggregates", "customers", "quarantine", "runtime", "quality"):
        names[f"es.index.{key}"] = f"pgflow-{run}-{key}"
    return {config.option(k).env: v for k, v in names.items()}


class Flow:
    """The DAG runs of this test on the PostgreSQL-backed Airflow: one after the other in one child
    process (Airflow starts once), and ``start``/``finish`` for a run in a child of its own."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.durations: dict[str, float] = {}
        self.outputs: dict[str, str] = {}
        self.serial = self.start("serial")

    def start(self, name: str, conf: dict[str, Any] | None = None) -> subprocess.Popen:
        args = ["-"] if name == "serial" else [name, str(self.logs / f"{name}.json")]
        with open(self.logs / f"{name}.log", "wb") as log:  # the child keeps its own handle
            proc = subprocess.Popen(
                [sys.executable, str(RUNNER), *args, *([json.dumps(conf)] if conf else [])],
                env=self.env,
                stdin=subprocess.PIPE if name == "serial" else subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # spark-submit and the JVM go with the group when killed
            )
        proc.started_at = time.monotonic()  # type: ignore[attr-defined]
        return proc

    def run(self, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        """One run in the serial child; its result once green, else a failure with its log."""
        result_file, log = self.logs / f"{dag_id}.json", self.logs / "serial.log"
        offset, t0 = log.stat().st_size, time.monotonic()
        request = {"dag_id": dag_id, "result": str(result_file), "conf": conf}
        self.serial.stdin.write((json.dumps(request) + "\n").encode())
        self.serial.stdin.flush()
        while not result_file.exists():
            code = self.serial.poll()
            assert code is None, f"the DAG runner exited {code} during {dag_id}:\n{self.tail('serial')}"
            assert time.monotonic() - t0 < DAG_TIMEOUT_S, f"{dag_id}: no result in {DAG_TIMEOUT_S}s"
            time.sleep(0.5)
        self.durations[dag_id] = time.monotonic() - t0
        with open(log, "rb") as fh:
            fh.seek(offset)
            self.outputs[dag_id] = fh.read().decode(errors="replace")
        return self._green(dag_id, json.loads(result_file.read_text()))

    def finish(self, dag_id: str, proc: subprocess.Popen, timeout: float = DAG_TIMEOUT_S) -> dict[str, Any]:
        """The outcome of a run started with :meth:`start`, once its child exits."""
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            pytest.fail(f"{dag_id} did not finish in {timeout:.0f}s:\n{self.tail(dag_id)}", pytrace=False)
        self.durations[dag_id] = time.monotonic() - proc.started_at  # type: ignore[attr-defined]
        self.outputs[dag_id] = (self.logs / f"{dag_id}.log").read_text(errors="replace")
        result_file = self.logs / f"{dag_id}.json"
        assert code == 0 and result_file.exists(), f"{dag_id} runner exited {code}:\n{self.tail(dag_id)}"
        return self._green(dag_id, json.loads(result_file.read_text()))

    def _green(self, dag_id: str, result: dict[str, Any]) -> dict[str, Any]:
        detail = result.get("error") or result.get("tasks")
        assert result["state"] == "success", f"{dag_id}: {detail}\n{self.tail(dag_id)}"
        return result

    def tail(self, name: str, chars: int = 4000) -> str:
        text = self.outputs.get(name) or (self.logs / f"{name}.log").read_text(errors="replace")
        return text[-chars:]

    def close(self) -> None:
        if self.serial.poll() is None:
            self.serial.stdin.close()  # the runner's loop ends
            try:
                self.serial.wait(60)
            except subprocess.TimeoutExpired:
                _kill(self.serial)


def _kill(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _eventually(condition: Callable[[], bool], timeout: float, what: str, alive: Callable[[], str]) -> None:
    """Until ``condition``; fails at once when ``alive`` reports the run that should get there ended."""
    deadline, error = time.monotonic() + timeout, ""
    while True:
        try:
            if condition():
                return
        except Exception as exc:  # noqa: BLE001 - e.g. a partition leader still moving: ask again
            error = f" (last error: {type(exc).__name__}: {exc})"
        ended = alive()
        assert not ended, f"waiting for {what}: {ended}"
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}{error}"
        time.sleep(2)


@pytest.fixture(scope="module")
def pg_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[config.Settings, dict[str, str]]]:
    """PostgreSQL started by the runtime, Airflow's schema on it; (settings, the DAG runs' env)."""
    stack = STACK_SETTINGS
    require("Kafka", _reachable(lambda: kafka.healthy(stack)), stack["kafka.bootstrap.servers"])
    require("Elasticsearch", _reachable(lambda: clients.es_client(stack).ping()), stack["es.url"])
    tmp = tmp_path_factory.mktemp("pgflow")
    platform_env = {k: v for k, v in os.environ.items() if k.startswith("PLATFORM_")}
    platform_env.update(
        {
            "PLATFORM_HOME": str(stack.home / "airflow-postgres-tests"),
            config.option("airflow.database").env: "postgres",
            config.option("postgres.port").env: str(stack["postgres.port"] + PORT_SHIFT),
            # The running stack's client addresses, whatever its saved overrides said.
            config.option("kafka.bootstrap.servers").env: stack["kafka.bootstrap.servers"],
            config.option("es.url").env: stack["es.url"],
            **_own_names(uuid.uuid4().hex[:8], tmp),
        }
    )
    settings = config.load(env=platform_env, overrides={})
    try:
        postgres.binary("postgres")  # not installed: a failure naming `make setup`, never a skip
        cli.up(settings, ["postgres"])
        airflow_runtime.prepare(settings)  # `airflow db migrate` on PostgreSQL, once per version
    except ServiceError as exc:
        pytest.fail(f"PostgreSQL for Airflow could not start: {exc}", pytrace=False)
    # Children get no AIRFLOW_* of this process (a SQLite URL would win over the _CMD one).
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PLATFORM_"))}
    env = {**base, **platform_env, **airflow_runtime.airflow_env(settings)}
    try:
        yield settings, env
    finally:
        drop_platform(settings)
        cli.down(settings, ["postgres"])  # this test's own server, in its own state folder


def _reachable(probe: Callable[[], Any]) -> bool:
    try:
        return bool(probe())
    except Exception:  # noqa: BLE001 - any failure to connect means "not reachable"
        return False


def _dag_runs(settings: config.Settings, run_ids: list[str]) -> dict[tuple[str, str], str]:
    with closing(postgres.connect(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT dag_id, run_id, state FROM dag_run WHERE run_id = ANY(%s)", (run_ids,))
        return {(dag_id, run_id): state for dag_id, run_id, state in cur.fetchall()}


def test_the_airflow_flow_on_postgres(
    pg_airflow: tuple[config.Settings, dict[str, str]], tmp_path: Path
) -> None:
    settings, env = pg_airflow
    flow = Flow(env, tmp_path)
    stream = None
    try:
        results = [flow.run("platform_setup")]
        stream = flow.start("streaming_app", {"available_now": False})

        def stream_ended() -> str:
            return "" if stream.poll() is None else f"streaming_app ended:\n{flow.tail('streaming_app')}"

        # The Spark UI's first answer can be slow; the probe itself waits up to 20 s for it.
        _eventually(lambda: health.app_liveness(settings).ok, 240, "the app's Spark UI", stream_ended)
        results.append(flow.run("demo_load", DEMO_LOAD))
        admin, es = clients.kafka_admin(settings), clients.es_client(settings)
        _eventually(
            lambda: health.consumer_lag(admin, es, settings).value == 0,
            180,
            "the app to process the demo load",
            stream_ended,
        )
        results.append(flow.run("pipeline_health"))
        for name in ("app liveness", "elasticsearch health", "consumer lag", "aggregate staleness"):
            assert f"ok    {name}:" in flow.outputs["pipeline_health"], (
                f"{name}:\n{flow.tail('pipeline_health')}"
            )
        results.append(flow.run("data_quality"))
        results.append(flow.run("streaming_app_stop"))
        streamed = flow.finish("streaming_app", stream, timeout=180)
    finally:
        flow.close()
        if stream is not None and stream.poll() is None:
            _kill(stream)

    assert streamed["tasks"] == {
        "run_stream": "success",
        "continuous": "skipped",
        "restart": "skipped",
    }
    assert results[1]["tasks"] == {"produce": "success"}
    results.append(streamed)
    recorded = _dag_runs(settings, [r["run_id"] for r in results])
    assert recorded == {(r["dag_id"], r["run_id"]): "success" for r in results}
    print("DAG runs (s): " + ", ".join(f"{d} {t:.0f}" for d, t in flow.durations.items()))
