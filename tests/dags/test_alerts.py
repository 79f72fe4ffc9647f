"""Failure alerts: a real ``pipeline_health`` run fails and its notifiers reach a local SMTP server
(aiosmtpd) and a local HTTP receiver, configured as Airflow connections (``AIRFLOW_CONN_*``).

The run fails for real: this test's topics do not exist yet, so the consumer-lag check cannot
find the events topic and the app liveness check finds no app.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from streaming_platform import config
from streaming_platform.orchestration import alerts
from tests.dags.conftest import load_dag

HOST = "127.0.0.1"
SMTP_PORT = int(os.environ.get("PLATFORM_TEST_SMTP_PORT", "13025"))
WEBHOOK_PORT = int(os.environ.get("PLATFORM_TEST_WEBHOOK_PORT", "13026"))


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname=HOST, port=SMTP_PORT)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), **json.loads(body)}
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, WEBHOOK_PORT), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()


@pytest.fixture
def alert_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both channels on, as a user would configure them (Airflow's AIRFLOW_CONN_<ID> variables)."""
    smtp = {
        "conn_type": "smtp",
        "host": HOST,
        "port": SMTP_PORT,
        "extra": {
            "to": "ops@example.com, oncall@example.com",
            "from_email": "airflow@example.com",
            "disable_ssl": True,
            "disable_tls": True,
        },
    }
    hook = {
        "conn_type": "http",
        "host": HOST,
        "port": WEBHOOK_PORT,
        "schema": "http",
        "password": "s3cret",
        "extra": {"endpoint": "/alerts"},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{alerts.SMTP_CONN_ID.upper()}", json.dumps(smtp))
    monkeypatch.setenv(f"AIRFLOW_CONN_{alerts.WEBHOOK_CONN_ID.upper()}", json.dumps(hook))


def _wait(condition: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return bool(condition())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def test_failed_health_run_sends_mail_and_webhook(
    fresh_platform: config.Settings,
    smtp_server: Inbox,
    webhook_receiver: list[dict[str, Any]],
    alert_connections: None,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The app's UI on a port nothing listens on: no app another test left running counts as live.
    monkeypatch.setenv(config.option("spark.ui.port").env, str(_free_port()))
    run = load_dag("pipeline_health").test()
    log = capfd.readouterr().out

    assert run.state == "failed", log[-3000:]
    assert _wait(lambda: smtp_server.messages and webhook_receiver), log[-3000:]
    [(sender, recipients, raw)] = smtp_server.messages
    mail = message_from_bytes(raw)
    assert sender == "airflow@example.com"
    assert recipients == ["ops@example.com", "oncall@example.com"]
    assert "pipeline_health.check_pipeline failed" in mail["Subject"]
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
    assert b"health checks failed" in html and b"app liveness" in html
    [hook] = webhook_receiver
    assert hook["path"] == "/alerts" and hook["auth"] == "Bearer s3cret"
    assert (hook["dag_id"], hook["task_id"], hook["run_id"]) == (
        "pipeline_health",
        "check_pipeline",
        run.run_id,
    )
    assert "app liveness" in hook["error"]
    assert "alerts: e-mail sent" in log and "alerts: webhook sent" in log


class _Ti:
    dag_id, task_id, run_id, try_number, log_url = "pipeline_health", "check_pipeline", "manual__1", 1, ""


def test_nothing_is_sent_without_connections(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    for conn_id in (alerts.SMTP_CONN_ID, alerts.WEBHOOK_CONN_ID):
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
    built: list[str] = []
    recording = {
        channel: (conn_id, lambda conn, make=make, channel=channel: built.append(channel) or make(conn))
        for channel, (conn_id, make) in alerts.CHANNELS.items()
    }
    monkeypatch.setattr(alerts, "CHANNELS", recording)

    alerts.on_failure.notify({"ti": _Ti(), "exception": RuntimeError("1 of 6 health checks failed")})

    assert built == []  # no notifier was even made, so nothing was sent
    said = capfd.readouterr().out  # Airflow's structlog writes the task log to stdout
    assert f"no e-mail sent: Airflow connection {alerts.SMTP_CONN_ID!r} is not configured" in said
    assert f"no webhook sent: Airflow connection {alerts.WEBHOOK_CONN_ID!r} is not configured" in said
