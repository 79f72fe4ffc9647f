"""The platform's one client of Airflow's REST API v2: token auth, DAGs, DAG runs, triggering,
failed task instances and connections (the dashboard's alerts).

Async (httpx): the dashboard polls it from its event loop; the CLI (``platform up``) and the
service's health probe run it through :func:`call`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from streaming_platform.config import Settings
from streaming_platform.runtime.airflow import admin_credentials

# The platform's DAGs, in the order the dashboard shows them.
PLATFORM_DAGS = ("platform_setup", "streaming_app", "demo_load", "pipeline_health", "data_quality")
# The DAGs whose failures alert, and the Airflow connection that switches each channel on.
ALERT_DAGS = ("pipeline_health", "data_quality")
ALERT_CONNECTIONS = {"e-mail": "platform_alerts_smtp", "webhook": "platform_alerts_webhook"}
TOKEN_TTL_S = 600.0
T = TypeVar("T")


class AirflowError(RuntimeError):
    """Airflow could not be reached or refused a request; the message says which and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status Airflow answered, None if it did not answer


class AirflowClient:
    def __init__(self, settings: Settings, timeout_s: float = 5.0):
        self.settings = settings
        self.base = settings["airflow.url"].rstrip("/")
        self.timeout_s = timeout_s
        self._token: tuple[str, float] | None = None
        # One connection pool for every call (the monitor polls Airflow every few seconds).
        self._client: httpx.AsyncClient | None = None

    def run_url(self, dag_id: str, run_id: str | None = None) -> str:
        url = f"{self.base}/dags/{quote(dag_id)}"
        return f"{url}/runs/{quote(run_id, safe='')}" if run_id else url

    async def _fetch_token(self, client: httpx.AsyncClient) -> str:
        try:
            user, password = admin_credentials(self.settings)
        except RuntimeError as exc:
            raise AirflowError(str(exc)) from None
        resp = await client.post(f"{self.base}/auth/token", json={"username": user, "password": password})
        if resp.status_code >= 400:
            raise AirflowError(f"Airflow refused a token for {user!r}: HTTP {resp.status_code}")
        return str(resp.json()["access_token"])

    async def _token_for(self, client: httpx.AsyncClient, fresh: bool = False) -> str:
        if fresh or self._token is None or time.monotonic() - self._token[1] > TOKEN_TTL_S:
            self._token = (await self._fetch_token(client), time.monotonic())
        return self._token[0]

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return await self._request(method, path, body)
        except AirflowError:
            await self.health()  # Airflow down: say that, not a consequence of it (e.g. no password yet)
            raise

    async def _request(self, method: str, path: str, body: Any) -> Any:
        async def authorised(client: httpx.AsyncClient) -> httpx.Response:
            for attempt in range(2):
                token = await self._token_for(client, fresh=attempt > 0)
                resp = await client.request(
                    method, self.base + path, json=body, headers={"Authorization": f"Bearer {token}"}
                )
                if resp.status_code != 401:
                    break
            return resp

        resp = await self._send(authorised)
        if resp.status_code >= 400:
            raise AirflowError(
                f"Airflow {method} {path}: HTTP {resp.status_code} {resp.text[:300]}", resp.status_code
            )
        return resp.json() if resp.content else None

    async def health(self) -> dict[str, Any]:
        resp = await self._send(lambda client: client.get(f"{self.base}/api/v2/monitor/health"))
        if resp.status_code >= 400:
            raise AirflowError(f"Airflow health: HTTP {resp.status_code}", resp.status_code)
        return dict(resp.json())

    async def _send(self, call: Any) -> httpx.Response:
        """``await call(client)``; no answer becomes an AirflowError in words."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s)
        try:
            return await call(self._client)
        except httpx.HTTPError as exc:
            await self.aclose()  # the next call starts from fresh connections
            raise AirflowError(
                f"Airflow at {self.base} unreachable: {exc.__class__.__name__} {exc}"
            ) from None

    async def aclose(self) -> None:
        """Close the connections (the dashboard's shutdown; a later call opens new ones)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG as Airflow knows it; None while the DAG processor has not parsed it yet."""
        try:
            return await self.request("GET", f"/api/v2/dags/{quote(dag_id)}")
        except AirflowError as exc:
            if exc.status == 404:
                return None
            raise

    async def get_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id, safe='')}")

    async def latest_run(self, dag_id: str) -> dict[str, Any] | None:
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns?order_by=-run_after&limit=1"
        try:
            answer = await self.request("GET", path)
        except AirflowError as exc:
            if exc.status == 404:
                return {"dag_id": dag_id, "state": "missing", "run_id": None}
            raise
        runs = answer.get("dag_runs") or []
        return runs[0] if runs else None

    async def runs(self, dag_id: str, limit: int = 25) -> list[dict[str, Any]]:
        """The DAG's newest runs, newest first (none while the DAG is not parsed yet)."""
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns?order_by=-run_after&limit={limit}"
        try:
            return list((await self.request("GET", path)).get("dag_runs") or [])
        except AirflowError as exc:
            if exc.status == 404:
                return []
            raise

    async def failed_tasks(self, dag_id: str, run_id: str) -> list[str]:
        """Task ids of the run's failed task instances."""
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id, safe='')}/taskInstances?state=failed"
        answer = await self.request("GET", path)
        return [ti["task_id"] for ti in answer.get("task_instances") or []]

    async def has_connection(self, conn_id: str) -> bool:
        try:
            await self.request("GET", f"/api/v2/connections/{quote(conn_id)}")
        except AirflowError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def trigger(self, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        run = await self.request(
            "POST", f"/api/v2/dags/{quote(dag_id)}/dagRuns", {"logical_date": None, "conf": conf}
        )
        return {
            "dag_id": dag_id,
            "run_id": run.get("dag_run_id"),
            "state": run.get("state"),
            "url": self.run_url(dag_id, run.get("dag_run_id")),
        }


def call(settings: Settings, use: Callable[[AirflowClient], Awaitable[T]], timeout_s: float = 5.0) -> T:
    """``use(client)`` on a fresh client from synchronous code, its connections closed after."""

    async def run() -> T:
        client = AirflowClient(settings, timeout_s)
        try:
            return await use(client)
        finally:
            await client.aclose()

    return asyncio.run(run())
