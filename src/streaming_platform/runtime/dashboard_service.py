"""The pipeline dashboard as a supervised service (``platform up dashboard``)."""

from __future__ import annotations

import sys
import urllib.request

from streaming_platform.config import REPO_ROOT, Settings
from streaming_platform.runtime.process import ServiceSpec

NAME = "dashboard"


def url(settings: Settings) -> str:
    return f"http://{settings['bind.host']}:{settings['dashboard.port']}/pipeline"


def healthy(settings: Settings) -> bool:
    with urllib.request.urlopen(url(settings) + "/api/health", timeout=2) as resp:
        return resp.status == 200


def spec(settings: Settings) -> ServiceSpec:
    return ServiceSpec(
        name=NAME,
        command=[sys.executable, "-m", "streaming_platform.dashboard"],
        ports=[settings["dashboard.port"]],
        health=lambda: healthy(settings),
        env={"PLATFORM_HOME": str(settings.home), "PYTHONUNBUFFERED": "1"},
        cwd=REPO_ROOT,
        timeout_s=60,
        stop_timeout_s=10,
    )
