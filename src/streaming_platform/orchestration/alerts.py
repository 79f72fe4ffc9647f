"""Failure alerts of the monitoring DAGs (``pipeline_health``, ``data_quality``) through Airflow notifiers.

Off by default; each channel is switched on by creating its Airflow connection:

* ``platform_alerts_smtp`` (type ``smtp``): e-mail through the SMTP provider's ``SmtpNotifier``.
  Host, port, login and password as usual; ``extra``: ``{"to": "ops@example.com, other@example.com",
  "from_email": "airflow@example.com"}`` plus the provider's own keys (``disable_tls``,
  ``disable_ssl``, ``timeout``, ...).
* ``platform_alerts_webhook`` (type ``http``): a JSON ``POST`` (:class:`WebhookNotifier`) to
  ``<schema>://<host>:<port><extra.endpoint>`` with the DAG, run, task, error and log URL; a
  password, if set, is sent as ``Authorization: Bearer <password>``.

:data:`on_failure` is the tasks' ``on_failure_callback``; it runs in the failed task's process, so
what it sent, or that no connection is configured, is in that task's log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from airflow.sdk import BaseHook, BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException

from streaming_platform.airflow_api import ALERT_CONNECTIONS

SMTP_CONN_ID = ALERT_CONNECTIONS["e-mail"]
WEBHOOK_CONN_ID = ALERT_CONNECTIONS["webhook"]
WEBHOOK_TIMEOUT_S = 10.0
SUBJECT = "[platform] {{ ti.dag_id }}.{{ ti.task_id }} failed (run {{ ti.run_id }})"
HTML = (
    "<p>Task <b>{{ ti.task_id }}</b> of DAG <b>{{ ti.dag_id }}</b> failed "
    "(run {{ ti.run_id }}, try {{ ti.try_number }}).</p>"
    "<p>{{ exception | e }}</p>"
    '<p>Log: <a href="{{ ti.log_url }}">{{ ti.log_url }}</a></p>'
)


def failure_payload(context: Any) -> dict[str, Any]:
    """What the webhook posts: who failed, when, why, and where the log is."""
    ti = context["ti"]
    return {
        "event": "task_failed",
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": ti.run_id,
        "try_number": ti.try_number,
        "logical_date": str(context.get("logical_date") or ""),
        "error": str(context.get("exception") or "")[:4000],
        "log_url": getattr(ti, "log_url", None),
    }


def webhook_url(conn: Any) -> str:
    scheme = conn.schema or "http"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{conn.host}{port}{conn.extra_dejson.get('endpoint', '')}"


class WebhookNotifier(BaseNotifier):
    """POST :func:`failure_payload` as JSON to the URL of an ``http`` connection."""

    template_fields = ("http_conn_id",)

    def __init__(self, http_conn_id: str = WEBHOOK_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.http_conn_id = http_conn_id

    def notify(self, context: Any) -> None:
        conn = BaseHook.get_connection(self.http_conn_id)
        headers = {"Content-Type": "application/json"}
        if conn.password:
            headers["Authorization"] = f"Bearer {conn.password}"
        url = webhook_url(conn)
        body = json.dumps(failure_payload(context), default=str)
        resp = httpx.post(url, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S)
        resp.raise_for_status()  # a refused alert shows in the task log, not silently
        self.log.info(
            "alert posted to the webhook of connection %r: HTTP %s", self.http_conn_id, resp.status_code
        )


def smtp_notifier(conn: Any) -> BaseNotifier:
    """The SMTP provider's notifier, recipients from the connection's ``extra.to``."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    to = [a.strip() for a in str(conn.extra_dejson.get("to", "")).split(",") if a.strip()]
    if not to:
        raise ValueError(f"connection {SMTP_CONN_ID!r} has no recipients: set extra.to")
    return SmtpNotifier(to=to, smtp_conn_id=SMTP_CONN_ID, subject=SUBJECT, html_content=HTML)


# channel -> (connection id, the notifier for that connection)
CHANNELS: dict[str, tuple[str, Callable[[Any], BaseNotifier]]] = {
    "e-mail": (SMTP_CONN_ID, smtp_notifier),
    "webhook": (WEBHOOK_CONN_ID, lambda _conn: WebhookNotifier()),
}


def configured(conn_id: str) -> Any | None:
    """The connection, or None when it does not exist (the channel is off)."""
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


class FailureAlerts(BaseNotifier):
    """Every configured channel's notifier; each channel without a connection is said to be off."""

    def notify(self, context: Any) -> None:
        for channel, (conn_id, make) in CHANNELS.items():
            conn = configured(conn_id)
            if conn is None:
                self.log.info(
                    "alerts: no %s sent: Airflow connection %r is not configured (create it to be notified)",
                    channel,
                    conn_id,
                )
                continue
            try:
                make(conn)(context)  # a notifier renders its templates, then notifies
                self.log.info("alerts: %s sent through connection %r", channel, conn_id)
            except Exception as exc:  # noqa: BLE001 - one broken channel must not stop the others
                self.log.error("alerts: %s through connection %r failed: %s", channel, conn_id, exc)


on_failure = FailureAlerts()
