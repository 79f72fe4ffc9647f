"""Which version a reprocess writes, and how the app reads its start."""

from __future__ import annotations

import argparse

import pytest

from streaming_platform.orchestration.reprocess import app_args, next_version
from streaming_platform.streaming.app import start_timestamp_ms


@pytest.mark.parametrize(
    ("live", "known", "want"),
    [
        (None, [], 2),  # nothing yet: still never 1 (versions 0 and 1 share the first checkpoint)
        (0, [0], 2),  # the unversioned indices of an older platform
        (1, [1], 2),
        (2, [1, 2], 3),
        (1, [1, 3], 3),  # an unfinished reprocess above the live version is resumed
        (3, [1, 2, 3], 4),
    ],
)
def test_next_version(live, known, want):
    assert next_version(live, known) == want


def test_app_args_of_a_reprocess():
    assert app_args(4, "earliest") == ["--version", "4", "--from", "earliest", "--catch-up"]
    assert app_args(4, "earliest", "a.jsonl,b.jsonl")[-2:] == ["--backfill", "a.jsonl,b.jsonl"]


def test_start_timestamps():
    assert start_timestamp_ms("earliest") is None
    assert start_timestamp_ms("2024-01-15T10:30:00Z") == 1_705_314_600_000
    assert start_timestamp_ms("2024-01-15T10:30:00") == 1_705_314_600_000  # no zone: UTC
    with pytest.raises(argparse.ArgumentTypeError, match="not 'earliest' or an ISO 8601 time"):
        start_timestamp_ms("yesterday")
