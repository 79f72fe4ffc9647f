"""The app-liveness check: its judgement of the Spark UI's answers, and the probe's patience with
a UI whose REST API answers its first request late (a local HTTP server stands in for it)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from streaming_platform import health
from streaming_platform.streaming import APP_NAME

UI = "http://127.0.0.1:4040"
RUNNING = {"id": "local-1", "name": APP_NAME, "attempts": [{"completed": False}]}
COMPLETED = {"id": "local-0", "name": APP_NAME, "attempts": [{"completed": True}]}


def test_a_ui_listing_the_running_app_is_alive() -> None:
    answers = {UI: [COMPLETED, {"name": "other", "attempts": [{}]}], "http://127.0.0.1:4041": [RUNNING]}
    check = health.judge_app_liveness(answers, waiting="waiting for Elasticsearch since 12:03:10")

    assert check.ok and check.value == 1 and check.name == health.APP_LIVENESS
    assert "local-1, UI http://127.0.0.1:4041" in check.message
    assert check.message.endswith("waiting for Elasticsearch since 12:03:10")


def test_no_ui_listing_it_is_not_running() -> None:
    answers = {UI: [COMPLETED], "http://127.0.0.1:4041": None, "http://127.0.0.1:4042": []}
    check = health.judge_app_liveness(answers)

    assert not check.ok and check.value == 0
    assert check.message.startswith(
        f"{APP_NAME} is not running: no Spark UI listing it on 127.0.0.1:4040-4042"
    )


def test_a_silent_ui_is_unknown_not_stopped() -> None:
    # The streaming_app_stop sensor must not take a UI that has not answered yet for a stopped app.
    answers = {UI: health.NO_ANSWER, "http://127.0.0.1:4041": None}
    check = health.judge_app_liveness(answers, wait_s=20)

    assert not check.ok and check.value is None
    assert "http://127.0.0.1:4040 accepted the connection but gave no answer in 20s" in check.message


class _SlowUi(BaseHTTPRequestHandler):
    delay_s = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay_s)
        body = json.dumps([RUNNING]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_ui() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowUi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_probe_waits_for_a_late_first_answer(slow_ui: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_SlowUi, "delay_s", 1.5)

    assert health._ui_applications(slow_ui, time.monotonic() + 5) == [RUNNING]
    assert health._ui_applications(slow_ui, time.monotonic() + 0.5) == health.NO_ANSWER


def test_the_probe_does_not_wait_where_nothing_listens() -> None:
    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()

    assert health._ui_applications(f"http://127.0.0.1:{port}", started + 10) is None
    assert time.monotonic() - started < 2
