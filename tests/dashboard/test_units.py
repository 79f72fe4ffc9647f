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
    assert colour == "amber" and words == "consumer lag 48,210 messages, growing for 3 min"
    assert status.lag_reason(200_000, 0, 100_000)[0] == "red"
    assert status.lag_reason(5, 0, 100_000) == ("green", "consumer lag 5 messages")


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
