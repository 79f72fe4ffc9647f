"""Configuration edits from the dashboard: validate, save to overrides.json, audit, plan the DAGs.

Edits are all-or-nothing: one invalid value rejects the whole change and nothing is written.
Saved values are merged into ``$PLATFORM_HOME/config/overrides.json`` (written atomically) and
each save appends one JSON line to ``$PLATFORM_HOME/config/audit.jsonl`` with who, when and
what (old and new values; secrets are never editable, so never logged).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from streaming_platform import config
from streaming_platform.dashboard.airflow_api import PLATFORM_DAGS


def field_errors(changes: dict[str, Any]) -> dict[str, str]:
    """option name -> error message, for every invalid or non-editable change."""
    errors: dict[str, str] = {}
    for name, raw in changes.items():
        try:
            config.validate_overrides({name: raw})
        except config.ConfigError as exc:
            errors[name] = str(exc)
    return errors


def dags_for(names: list[str]) -> list[str]:
    """The platform DAGs that apply changes of ``names`` (named in each option's ``applies``)."""
    wanted = {dag for name in names for dag in PLATFORM_DAGS if dag in config.option(name).applies}
    return [dag for dag in PLATFORM_DAGS if dag in wanted]


def describe(settings: config.Settings) -> list[dict[str, Any]]:
    rows = settings.describe()
    for row in rows:
        opt = config.option(row["name"])
        row["dags"] = dags_for([row["name"]]) if opt.editable else []
        # A value set in the environment wins over a saved one: saving would change nothing.
        row["shadowed"] = row["source"] == "environment"
    return rows


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save(home: Path, changes: dict[str, Any], who: str, source_ip: str | None) -> dict[str, Any]:
    """Validate and save ``changes``; returns the audit record. Raises ConfigError if invalid."""
    parsed = config.validate_overrides(changes)
    path = config.overrides_path(home)
    current = config.read_overrides(path)
    before = config.load(overrides=current)
    merged = {**current, **parsed}
    _write_atomic(path, json.dumps(merged, indent=2, sort_keys=True) + "\n")
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "who": who,
        "from": source_ip,
        "changes": {n: {"old": before[n], "new": v} for n, v in parsed.items()},
        "dags": dags_for(list(parsed)),
    }
    audit = audit_path(home)
    with audit.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    return record


def audit_path(home: Path) -> Path:
    return home / "config" / "audit.jsonl"


def read_audit(home: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` audit records, newest first (reads only the file's tail)."""
    path = audit_path(home)
    if not path.exists():
        return []
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - 256 * 1024))
        lines = fh.read().decode("utf-8", "replace").splitlines()
    records = []
    for line in reversed(lines[-limit:]):
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
