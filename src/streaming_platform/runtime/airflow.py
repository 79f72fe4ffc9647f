"""The embedded Airflow 3: ``airflow standalone`` on SQLite or PostgreSQL with the LocalExecutor.

Everything Airflow needs comes from :func:`airflow_env`, built from the platform settings, so
the service, the DAGs' task processes and pytest see the same configuration:

* ``AIRFLOW_HOME`` is ``$PLATFORM_HOME/airflow`` (SQLite DB, logs, ``airflow.cfg``, admin password);
  DAGs and plugins come straight from the repository's ``dags/`` and ``plugins/``.
* ``airflow.database``: ``sqlite`` (the embedded topology's default) or ``postgres`` (the cluster
  topology's): the server of :mod:`streaming_platform.runtime.postgres`, whose URL (it holds the
  password) Airflow reads from a 0600 file through ``sql_alchemy_conn_cmd``, never from the
  environment. The executor is the LocalExecutor on both, as in docker-compose.yaml.
* The API server / UI binds to ``bind.host`` (loopback by default) on ``airflow.port``;
  ``airflow.url`` is also the base URL the task workers call the execution API at.
* ``core.parallelism`` is 4 (keeps the LocalExecutor at 4 worker processes on a small machine).
* New DAGs are **not** paused at creation: a DAG that is triggered from the dashboard or the
  REST API runs at once instead of sitting queued. A DAG that must not run on its own uses
  ``schedule=None`` (or ``is_paused_upon_creation=True``).
* The connections of :mod:`streaming_platform.connections` are ``AIRFLOW_CONN_*`` environment
  variables (nothing is stored in the DB, so a settings change applies at the next restart).
* The venv's ``bin`` is first on ``PATH`` (``SparkSubmitOperator`` runs ``spark-submit`` from
  ``PATH``; ``airflow standalone`` starts its components as ``airflow ...`` from ``PATH``) and the
  repository's ``src`` is on ``PYTHONPATH`` so DAGs import :mod:`streaming_platform`.

The service command is ``python -m streaming_platform.runtime.airflow standalone``
(:func:`_supervise`): the four components of ``airflow standalone`` (scheduler, dag-processor,
api-server, triggerer) under a small supervisor instead of ``airflow standalone`` itself, which
only handles Ctrl-C: a SIGTERM kills its parent alone and orphans the components, and a group
SIGTERM reaches the scheduler twice, after which it hangs joining its LocalExecutor workers.
The supervisor stops the components once each, the API server last (running tasks report
through it), kills whatever is left after a grace period (task processes, ``spark-submit``,
``BashOperator`` children included) and exits; it also exits (code 1) when a component dies.
The scheduler and triggerer run with ``--skip-serve-logs``: their log servers (ports 8793 and
8794) always bind to all interfaces and are not needed when every component shares one
``AIRFLOW_HOME`` (the API server reads the task log files directly). The database schema is
migrated by :func:`prepare` (once per Airflow version), not at every start.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streaming_platform.config import REPO_ROOT, Settings, es_hosts
from streaming_platform.connections import (
    ES_CONN_ID,
    KAFKA_CONN_ID,
    KIBANA_CONN_ID,
    SPARK_CONN_ID,
    env_var,
)
from streaming_platform.progress import say
from streaming_platform.runtime.process import ServiceError, ServiceSpec, port_in_use

NAME = "airflow"
DAGS_FOLDER = REPO_ROOT / "dags"
PLUGINS_FOLDER = REPO_ROOT / "plugins"
PARALLELISM = 4
HEALTH_TIMEOUT_S = 240.0
# Components /api/v2/monitor/health must report healthy before the service counts as started.
HEALTHY_COMPONENTS = ("metadatabase", "scheduler", "dag_processor")


# --------------------------------------------------------------------------- environment


def airflow_home(settings: Settings) -> Path:
    return settings.home / "airflow"


def password_file(settings: Settings) -> Path:
    """Where the simple auth manager keeps (and ``airflow standalone`` generates) passwords."""
    return airflow_home(settings) / "simple_auth_manager_passwords.json.generated"


def _venv_bin() -> Path:
    # Not resolved: a venv's python is a symlink to the base interpreter, its bin is what we want.
    return Path(sys.executable).parent


def _prepend(entry: str, current: str | None) -> str:
    parts = [p for p in (current or "").split(os.pathsep) if p and p != entry]
    return os.pathsep.join([entry, *parts])


def connections(settings: Settings) -> dict[str, dict[str, Any]]:
    """The platform's Airflow connections, by conn id, in Airflow's JSON connection format."""
    from urllib.parse import urlsplit

    es = urlsplit(es_hosts(settings["es.url"])[0])  # an Airflow connection holds one node
    conns: dict[str, dict[str, Any]] = {
        KAFKA_CONN_ID: {
            "conn_type": "kafka",
            "extra": {"bootstrap.servers": settings["kafka.bootstrap.servers"]},
        },
        ES_CONN_ID: {
            "conn_type": "elasticsearch",
            "host": es.hostname,
            "port": es.port or (443 if es.scheme == "https" else 9200),
            "schema": es.scheme,  # ElasticsearchSQLHook takes the URL scheme from `schema`
            "login": settings["es.username"] or None,
            "password": settings["es.password"] or None,
        },
        # SparkSubmitHook: conn_type "spark" with the whole master in `host` and no port is used
        # verbatim as --master (local[2], spark://h:7077, yarn, k8s://https://h:443).
        SPARK_CONN_ID: {"conn_type": "spark", "host": settings["spark.master"]},
    }
    if settings["kibana.url"]:
        kb = urlsplit(settings["kibana.url"])
        conns[KIBANA_CONN_ID] = {
            "conn_type": "http",
            "host": kb.hostname,
            "port": kb.port or (443 if kb.scheme == "https" else 80),
            "schema": kb.scheme,
        }
    return {cid: {k: v for k, v in conn.items() if v is not None} for cid, conn in conns.items()}


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for every Airflow process (service, CLI calls, pytest)."""
    url = settings["airflow.url"].rstrip("/")
    venv_bin = _venv_bin()
    env = {
        "AIRFLOW_HOME": str(airflow_home(settings)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings['airflow.username']}:admin",
        "AIRFLOW__API__HOST": settings["bind.host"],
        "AIRFLOW__API__PORT": str(settings["airflow.port"]),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        **_database_env(settings),
        # Notice new DAG files within 30 s instead of 5 min.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "PATH": _prepend(str(venv_bin), os.environ.get("PATH", os.defpath)),
        "PYTHONPATH": _prepend(str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")),
        # DAGs resolve the platform settings (config.load) from the same home and overrides.
        "PLATFORM_HOME": str(settings.home),
        "PYSPARK_PYTHON": str(venv_bin / "python"),
        "PYSPARK_DRIVER_PYTHON": str(venv_bin / "python"),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    for conn_id, conn in connections(settings).items():
        env[env_var(conn_id)] = json.dumps(conn)
    return env


def _database_env(settings: Settings) -> dict[str, str]:
    if settings["airflow.database"] == "postgres":
        from streaming_platform.runtime import postgres

        return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": f"cat {postgres.url_file(settings)}"}
    # SQLite: wait up to 30 s for a write lock instead of the default 5 s (HTTP 500s under load).
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home(settings)}/airflow.db?timeout=30"
    }


