"""``platform``: start, stop and inspect the embedded stack on one machine.

    platform up [SERVICE ...]      start (default: every service), waiting for each to be healthy
    platform down [SERVICE ...]    stop what `up` started, by PID, in reverse order
    platform pipeline              trigger platform_setup, then streaming_app; wait for its first batch
    platform demo                  the same, then demo_load (events flow on the dashboard)
    platform status                one line per service: running/stopped, pid, health
    platform config                the effective configuration with each value's source
    platform test [PYTEST ARGS]    start what the tests need (or reuse it), run pytest, stop what it started

Services start side by side: kafka, elasticsearch, spark, postgres (Airflow's database under
``airflow.database = postgres``, the cluster topology's default), airflow once postgres answers,
the dashboard; ``down`` stops them in reverse order. A second ``up``
while running is a no-op; a stale PID file (process gone) is cleaned up and the service restarted.
Under ``topology=cluster`` a service is several nodes (kafka-1…3, elasticsearch-1…2, the Spark
master and workers; ``spark`` is nothing embedded): every command covers each node.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from streaming_platform import config
from streaming_platform.contract import ContractError
from streaming_platform.progress import say
from streaming_platform.runtime import process
from streaming_platform.runtime.process import Paths, ServiceError, ServiceSpec

# name -> module under streaming_platform.runtime exposing spec(settings) -> ServiceSpec
SERVICES: dict[str, str] = {
    "kafka": "kafka",
    "elasticsearch": "elasticsearch",
    "spark": "spark_cluster",
    "postgres": "postgres",
    "airflow": "airflow",
    "dashboard": "dashboard_service",
}
# What a service needs healthy before it starts; the others start side by side (their JVM and
# Python start-ups overlap; Airflow's metadata database must answer its migration).
NEEDS: dict[str, tuple[str, ...]] = {"airflow": ("postgres",)}
# What the test suite needs running; Airflow DAGs are run in-process with dag.test().
TEST_SERVICES = ("kafka", "elasticsearch", "spark")


def node_specs(name: str, settings: config.Settings) -> list[ServiceSpec]:
    """The processes of service ``name``: modules whose service is several nodes (under
    topology=cluster) expose ``service_specs(settings)``, the others ``spec(settings)``."""
    module = importlib.import_module(f"streaming_platform.runtime.{SERVICES[name]}")
    many = getattr(module, "service_specs", None)
    return many(settings) if many else [module.spec(settings)]


def _running_specs(name: str, settings: config.Settings) -> list[ServiceSpec]:
    """``_specs``, plus the running nodes of the other topology (started by an ``up`` under it),
    so ``down`` and ``status`` never lose sight of a process ``up`` started."""
    own = node_specs(name, settings)
    module = importlib.import_module(f"streaming_platform.runtime.{SERVICES[name]}")
    if not hasattr(module, "service_specs"):
        return own
    other = "embedded" if settings["topology"] == "cluster" else "cluster"
    paths, names = Paths(settings.home), {spec.name for spec in own}
    alt = config.load(env={**os.environ, config.option("topology").env: other})
    extra = [sp for sp in node_specs(name, alt) if sp.name not in names and process.read_pid(paths, sp.name)]
    return own + extra


def services_for(settings: config.Settings) -> list[str]:
    """What `platform up` starts for this configuration: PostgreSQL only as Airflow's database."""
    return [n for n in SERVICES if n != "postgres" or settings["airflow.database"] == "postgres"]


def _selected(names: list[str], settings: config.Settings) -> list[str]:
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise SystemExit(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    return names or services_for(settings)


def require_safe_bind(settings: config.Settings) -> None:
    """The embedded services have no authentication: beyond loopback only when explicitly
    allowed, and with the dashboard's token set (its logs, config and audit then need it)."""
    host = settings["bind.host"]
    if config.is_loopback(host):
        return
    if not settings["bind.allow.remote"]:
        raise SystemExit(
            f"bind.host={host!r} is not a loopback address and the embedded services have no "
            "authentication: set PLATFORM_BIND_ALLOW_REMOTE=true to bind them there anyway"
        )
    if not settings["dashboard.token"]:
        raise SystemExit(f"bind.host={host!r} beyond loopback needs PLATFORM_DASHBOARD_TOKEN set")


def up(settings: config.Settings, names: list[str]) -> list[str]:
    """Start ``names`` side by side, each once what it needs is healthy (``NEEDS``), the nodes of
    one service one after another; returns the services this call started (not already running).
    A service that fails to start is reported after the others have had their chance."""
    require_safe_bind(settings)
    paths = Paths(settings.home)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max(1, len(names))) as pool:
        futures: dict[str, Future[bool]] = {}
        for name in names:
            needs = {n: futures[n] for n in NEEDS.get(name, ()) if n in futures}
            futures[name] = pool.submit(_start_service, name, settings, paths, needs)
    errors = [f.exception() for f in futures.values() if f.exception() is not None]
    if errors:
        raise errors[0]
    say(f"✓ all healthy in {time.monotonic() - t0:.1f}s: {', '.join(names)}")
    _print_access(settings, names)
    return [name for name, f in futures.items() if f.result()]


def _start_service(
    name: str, settings: config.Settings, paths: Paths, needs: dict[str, Future[bool]]
) -> bool:
    """Start every node of ``name`` once ``needs`` are up; True if this started one."""
    for need, future in needs.items():
        if future.exception() is not None:
            raise ServiceError(f"{name} not started: {need}, which it needs, did not start")
    started = False
    for spec in node_specs(name, settings):
        started |= process.read_pid(paths, spec.name) is None
        process.start(spec, paths, settings["bind.host"])
    return started


