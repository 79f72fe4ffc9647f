"""pipeline_health's free-disk check reads the real node's file systems and the state folder."""

from __future__ import annotations

import os

import pytest

from streaming_platform import config
from streaming_platform.clients import es_client
from streaming_platform.health import free_disk

pytestmark = pytest.mark.integration


def _check(es_up: config.Settings, percent: float):
    env = {**os.environ, "PLATFORM_HEALTH_MIN_FREE_DISK_PERCENT": str(percent)}
    settings = config.load(env=env)
    return free_disk(es_client(es_up), settings)


def test_free_disk_passes_above_the_limit_and_fails_below_it_naming_where(es_up: config.Settings) -> None:
    ok = _check(es_up, 0)
    assert ok.ok and 0 < ok.value <= 100
    full = _check(es_up, 100)
    assert not full.ok and "% free on the" in full.message and "limit 100 %" in full.message
