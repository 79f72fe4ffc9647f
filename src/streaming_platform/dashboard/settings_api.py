"""Configuration edits from the dashboard: validate, save to overrides.json, audit, plan the DAGs.

Edits are all-or-nothing: one invalid value rejects the whole change and nothing is written.
Every editable option is bounded by its validator (``config.py``); here, on top, a value that
Kafka could not apply is refused (fewer partitions than now).
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
from streaming_platform.airflow_api import PLATFORM_DAGS

# Options whose value may only grow: Kafka cannot take a partition away, so a smaller value would
# be saved, shown as the configuration, and never be true.
ONLY_GROW = ("kafka.topic.partitions",)


def _current(home: Path | None) -> config.Settings:
    if home is None:
        return config.load()
    return config.load(overrides=config.read_overrides(config.overrides_path(home)))


def _shrink_error(name: str, new: Any, before: config.Settings) -> str | None:
    if name in ONLY_GROW and new < before[name]:
        return f"{name} can only grow (Kafka cannot remove a partition): it is {before[name]}, not {new}"
    return None


def field_errors(changes: dict[str, Any], home: Path | None = None) -> dict[str, str]:
    """option name -> error message, for every invalid, non-editable or shrinking change."""
    errors: dict[str, str] = {}
    before: config.Settings | None = None
    for name, raw in changes.items():
        try:
            parsed = config.validate_overrides({name: raw})[name]
        except config.ConfigError as exc:
            errors[name] = str(exc)
            continue
        if name in ONLY_GROW:
            before = before or _current(home)
            if (error := _shrink_error(name, parsed, before)) is not None:
                errors[name] = error
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
    shrinking = [e for n, v in parsed.items() if (e := _shrink_error(n, v, before)) is not None]
    if shrinking:
        raise config.ConfigError("; ".join(shrinking))
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
