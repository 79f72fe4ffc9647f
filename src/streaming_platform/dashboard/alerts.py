"""Open alerts and their history, derived from Airflow's own records (no store of our own).

An alert is a failed run of an alerting DAG (``pipeline_health``, ``data_quality``). It is
**open** while no later run of that DAG has succeeded, and **resolved** by the first later run
that did. The open alert of a DAG is the streak of failed runs since its last success.
"""

from __future__ import annotations

import asyncio
from typing import Any

from streaming_platform.airflow_api import ALERT_CONNECTIONS, ALERT_DAGS, AirflowClient, AirflowError

HISTORY_RUNS = 25  # runs per DAG looked at


def _finished(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("state") in ("success", "failed")]


def history(dag_id: str, runs: list[dict[str, Any]], run_url: Any) -> list[dict[str, Any]]:
    """Every failed run among ``runs`` (newest first), open or resolved by a later success."""
    alerts: list[dict[str, Any]] = []
    resolved_by: dict[str, Any] | None = None  # the oldest success newer than the run at hand
    for run in _finished(runs):  # newest first
        if run["state"] == "success":
            resolved_by = run
            continue
        alerts.append(
            {
                "dag_id": dag_id,
                "run_id": run["dag_run_id"],
                "failed_at": run.get("end_date") or run.get("start_date"),
                "state": "resolved" if resolved_by else "open",
                "resolved_at": resolved_by.get("end_date") if resolved_by else None,
                "resolved_by": resolved_by["dag_run_id"] if resolved_by else None,
                "url": run_url(dag_id, run["dag_run_id"]),
            }
        )
    return alerts


def open_alert(dag_id: str, alerts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The DAG's current failing streak: newest failed run, since when, how many runs."""
    streak = [a for a in alerts if a["state"] == "open"]
    if not streak:
        return None
    return {**streak[0], "since": streak[-1]["failed_at"], "failed_runs": len(streak)}


async def collect(client: AirflowClient) -> dict[str, Any]:
    """``{"open", "history", "channels", "error"}``; Airflow down is said in ``error``."""
    try:
        answers = await asyncio.gather(*(client.runs(d, HISTORY_RUNS) for d in ALERT_DAGS))
        channels = dict(
            zip(
                ALERT_CONNECTIONS,
                await asyncio.gather(*(client.has_connection(c) for c in ALERT_CONNECTIONS.values())),
                strict=True,
            )
        )
    except AirflowError as exc:
        return {"open": [], "history": [], "channels": {}, "error": str(exc)}
    past, current = [], []
    for dag_id, runs in zip(ALERT_DAGS, answers, strict=True):
        alerts = history(dag_id, runs, client.run_url)
        past += alerts
        now = open_alert(dag_id, alerts)
        if now is not None:
            now["failed_tasks"] = await client.failed_tasks(dag_id, now["run_id"])
            current.append(now)
    past.sort(key=lambda a: a["failed_at"] or "", reverse=True)
    return {"open": current, "history": past, "channels": channels, "error": None}