def _print_access(settings: config.Settings, names: list[str]) -> None:
    """Where to go next: URLs, and Airflow's generated admin credentials."""
    if "airflow" in names:
        from streaming_platform.runtime.airflow import admin_credentials

        user, password = admin_credentials(settings)
        say(f"  Airflow UI      {settings['airflow.url']}   user {user}  password {password}")
    if "dashboard" in names:
        say(f"  Dashboard       http://{settings['bind.host']}:{settings['dashboard.port']}/pipeline")
    if "elasticsearch" in names:
        say(f"  Elasticsearch   {settings['es.url']}")
    if "kafka" in names:
        say(f"  Kafka           {settings['kafka.bootstrap.servers']}")
    if "spark" in names and settings["topology"] == "cluster":
        say(f"  Spark master    {settings['spark.master']}")
    say(f"  Logs            {Paths(settings.home).logs}/")


def down(settings: config.Settings, names: list[str]) -> None:
    paths = Paths(settings.home)
    for name in reversed(names):
        specs = list(reversed(_running_specs(name, settings)))
        # A quorum's nodes stop together: the last Kafka broker alone would wait for a quorum
        # that is gone until killed.
        for spec in specs[1:]:
            process.request_stop(spec.name, paths)
        for spec in specs:
            if process.read_pid(paths, spec.name) is None:
                if name in services_for(settings):
                    say(f"· {spec.name} not running")
                continue
            process.stop(spec.name, paths, spec.stop_timeout_s)


def status(settings: config.Settings) -> int:
    paths = Paths(settings.home)
    bad = 0
    wanted = services_for(settings)
    for service, spec in ((n, spec) for n in SERVICES for spec in _running_specs(n, settings)):
        name = spec.name
        pid = process.read_pid(paths, name)
        if pid is None and service not in wanted:
            continue
        if pid is None:
            print(f"{name:15} stopped")
            continue
        try:
            ok = spec.health()
        except Exception as exc:  # noqa: BLE001 - report any probe failure in words
            ok, why = False, str(exc)
        else:
            why = ""
        bad += not ok
        state = "healthy" if ok else f"UNHEALTHY {why}".strip()
        print(f"{name:15} running  pid {pid:<8} {state:10} log {paths.log_file(name)}")
    return 1 if bad else 0


def show_config(settings: config.Settings) -> None:
    for row in settings.describe():
        print(f"{row['name']:34} {row['value']!s:32} [{row['source']}]  {row['env']}")


def run_tests(settings: config.Settings, pytest_args: list[str]) -> int:
    started = up(settings, list(TEST_SERVICES))
    try:
        cmd = [sys.executable, "-m", "pytest", *pytest_args]
        say(f"→ {' '.join(cmd)}")
        return subprocess.call(cmd, env={**os.environ, "PLATFORM_STACK_REQUIRED": "1"})
    finally:
        if started:
            down(settings, started)


def check_events(settings: config.Settings, source: str) -> int:
    """Print, per JSON line of ``source`` (a file, or - for stdin), accepted or its reasons."""
    from streaming_platform.streaming.parse import check_lines  # pyarrow: only when needed
    from streaming_platform.validation import Limits

    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        print(f"ERROR: cannot read {source}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 2
    lines = [line.rstrip(b"\r") for line in data.split(b"\n")]
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline ends the last line; it does not start another
    limits = Limits.from_settings(settings)
    verdicts = check_lines(lines, limits, int(time.time() * 1000))
    for reasons in verdicts:
        print("accepted" if reasons is None else f"quarantined: {reasons.replace(',', ', ')}")
    accepted = verdicts.count(None)
    c = limits.contract
    print(
        f"{accepted} accepted, {len(verdicts) - accepted} quarantined "
        f"(contract {c.name} v{c.version}, {c.source})",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platform", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in ("up", "down"):
        p = sub.add_parser(cmd)
        p.add_argument("services", nargs="*")
    sub.add_parser("pipeline")
    sub.add_parser("demo")
    sub.add_parser("status")
    sub.add_parser("config")
    sub.add_parser("test").add_argument("pytest_args", nargs=argparse.REMAINDER)
    sub.add_parser(
        "check-events", help="validate JSON lines (a file, or - for stdin) against the event contract"
    ).add_argument("source", help="file of JSON lines, or - for stdin")
    args = parser.parse_args(argv)
    try:
        settings = config.load()
        if args.command == "up":
            up(settings, _selected(args.services, settings))
        elif args.command == "down":
            # Every known service by default: one started under another configuration stops too.
            down(settings, _selected(args.services, settings) if args.services else list(SERVICES))
        elif args.command in ("pipeline", "demo"):
            from streaming_platform.runtime import pipeline  # imports the ES client: only when needed

            try:
                pipeline.run(settings, demo=args.command == "demo")
            except pipeline.PipelineError as exc:
                print(f"ERROR: {exc}", file=sys.stderr, flush=True)
                return 1
        elif args.command == "status":
            return status(settings)
        elif args.command == "config":
            show_config(settings)
        elif args.command == "test":
            return run_tests(settings, args.pytest_args)
        elif args.command == "check-events":
            return check_events(settings, args.source)
    except (ServiceError, config.ConfigError, ContractError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
