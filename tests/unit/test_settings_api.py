"""Dashboard configuration edits: bounded by the options, and refused when Kafka could not apply them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streaming_platform import config
from streaming_platform.dashboard import settings_api


def saved(home: Path) -> dict:
    path = config.overrides_path(home)
    return json.loads(path.read_text()) if path.exists() else {}


def test_partitions_only_grow(tmp_path: Path) -> None:
    settings_api.save(tmp_path, {"kafka.topic.partitions": 6}, "t", None)
    assert settings_api.field_errors({"kafka.topic.partitions": 8}, tmp_path) == {}
    errors = settings_api.field_errors({"kafka.topic.partitions": 4}, tmp_path)
    assert (
        "can only grow" in errors["kafka.topic.partitions"] and "it is 6" in errors["kafka.topic.partitions"]
    )
    with pytest.raises(config.ConfigError, match="can only grow"):
        settings_api.save(tmp_path, {"kafka.topic.partitions": 4, "spark.watermark": "5 minutes"}, "t", None)
    assert saved(tmp_path) == {"kafka.topic.partitions": 6}  # all or nothing
    settings_api.save(tmp_path, {"kafka.topic.partitions": 6}, "t", None)  # unchanged is fine


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("kafka.topic.retention.ms", 1),
        ("kafka.topic.retention.ms", 60_000),
        ("kafka.topic.retention.bytes", 1024),
    ],
)
def test_tiny_retention_is_refused(tmp_path: Path, name: str, value: int) -> None:
    assert "between" in settings_api.field_errors({name: value}, tmp_path)[name]
    with pytest.raises(config.ConfigError):
        settings_api.save(tmp_path, {name: value}, "t", None)
    assert saved(tmp_path) == {}
