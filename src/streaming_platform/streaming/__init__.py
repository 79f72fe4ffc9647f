"""The Spark Structured Streaming app: Kafka customer events → Elasticsearch analytics, exactly once.

Layout (each module small and testable on its own):

- :mod:`.app`       — the query (:func:`.app.build_query`: source → parse/validate → watermark →
  state by customer → state by window → sink), its lifecycle (bounded, graceful stop) and runtime
  metrics.
- :mod:`.submit`    — its ``spark-submit`` command, Spark conf and environment (no pyspark import).
- :mod:`.parse`     — runs in the Spark Python workers: parse + validate every Kafka record
  (Arrow fast path + :mod:`streaming_platform.validation`), write invalid ones to the quarantine
  (ES index + dead-letter topic), return the valid events.
- ``jvm/state``     — the stateful steps (Java ``transformWithState`` processors): per customer
  its summary, event-id dedup and windows seen; per window × category its totals.
- :mod:`.documents` — runs in the executors: each batch's state output as whole documents by id.
- :mod:`.sink`      — Elasticsearch bulk writes and the quarantine, with retries through outages.

What the app's launchers and monitors need, kept here so they do not import pyspark:
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from streaming_platform.config import REPO_ROOT, Settings

APP_NAME = "customer-events-stream"  # Spark app name: what Airflow, health checks and the UI look for
ENTRY_POINT = REPO_ROOT / "spark_apps" / "customer_events_stream.py"
STOP_FILE = "STOP"  # in the app's checkpoint folder
STATUS_FILE = "status.json"  # what the running app waits for (an outage), in the same folder


LIVE_VERSION_FILE = "live-version"  # in spark.checkpoint.dir: the version the live app runs


def app_checkpoint(settings: Settings, version: int | None = None) -> Path:
    """The checkpoint folder (Spark's offsets, commits and state) of a version of the app's
    results (:mod:`streaming_platform.es_indices`); default: the live one."""
    version = live_version(settings) if version is None else version
    return settings.checkpoint_dir / (APP_NAME if version <= 1 else f"{APP_NAME}-v{version}")


def live_version(settings: Settings) -> int:
    """The version the live app runs (the aliases' one), as the last switch recorded it."""
    try:
        return int((settings.checkpoint_dir / LIVE_VERSION_FILE).read_text())
    except (OSError, ValueError):
        return 1  # none recorded: version 1, or the unversioned indices (same checkpoint)


def record_live_version(settings: Settings, version: int) -> None:
    settings.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.checkpoint_dir / f".{LIVE_VERSION_FILE}.tmp"
    tmp.write_text(f"{version}\n")
    os.replace(tmp, settings.checkpoint_dir / LIVE_VERSION_FILE)


def stop_file(settings: Settings) -> Path:
    """Touching it makes the running app finish the micro-batch in flight and exit 0."""
    return app_checkpoint(settings) / STOP_FILE


def write_status(checkpoint: Path, status: dict[str, Any]) -> None:
    tmp = checkpoint / f".{STATUS_FILE}.tmp"
    tmp.write_text(json.dumps({**status, "updated_at": time.time()}))
    os.replace(tmp, checkpoint / STATUS_FILE)


def read_status(checkpoint: Path) -> dict[str, Any]:
    """What the running app last said it waits for (``waiting_for`` empty: nothing)."""
    try:
        return json.loads((checkpoint / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}
