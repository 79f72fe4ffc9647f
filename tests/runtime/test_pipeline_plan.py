"""What ``platform pipeline`` triggers given the latest run of each DAG (no services needed)."""

from __future__ import annotations

import pytest

from streaming_platform.runtime.pipeline import Plan, _run_id, plan

NOTHING = Plan(trigger_setup=False, wait_setup=False, trigger_stream=False)


@pytest.mark.parametrize("setup", [None, "success", "failed", "queued", "running"])
@pytest.mark.parametrize("stream", ["queued", "running"])
def test_a_stream_in_flight_is_left_alone(setup: str | None, stream: str) -> None:
    assert plan(setup, stream) == NOTHING
    assert plan(setup, stream).nothing_to_do


@pytest.mark.parametrize("stream", [None, "success", "failed", "missing"])
def test_a_fresh_platform_is_set_up_then_streamed(stream: str | None) -> None:
    assert plan(None, stream) == Plan(trigger_setup=True, wait_setup=True, trigger_stream=True)


@pytest.mark.parametrize("stream", [None, "success", "failed"])
def test_a_succeeded_setup_is_not_rerun(stream: str | None) -> None:
    assert plan("success", stream) == Plan(trigger_setup=False, wait_setup=False, trigger_stream=True)


@pytest.mark.parametrize("setup", ["queued", "running"])
def test_a_setup_in_flight_is_awaited_not_triggered_again(setup: str) -> None:
    assert plan(setup, None) == Plan(trigger_setup=False, wait_setup=True, trigger_stream=True)


def test_a_failed_setup_is_retried() -> None:
    assert plan("failed", "failed") == Plan(trigger_setup=True, wait_setup=True, trigger_stream=True)


def test_run_id_from_a_trigger_or_a_listed_run() -> None:
    assert _run_id({"run_id": "manual__1"}) == "manual__1"
    assert _run_id({"dag_run_id": "manual__2", "state": "running"}) == "manual__2"
