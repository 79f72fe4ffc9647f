"""Helpers of the streaming tests: one test's isolated pipeline and how to run/kill the app.

A module of its own (not conftest.py) so test modules can import it unambiguously.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streaming_platform import config
from streaming_platform.streaming.app import submit_command, submit_env


@dataclass
class Stream:
    """One test's isolated pipeline: settings, clients, and a way to run the app."""

    settings: config.Settings
    env: dict[str, str]
    es: Any
    admin: Any
    log_dir: Path

    def app(self, *args: str, name: str = "app", **overrides: str) -> subprocess.Popen:
        """Start the Spark app with spark-submit, in its own process group (for SIGKILL)."""
        settings = config.load(env={**self.env, **overrides}, overrides={})
        log = (self.log_dir / f"{name}.log").open("ab")
        return subprocess.Popen(
            submit_command(settings, list(args)),
            env={**os.environ, **self.env, **overrides, **submit_env(settings)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self, proc: subprocess.Popen, timeout: float = 600, name: str = "app") -> int:
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill(proc)
            pytest.fail(f"the app did not finish within {timeout:.0f}s\n{self.log_tail(name)}")

    def log_tail(self, name: str = "app", lines: int = 60) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return f"--- {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the app's whole process group (spark-submit JVM and the Python driver)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)