# --------------------------------------------------------------------------- preparation


def _migrated_marker(settings: Settings) -> Path:
    """Next to the database it speaks of: a new PostgreSQL data folder is migrated again."""
    import importlib.metadata

    version = importlib.metadata.version("apache-airflow-core")
    if settings["airflow.database"] == "postgres":
        from streaming_platform.runtime import postgres

        return postgres.pg_home(settings) / f".airflow-db-migrated-{version}"
    return airflow_home(settings) / f".db-migrated-{version}"


def _database_present(settings: Settings) -> bool:
    if settings["airflow.database"] == "postgres":
        from streaming_platform.runtime import postgres

        try:
            return postgres.healthy(settings)
        except Exception:  # noqa: BLE001 - any failure to connect means "not there"
            raise ServiceError(
                f"Airflow's metadata database (PostgreSQL on 127.0.0.1:{settings['postgres.port']}) "
                "is not running: start it first (`platform up postgres`)."
            ) from None
    return (airflow_home(settings) / "airflow.db").exists()


def migrate_db(settings: Settings) -> None:
    """``airflow db migrate`` unless already done for this Airflow version (marker file)."""
    marker = _migrated_marker(settings)
    if _database_present(settings) and marker.exists():
        return
    say(f"→ airflow db migrate on {settings['airflow.database']} (first start only)")
    # An inherited URL (e.g. a test process's SQLite) would win over this database's _CMD one.
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    }
    result = subprocess.run(
        [str(_venv_bin() / "airflow"), "db", "migrate"],
        env={**inherited, **airflow_env(settings)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`airflow db migrate` failed with code {result.returncode}:\n"
            + "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        )
    marker.write_text("ok\n")


def _seed_password(settings: Settings) -> None:
    """With ``airflow.password`` set, make it the admin password (else Airflow generates one)."""
    password = settings["airflow.password"]
    if not password:
        return
    path = password_file(settings)
    current = json.loads(path.read_text() or "{}") if path.exists() else {}
    if current.get(settings["airflow.username"]) != password:
        current[settings["airflow.username"]] = password
        path.write_text(json.dumps(current))
        path.chmod(0o600)


def prepare(settings: Settings) -> None:
    """One-off setup before a start: folders, admin password, database schema."""
    airflow_home(settings).mkdir(parents=True, exist_ok=True)
    _seed_password(settings)
    migrate_db(settings)


def prepare_for_tests(settings: Settings) -> dict[str, str]:
    """Make this process ready for ``DagBag`` and ``dag.test()``: Airflow env + migrated DB.

    Must run before ``airflow`` is first imported (Airflow reads its configuration at import).
    Returns the environment it set.
    """
    env = airflow_env(settings)
    os.environ.update(env)
    prepare(settings)
    return env


# --------------------------------------------------------------------------- API


def health(settings: Settings) -> dict[str, Any]:
    """``GET /api/v2/monitor/health`` (no authentication needed); AirflowError if no answer."""
    # Imported here: airflow_api imports admin_credentials from this module.
    from streaming_platform.airflow_api import call

    return call(settings, lambda client: client.health(), timeout_s=3.0)


def is_healthy(settings: Settings) -> bool:
    from streaming_platform.airflow_api import AirflowError

    try:
        report = health(settings)
    except (AirflowError, ValueError):
        return False
    return all((report.get(c) or {}).get("status") == "healthy" for c in HEALTHY_COMPONENTS)


def admin_credentials(settings: Settings) -> tuple[str, str]:
    """(username, password) of the Airflow admin: ``airflow.password`` or the generated one."""
    user = settings["airflow.username"]
    if settings["airflow.password"]:
        return user, settings["airflow.password"]
    path = password_file(settings)
    try:
        passwords = json.loads(path.read_text())
    except FileNotFoundError:
        raise RuntimeError(
            f"no Airflow password yet: {path} is written on the first start of Airflow"
        ) from None
    if user not in passwords:
        raise RuntimeError(f"{path} has no password for Airflow user {user!r}")
    return user, passwords[user]


# --------------------------------------------------------------------------- service


def spec(settings: Settings) -> ServiceSpec:
    return ServiceSpec(
        name=NAME,
        command=[str(_venv_bin() / "python"), "-m", "streaming_platform.runtime.airflow", "standalone"],
        ports=[settings["airflow.port"]],
        health=lambda: is_healthy(settings),
        env=airflow_env(settings),
        cwd=airflow_home(settings),
        timeout_s=HEALTH_TIMEOUT_S,
        prepare=lambda: prepare(settings),
        stop_timeout_s=45.0,
    )


# Components of the embedded Airflow, as ``airflow <args>`` commands.
COMPONENTS: dict[str, list[str]] = {
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "api-server": ["api-server"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}
GRACE_S = 12.0  # scheduler & co. may finish running tasks this long; then all left is killed (< 30 s)
API_START_S = 120.0  # how long the other components wait for the API server to listen


def _set_parent_death_signal() -> None:
    """In a component (before exec): get SIGKILL if the supervisor dies, e.g. by SIGKILL."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _wait_for_port(proc: subprocess.Popen, stopping: Any, emit: Callable[[str, str], None]) -> None:
    """Wait until the API server accepts connections (its output waits in the pipe meanwhile)."""
    import time

    host, port = os.environ["AIRFLOW__API__HOST"], int(os.environ["AIRFLOW__API__PORT"])
    deadline = time.monotonic() + API_START_S
    while time.monotonic() < deadline and proc.poll() is None and not stopping.is_set():
        if port_in_use(host, port):
            return
        time.sleep(0.5)
    emit("supervisor", "api-server not listening yet; starting the other components anyway")


def _supervise() -> int:
    """Run the Airflow components like ``airflow standalone``; stop them cleanly on SIGTERM.

    Differences to ``airflow standalone``: a SIGTERM (or SIGINT) stops the components and then
    this process; each component runs in its own process group, so the group kill of
    :func:`streaming_platform.runtime.process.stop` reaches it exactly once, through here (a
    second SIGTERM makes the scheduler abandon its executor shutdown and hang joining the
    LocalExecutor workers). What is still alive after ``GRACE_S`` -- components, LocalExecutor
    workers, task processes (Airflow puts each in its own process group), ``spark-submit`` and
    ``BashOperator`` children -- is killed, so nothing outlives the service. If a component
    exits by itself, the others are stopped and this process exits with code 1. The scheduler
    and triggerer serve no logs (their log servers bind to all interfaces; the API server reads
    the task log files under ``AIRFLOW_HOME`` directly).
    """
    import threading
    import time

    import psutil

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    out_lock = threading.Lock()

    def emit(name: str, line: str) -> None:
        if name == "supervisor":
            line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}"
        with out_lock:
            sys.stdout.write(f"{name:13} | {line.rstrip()}\n")
            sys.stdout.flush()

    def pump(name: str, stream: Any) -> None:
        for raw in stream:
            emit(name, raw.decode("utf-8", "replace"))

    me = psutil.Process()
    seen: dict[int, psutil.Process] = {}

    def track() -> None:  # remember descendants: orphans lose their link to this process
        for child in me.children(recursive=True):
            seen.setdefault(child.pid, child)

    airflow_bin = str(_venv_bin() / "airflow")
    procs: dict[str, subprocess.Popen] = {}
    for name, args in COMPONENTS.items():
        procs[name] = subprocess.Popen(
            [airflow_bin, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=_set_parent_death_signal,  # all started before any thread exists
        )
        emit("supervisor", f"started airflow {' '.join(args)} (pid {procs[name].pid})")
        if name == "api-server":
            # Tasks call the execution API: a scheduler that starts first would launch tasks
            # (e.g. ones reset after a restart) that time out against a not-yet-listening server.
            _wait_for_port(procs[name], stopping, emit)
    for name, proc in procs.items():
        threading.Thread(target=pump, args=(name, proc.stdout), daemon=True).start()

    code = 0
    while not stopping.wait(2.0):
        track()
        for name, proc in procs.items():
            if proc.poll() is not None:
                emit("supervisor", f"{name} exited with code {proc.returncode}; stopping Airflow")
                code = 1
                stopping.set()
    track()
    # The API server goes last: running tasks report their end through its execution API.
    for phase, grace in ((("scheduler", "dag-processor", "triggerer"), GRACE_S), (("api-server",), 5.0)):
        emit("supervisor", f"stopping {', '.join(phase)}")
        for name in phase:
            if procs[name].poll() is None:
                procs[name].terminate()
        deadline = time.monotonic() + grace
        for name in phase:
            try:
                procs[name].wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                emit("supervisor", f"{name} did not stop within {grace:.0f}s")
            else:
                emit("supervisor", f"{name} stopped (code {procs[name].returncode})")
        track()
    left = [p for p in seen.values() if p.is_running()]  # is_running also checks PID reuse
    if left:
        emit("supervisor", f"terminating {len(left)} leftover processes: {[p.pid for p in left]}")
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.terminate()
        _, alive = psutil.wait_procs(left, timeout=5)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(alive, timeout=5)
    emit("supervisor", "stopped")
    return code


if __name__ == "__main__":
    if sys.argv[1:] != ["standalone"]:
        sys.exit("usage: python -m streaming_platform.runtime.airflow standalone")
    sys.exit(_supervise())
