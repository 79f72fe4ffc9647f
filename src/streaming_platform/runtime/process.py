"""Start, watch and stop the embedded services as plain OS processes.

Each service is a :class:`ServiceSpec`: a command, its environment, the ports it must find free,
and a health probe. :func:`start` launches it detached (own session, so a Ctrl-C of ``make up``
does not take it down), records its PID under ``$PLATFORM_HOME/run`` and waits for health with
a deadline; :func:`stop` signals exactly that PID's process group. Logs go to
``$PLATFORM_HOME/logs/<service>.log``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from streaming_platform.progress import say


class ServiceError(RuntimeError):
    """A service could not be started or stopped; the message says which and where to look."""


@dataclass
class ServiceSpec:
    name: str
    command: list[str]
    ports: list[int]
    health: Callable[[], bool]
    # What `start` waits for before the next service, when not health (nodes that are healthy
    # only together, e.g. a quorum); `status` always asks health.
    started: Callable[[], bool] | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    timeout_s: float = 120.0
    prepare: Callable[[], None] | None = None  # one-off setup before the first start
    user: int | None = None  # run as this uid (services that refuse root)
    stop_timeout_s: float = 30.0


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        return False


def read_pid(paths: Paths, name: str) -> int | None:
    """The recorded PID if that process still runs; a stale PID file is removed."""
    pid_file = paths.pid_file(name)
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if pid_alive(pid):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log file at {path})"
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 64_000))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def _wait_healthy(spec: ServiceSpec, proc: subprocess.Popen, log: Path) -> float:
    started = time.monotonic()
    next_note = started + 10
    while True:
        elapsed = time.monotonic() - started
        if proc.poll() is not None:
            raise ServiceError(
                f"{spec.name} exited with code {proc.returncode} before becoming healthy. "
                f"Log: {log}\n--- last lines of {log.name} ---\n{log_tail(log)}"
            )
        try:
            if (spec.started or spec.health)():
                return elapsed
        except Exception:  # noqa: BLE001 - any probe failure just means "not yet"
            pass
        if elapsed > spec.timeout_s:
            raise ServiceError(
                f"{spec.name} did not become healthy within {spec.timeout_s:.0f} s. "
                f"Log: {log}\n--- last lines of {log.name} ---\n{log_tail(log)}"
            )
        if time.monotonic() >= next_note:
            say(f"  … waiting for {spec.name} ({elapsed:.0f}s / {spec.timeout_s:.0f}s)")
            next_note += 10
        time.sleep(0.5)


def start(spec: ServiceSpec, paths: Paths, host: str = "127.0.0.1") -> int:
    """Start ``spec`` unless it already runs; wait until healthy. Returns its PID."""
    paths.run.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    running = read_pid(paths, spec.name)
    if running is not None:
        say(f"✓ {spec.name} already running (pid {running})")
        return running
    for port in spec.ports:
        if port_in_use(host, port):
            raise ServiceError(
                f"{spec.name} cannot start: port {port} on {host} is already in use by another "
                f"process. Stop it (e.g. `ss -ltnp 'sport = :{port}'` shows which) or change "
                f"the port in the environment (see `platform config`)."
            )
    if spec.prepare is not None:
        spec.prepare()
    log = paths.log_file(spec.name)
    say(f"→ starting {spec.name} (log: {log})")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            spec.command,
            cwd=spec.cwd,
            env={**os.environ, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=spec.user,
            group=spec.user,
        )
    paths.pid_file(spec.name).write_text(str(proc.pid))
    try:
        took = _wait_healthy(spec, proc, log)
    except ServiceError:
        _terminate(proc.pid, spec.stop_timeout_s)
        paths.pid_file(spec.name).unlink(missing_ok=True)
        raise
    say(f"✓ {spec.name} healthy in {took:.1f}s (pid {proc.pid})")
    return proc.pid


def _terminate(pid: int, timeout_s: float) -> bool:
    """SIGTERM the process group, then SIGKILL it after ``timeout_s``. True if it stopped."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return True
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def request_stop(spec_name: str, paths: Paths) -> None:
    """SIGTERM the service's process group without waiting (nodes that must stop together)."""
    pid = read_pid(paths, spec_name)
    if pid is not None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def stop(spec_name: str, paths: Paths, timeout_s: float = 30.0) -> bool:
    """Stop the service recorded under ``spec_name``; returns False if it was not running."""
    pid = read_pid(paths, spec_name)
    if pid is None:
        return False
    say(f"→ stopping {spec_name} (pid {pid})")
    graceful = _terminate(pid, timeout_s)
    paths.pid_file(spec_name).unlink(missing_ok=True)
    say(f"✓ {spec_name} stopped" + ("" if graceful else " (killed after timeout)"))
    return True


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (a JVM and its helpers, Spark's workers)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass  # exited while we looked
    return total
