"""Pure parts of the dashboard API: log paging, status judgement, slow probes (no services needed)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from fastapi.testclient import TestClient

from streaming_platform import config
from streaming_platform.dashboard import logs, resources, status
from streaming_platform.dashboard.app import create_app
from streaming_platform.dashboard.monitor import Monitor
from streaming_platform.runtime.process import Paths


def _write_log(path: Path, n: int) -> list[str]:
    levels = ["INFO", "DEBUG", "WARN", "ERROR"]
    lines = [f"[2026-01-01 00:00:{i % 60:02d}] {levels[i % 4]} message number {i}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return lines


def test_backward_pages_cover_the_file_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    lines = _write_log(path, 20_000)  # ~1 MB: several 64 KiB chunks
    seen: list[str] = []
    before = None
    while True:
        page = logs.read_backwards(path, before, 700, logs.Query())
        seen[:0] = [line["text"] for line in page["lines"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == lines


def test_backward_filters_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    lines = _write_log(path, 1000)
    page = logs.read_backwards(path, None, 10, logs.Query(level="WARN", text="number 99"))
    assert [line["text"] for line in page["lines"]] == [
        x for x in lines if "number 99" in x and ("WARN" in x or "ERROR" in x)
    ][-10:]
    raw = path.read_bytes()
    for line in page["lines"]:
        assert raw[line["offset"] :].startswith(line["text"].encode())


def test_forward_reads_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    _write_log(path, 3)
    size = path.stat().st_size
    with path.open("a") as fh:
        fh.write("INFO new line\nINFO partial")
    page = logs.read_forwards(path, size, 100, logs.Query())
    assert [line["text"] for line in page["lines"]] == ["INFO new line"]
    assert page["next_after"] == size + len("INFO new line\n")


def test_series_rate_and_lag_growth() -> None:
    s = status.Series()
    for i in range(10):
        s.add(1000 + i * 2, 100 * i)
    assert s.rate() == 50.0
    assert s.growing_for() == 18
    s.add(1020, 10)
    assert s.growing_for() == 0


def test_lag_reason_words() -> None:
    colour, words = status.lag_reason(48_210, 180, 100_000)
    assert colour == "amber"
    assert words == "consumer lag: 48,210 messages behind, growing for 180 s (limit 100,000)"
    assert status.lag_reason(200_000, 0, 100_000)[0] == "red"
    assert status.lag_reason(5, 0, 100_000) == ("green", "consumer lag: 5 messages behind (limit 100,000)")


def test_cards_and_pipeline_health_share_one_health_model() -> None:
    """The dashboard's judgement of a number is pipeline_health's: same name, limit and state."""
    from streaming_platform import health

    shards = {"active": 4, "primaries": 4, "initializing": 0, "relocating": 0, "unassigned": 2}
    yellow = {"cluster": "c", "status": "yellow", "nodes": ["n1"], "master": "n1", "shards": shards}
    check = health.judge_elasticsearch(yellow)
    assert check.ok and check.state == health.State.WARN  # one node: the DAG passes, the card is amber
    assert not health.judge_elasticsearch(yellow, replicated=True).ok  # with replicas: a lost node
    data = {
        "cluster_state": yellow,
        "replicated": False,
        "nodes": 1,
        "unassigned_shards": 2,
        "shards": shards,
    }
    es = {"ok": True, "data": {**data, "indices": {}}}
    assert (status.es_card(es)["status"], status.es_card(es)["reason"]) == status.judged(check)
    assert status.judged(check) == ("amber", f"elasticsearch health: {check.message}")
    red = health.judge_elasticsearch({**yellow, "status": "red"})
    assert not red.ok and status.judged(red)[0] == "red"
    bad = health.judge_quarantine_rate(6, 100, 0.05, "the last batch")
    assert not bad.ok and bad.name == health.QUARANTINE_RATE and status.judged(bad)[0] == "red"
    assert status.COLOUR.keys() == set(health.State)


def test_an_idle_app_is_idle_not_degraded(tmp_path: Path) -> None:
    settings = config.load(env={"PLATFORM_HOME": str(tmp_path)}, overrides={})
    now = time.time()
    doc = {"timestamp": now - 600, "input_rows": 400, "quarantined": 0, "rows_per_second": 80.0}
    probe = {"ok": True, "data": {"index": "runtime", "exists": True, "latest": doc}}
    idle = status.spark_card(probe, settings, now, running=True, lag=0)
    assert (idle["status"], idle["state"]) == ("green", "idle")
    assert idle["reason"].startswith("idle: running and caught up") and "10 min ago" in idle["reason"]
    # Not idle: events wait unconsumed, or the app is not running, or the lag is unknown.
    for running, lag in ((True, 25.0), (False, 0.0), (True, None)):
        stuck = status.spark_card(probe, settings, now, running=running, lag=lag)
        assert stuck["status"] == "red" and "stopped or stuck" in stuck["reason"]
    doc["timestamp"] = now - 90
    assert status.spark_card(probe, settings, now, running=False, lag=0)["status"] == "amber"
    assert status.spark_card(probe, settings, now, running=True, lag=0)["state"] == "idle"
    doc["timestamp"] = now - 3  # a fresh batch: active, whatever the lag
    assert status.spark_card(probe, settings, now, running=True, lag=0)["state"] == "active"


def test_executors_are_matched_to_their_driver_by_its_port() -> None:
    executor = [
        "java", "-cp", "/opt/spark/jars/*", resources.EXECUTOR,
        "--driver-url", "spark://CoarseGrainedScheduler@127.0.0.1:40531", "--executor-id", "0",
    ]  # fmt: skip
    assert resources.driver_port(executor) == 40531
    assert resources.driver_port(executor[:-4]) is None  # no --driver-url value
    assert resources.driver_port(["java", resources.DRIVER, "--driver-url", "x:1"]) is None


def test_stream_is_server_sent_events(tmp_path: Path) -> None:
    settings = config.load(env={"PLATFORM_HOME": str(tmp_path)}, overrides={})
    with TestClient(create_app(settings)).stream("GET", "/pipeline/api/stream") as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.iter_lines()
        assert next(lines) == "event: snapshot"
        snapshot = json.loads(next(lines).removeprefix("data: "))
    assert {c["id"] for c in snapshot["cards"]} >= {"kafka", "spark", "elasticsearch", "airflow"}


def test_a_slow_probe_does_not_block_the_others(tmp_path: Path) -> None:
    settings = config.load(env={"PLATFORM_HOME": str(tmp_path)}, overrides={})
    monitor = Monitor(settings, Paths(tmp_path))

    async def slow() -> dict:
        await asyncio.sleep(30)
        return {}

    async def fast() -> dict:
        return {"ok": 1}

    async def run() -> float:
        t0 = time.monotonic()
        await asyncio.gather(
            monitor.probe_once("elasticsearch", slow, timeout=0.5), monitor.probe_once("x", fast)
        )
        return time.monotonic() - t0

    took = asyncio.run(run())
    assert took < 2
    assert monitor.results["x"]["ok"]
    assert not monitor.results["elasticsearch"]["ok"]
    assert "timeout" in monitor.results["elasticsearch"]["error"]
    card = status.es_card(monitor.results["elasticsearch"])
    assert card["status"] == "red" and "timeout" in card["reason"]


def test_runtime_fields_exist_in_the_apps_runtime_mapping() -> None:
    from streaming_platform import es_indices
    from streaming_platform.dashboard.probes import RUNTIME_FIELDS

    assert set(RUNTIME_FIELDS.values()) <= set(es_indices.RUNTIME_PROPERTIES)


def _run(run_id: str, state: str, end: str) -> dict:
    return {"dag_run_id": run_id, "state": state, "start_date": end, "end_date": end}


def test_alerts_open_until_a_later_success_resolves_them() -> None:
    from streaming_platform.dashboard import alerts

    runs = [  # newest first, as Airflow lists them
        _run("r6", "running", "2026-01-01T06:00:00Z"),
        _run("r5", "failed", "2026-01-01T05:00:00Z"),
        _run("r4", "failed", "2026-01-01T04:00:00Z"),
        _run("r3", "success", "2026-01-01T03:00:00Z"),
        _run("r2", "success", "2026-01-01T02:00:00Z"),
        _run("r1", "failed", "2026-01-01T01:00:00Z"),
    ]
    found = alerts.history("pipeline_health", runs, lambda d, r: f"http://airflow/dags/{d}/runs/{r}")

    assert [(a["run_id"], a["state"], a["resolved_by"]) for a in found] == [
        ("r5", "open", None),
        ("r4", "open", None),
        ("r1", "resolved", "r2"),  # the first success after it, not the newest
    ]
    assert found[2]["resolved_at"] == "2026-01-01T02:00:00Z"
    now = alerts.open_alert("pipeline_health", found)
    assert now is not None
    assert (now["run_id"], now["since"], now["failed_runs"]) == ("r5", "2026-01-01T04:00:00Z", 2)
    assert now["url"] == "http://airflow/dags/pipeline_health/runs/r5"
    assert alerts.open_alert("data_quality", alerts.history("data_quality", runs[3:], lambda d, r: r)) is None
