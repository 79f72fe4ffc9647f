"""The dashboard's HTTP API (under ``/pipeline/api``) and the built front end (at ``/pipeline``)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from streaming_platform import config, quality
from streaming_platform.airflow_api import PLATFORM_DAGS, AirflowError
from streaming_platform.config import REPO_ROOT, Settings, is_loopback
from streaming_platform.dashboard import alerts, logs, metrics, settings_api
from streaming_platform.dashboard.monitor import Monitor
from streaming_platform.runtime.process import Paths

API = "/pipeline/api"
DATA_DOCS = "/pipeline/data-docs"
DIST = REPO_ROOT / "dashboard" / "web" / "dist"
STREAM_EVERY_S = 2.0
QUERY_TIMEOUT_S = 10.0
log = logging.getLogger("streaming_platform.dashboard")


class ConfigChange(BaseModel):
    changes: dict[str, Any] = Field(description="option name -> new value")
    apply: bool = Field(default=False, description="trigger the DAGs that apply the change")
    who: str | None = Field(default=None, max_length=100, description="name recorded in the audit log")


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or config.load()
    paths = Paths(settings.home)
    monitor = Monitor(settings, paths)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        monitor.start()
        yield
        await monitor.stop()

    app = FastAPI(
        title="Pipeline dashboard",
        docs_url=f"{API}/docs",
        openapi_url=f"{API}/openapi.json",
        lifespan=lifespan,
    )
    app.state.monitor = monitor

    def require_token(request: Request) -> None:
        expected = settings["dashboard.token"]
        if not expected:
            raise HTTPException(
                403, "this needs the dashboard token: start the dashboard with PLATFORM_DASHBOARD_TOKEN set"
            )
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
            raise HTTPException(
                401,
                "a valid 'Authorization: Bearer <token>' header is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    # Logs, configuration and audit say a lot about the platform (hosts, users, what changed and
    # from where): beyond loopback they are for token holders only, like editing.
    private_reads = [] if is_loopback(settings["bind.host"]) else [Depends(require_token)]

    @app.get(f"{API}/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "time": time.time()}

    @app.get(f"{API}/status")
    async def get_status() -> dict[str, Any]:
        return monitor.snapshot()

    # FastAPI's own SSE: it pings an idle stream and ends the generator when the client leaves.
    @app.get(f"{API}/stream", response_class=EventSourceResponse)
    async def stream() -> AsyncIterator[ServerSentEvent]:
        while True:
            yield ServerSentEvent(event="snapshot", raw_data=json.dumps(monitor.snapshot(), default=str))
            await asyncio.sleep(STREAM_EVERY_S)

    @app.get(f"{API}/metrics")
    async def get_metrics(range: str = "15m") -> dict[str, Any]:
        try:
            metrics.range_spec(range)
        except metrics.MetricsError as exc:
            raise HTTPException(400, str(exc)) from None
        now_ms = int(time.time() * 1000)
        index = settings["es.index.runtime"]
        try:
            answer = await asyncio.wait_for(
                asyncio.to_thread(
                    metrics.runtime_series,
                    monitor.es.options(request_timeout=QUERY_TIMEOUT_S),
                    index,
                    range,
                    now_ms,
                ),
                QUERY_TIMEOUT_S + 1,
            )
        except Exception as exc:  # noqa: BLE001 - report Elasticsearch trouble in words
            raise HTTPException(503, f"runtime metrics unavailable from {index}: {exc}") from None
        since = now_ms / 1000 - metrics.RANGES[range][0]
        answer["lag_samples"] = monitor.lag_history(since)
        return answer

    @app.get(f"{API}/resources")
    async def get_resources(range: str = "15m") -> dict[str, Any]:
        try:
            span_s, _ = metrics.range_spec(range)
        except metrics.MetricsError as exc:
            raise HTTPException(400, str(exc)) from None
        series = monitor.sampler.series(time.time() - span_s)
        return {
            "range": range,
            "services": {n: [{**p, "t": p["t"] * 1000} for p in pts] for n, pts in series.items()},
        }

    @app.get(f"{API}/logs/services", dependencies=private_reads)
    async def log_services() -> dict[str, Any]:
        return {"services": logs.services(paths.logs), "levels": list(logs.LEVELS)}

    @app.get(f"{API}/logs", dependencies=private_reads)
    async def get_logs(
        service: str,
        before: int | None = Query(default=None, ge=0),
        after: int | None = Query(default=None, ge=0),
        limit: int = Query(default=200, ge=1, le=1000),
        level: str | None = None,
        q: str | None = Query(default=None, max_length=200),
    ) -> dict[str, Any]:
        try:
            path = logs.log_path(paths.logs, service)
            query = logs.Query(logs.normalise_level(level), q or None)
        except logs.LogError as exc:
            raise HTTPException(404 if "no log" in str(exc) else 400, str(exc)) from None
        if after is not None:
            page = await asyncio.to_thread(logs.read_forwards, path, after, limit, query)
        else:
            page = await asyncio.to_thread(logs.read_backwards, path, before, limit, query)
        return {"service": service, **page}

    @app.get(f"{API}/config", dependencies=private_reads)
    async def get_config() -> dict[str, Any]:
        current = config.load()
        return {
            "options": settings_api.describe(current),
            "editing": bool(settings["dashboard.token"]),
            "audit": settings_api.read_audit(paths.home),
            "overrides_path": str(config.overrides_path(paths.home)),
        }

    @app.post(f"{API}/config/validate", dependencies=private_reads)
    async def validate(change: ConfigChange) -> dict[str, Any]:
        errors = settings_api.field_errors(change.changes)
        return {
            "ok": not errors,
            "errors": errors,
            "dags": settings_api.dags_for(
                [n for n in change.changes if n not in errors and n in {o.name for o in config.OPTIONS}]
            ),
        }

    @app.put(f"{API}/config", dependencies=[Depends(require_token)])
    async def put_config(change: ConfigChange, request: Request) -> JSONResponse:
        if not change.changes:
            raise HTTPException(400, "no changes given")
        errors = settings_api.field_errors(change.changes)
        if errors:
            return JSONResponse({"saved": False, "errors": errors}, status_code=422)
        who = change.who or request.headers.get("x-platform-user") or "dashboard"
        record = settings_api.save(paths.home, change.changes, who, _client_ip(request))
        log.warning("config saved by %s from %s: %s", who, record["from"], record["changes"])
        applied = await _apply(record["dags"], record) if change.apply else []
        return JSONResponse({"saved": True, "record": record, "applied": applied})

    async def _apply(dags: list[str], record: dict[str, Any]) -> list[dict[str, Any]]:
        conf = {"reason": "dashboard config change", "who": record["who"], "changes": list(record["changes"])}
        results = []
        for dag_id in dags:
            try:
                results.append({"ok": True, **await monitor.airflow.trigger(dag_id, conf)})
            except AirflowError as exc:
                results.append({"ok": False, "dag_id": dag_id, "error": str(exc)})
        return results

    @app.post(f"{API}/dags/{{dag_id}}/trigger", dependencies=[Depends(require_token)])
    async def trigger(dag_id: str, request: Request) -> dict[str, Any]:
        if dag_id not in PLATFORM_DAGS:
            raise HTTPException(404, f"not a platform DAG: {dag_id}; one of {', '.join(PLATFORM_DAGS)}")
        who = request.headers.get("x-platform-user") or "dashboard"
        [result] = await _apply([dag_id], {"who": who, "changes": {}})
        if not result["ok"]:
            raise HTTPException(502, result["error"])
        return result

    @app.get(f"{API}/alerts")
    async def get_alerts() -> dict[str, Any]:
        answer = await alerts.collect(monitor.airflow)
        built = (quality.data_docs_dir(settings) / "index.html").exists()
        return {**answer, "data_docs": f"{DATA_DOCS}/index.html" if built else None}

    # GX Data Docs (built by data_quality under the state folder); they show sample values of
    # the data, so beyond loopback they are for token holders, like the logs.
    @app.get(f"{DATA_DOCS}/{{path:path}}", dependencies=private_reads)
    async def data_docs(path: str) -> FileResponse:
        root = quality.data_docs_dir(settings).resolve()
        target = (root / (path or "index.html")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, f"no Data Docs page {path!r} (run the data_quality DAG to build them)")
        return FileResponse(target)

    @app.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/pipeline/")

    _mount_front_end(app)
    return app


def _mount_front_end(app: FastAPI) -> None:
    if (DIST / "index.html").exists():
        app.mount("/pipeline", StaticFiles(directory=DIST, html=True), name="front-end")
        return

    @app.get("/pipeline/{rest:path}")
    async def not_built(rest: str) -> HTMLResponse:
        return HTMLResponse(
            "<h1>Pipeline dashboard: front end not built</h1><p>Run <code>cd dashboard/web && npm ci && "
            f"npm run build</code> (expected {DIST}/index.html). The API is up at {API}/status.</p>",
            status_code=503,
        )
