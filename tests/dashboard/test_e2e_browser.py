"""End to end in headless Chromium (Debian's ``chromium``, driven by Playwright): the real page
against the real Kafka, Elasticsearch and dashboard of the test stack, with the real pipeline
running: the producer CLI and the Spark streaming app (spark-submit).

Needs ``apt-get install chromium``; a missing browser FAILS the test (never skipped).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page, expect, sync_playwright

from streaming_platform import config
from streaming_platform.airflow_api import PLATFORM_DAGS
from streaming_platform.clients import es_client
from streaming_platform.config import REPO_ROOT
from streaming_platform.dashboard.app import create_app
from streaming_platform.dashboard.resources import SPARK_APP
from streaming_platform.streaming.submit import submit_command, submit_env
from tests.dashboard.conftest import TOKEN, Stack, free_port
from tests.dashboard.load import setup_stores

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = REPO_ROOT / "docs" / "dashboard.png"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (1280, 1920)  # the page stays readable from a laptop to a wide monitor

LAYOUT_PROBLEMS = (Path(__file__).parent / "layout_problems.js").read_text()  # () => string[]


@pytest.fixture(scope="module")
def pipeline(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The real pipeline on the test stack: the producer CLI and the Spark app (spark-submit)."""
    setup_stores(stack.settings)
    logs = tmp_path_factory.mktemp("pipeline")
    env = stack.env  # its Spark UI port is the one the dashboard looks for the app's processes on
    settings = config.load(env=env, overrides={})
    app = _spawn(submit_command(settings), {**env, **submit_env(settings)}, logs / "app.log")
    produce = [str(Path(sys.executable).parent / "produce-events"), "--rate", "150", "--duration", "900"]
    producer = _spawn([*produce, "--bad-fraction", "0.05"], env, logs / "producer.log")
    try:
        _wait_first_batch(settings, app, logs / "app.log")
        yield
    finally:
        for proc in (producer, app):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_first_batch(settings: config.Settings, app: subprocess.Popen, log: Path) -> None:
    """Until the app has indexed a micro-batch with input rows (its Spark session takes a while)."""
    es = es_client(settings)
    index = settings["es.index.runtime"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if app.poll() is not None:
            pytest.fail(f"the streaming app exited with {app.returncode}:\n{log.read_text()[-3000:]}")
        if es.indices.exists(index=index):
            hits = es.search(index=index, query={"range": {"input_rows": {"gt": 0}}}, size=1)
            if hits["hits"]["total"]["value"]:
                return
        time.sleep(2)
    pytest.fail(f"no micro-batch with input rows within 180 s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def chromium(width: int = 1440) -> Iterator[Page]:
    """A page in a fresh headless Chromium profile."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's browser with `apt-get install -y chromium`")
    with tempfile.TemporaryDirectory(prefix="dash-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": width, "height": 1000},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


@pytest.fixture
def page(stack: Stack) -> Iterator[Page]:
    with chromium() as p:
        yield p


@contextlib.contextmanager
def served(settings: config.Settings) -> Iterator[tuple[str, FastAPI]]:
    """The dashboard app in this process, on loopback, without its probe loops (lifespan off):
    the page shows what the test puts in ``app.state.monitor.results``."""
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the in-process dashboard did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}/pipeline", app
    finally:
        server.should_exit = True
        thread.join(10)


def assert_cards_readable(page: Page) -> None:
    problems = page.evaluate(LAYOUT_PROBLEMS)
    assert not problems, f"at {page.viewport_size}:\n" + "\n".join(problems)


def _text(page: Page, test_id: str) -> str:
    return page.get_by_test_id(test_id).inner_text().strip()


def _wait_change(page: Page, test_id: str, timeout_s: float = 30) -> tuple[str, str]:
    first = _text(page, test_id)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        now = _text(page, test_id)
        if now != first:
            return first, now
    pytest.fail(f"{test_id} did not change within {timeout_s:.0f} s (stuck at {first!r})")


def test_dashboard_end_to_end(stack: Stack, pipeline: None, page: Page) -> None:
    page.goto(f"{stack.url}/")
    expect(page.get_by_role("heading", name="Pipeline dashboard")).to_be_visible()

    # Status: live values from the real services, changing without a reload.
    expect(page.get_by_test_id("card-kafka")).to_have_class(re.compile("status-green"), timeout=30_000)
    expect(page.get_by_test_id("card-elasticsearch")).to_have_class(
        re.compile("status-green"), timeout=30_000
    )
    expect(page.get_by_test_id("reason-airflow")).to_contain_text("unreachable")
    end_offset = "metric-topic-events-end offset (sum)"
    expect(page.get_by_test_id(end_offset)).not_to_have_text("–", timeout=30_000)
    before, after = _wait_change(page, end_offset)
    assert int(after.replace(",", "")) > int(before.replace(",", ""))
    expect(page.get_by_test_id("metric-spark-input rows")).to_have_text(re.compile(r"^\d"), timeout=30_000)

    # Data flow: live rates on the edges, including the quarantine branch.
    expect(page.get_by_test_id("edge-producer-kafka")).to_contain_text("/s", timeout=30_000)
    expect(page.get_by_test_id("edge-spark-quarantine")).to_contain_text("/s", timeout=30_000)

    # Metrics: charts built from the runtime-metrics documents, range selector works.
    expect(page.get_by_test_id("chart-throughput")).to_have_attribute("data-empty", "false", timeout=30_000)
    expect(page.get_by_test_id("chart-latency")).to_have_attribute("data-empty", "false")
    expect(page.get_by_test_id("metrics-summary")).to_contain_text("batches in")
    page.get_by_test_id("range-1h").click()
    expect(page.get_by_test_id("chart-throughput")).to_have_attribute("data-empty", "false", timeout=15_000)
    expect(page.get_by_test_id("chart-memory")).to_have_attribute("data-empty", "false", timeout=30_000)

    # Logs: the tail of a real log file, filtered by level.
    page.get_by_test_id("log-service").select_option("kafka")
    expect(page.get_by_test_id("log-lines")).to_contain_text("INFO", timeout=15_000)
    page.get_by_test_id("log-level").select_option("INFO")
    page.wait_for_timeout(1500)
    levels = page.locator("[data-testid=log-lines] > div").evaluate_all("els => els.map(e => e.className)")
    assert levels and "lvl-debug" not in levels
    page.get_by_test_id("log-level").select_option("")

    # Configuration: a bad value is refused with its reason, a good one is saved and audited.
    row = page.get_by_test_id("config-health.max.consumer.lag")
    expect(row).to_contain_text("next pipeline_health run")
    field = page.get_by_label("health.max.consumer.lag")
    field.fill("-5")
    expect(page.get_by_test_id("error-health.max.consumer.lag")).to_contain_text("between 1 and")
    expect(page.get_by_test_id("save")).to_be_disabled()
    field.fill("50000")
    expect(page.get_by_test_id("error-health.max.consumer.lag")).to_have_count(0)
    page.get_by_test_id("token").fill(TOKEN)
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("save-result")).to_contain_text("Saved.")
    expect(page.get_by_test_id("save-result")).to_contain_text("could not trigger pipeline_health")
    expect(page.get_by_test_id("audit")).to_contain_text("health.max.consumer.lag")
    saved = json.loads((stack.home / "config" / "overrides.json").read_text())
    assert saved["health.max.consumer.lag"] == 50000

    # The Spark app (driver JVM and its Python workers) is a series of its own in the resource charts.
    def app_sampled() -> Any:
        pts = stack.api.get("/resources", params={"range": "15m"}).json()["services"].get(SPARK_APP)
        return pts and pts[-1]["rss"] > 200 * 2**20 and pts[-1]["procs"] >= 2 and pts[-1]

    stack.wait_for("the Spark app (driver JVM + Python) in the resource samples", app_sampled, 40)

    # Readable at both ends of the usual screen widths, with live values in every card.
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(500)
        assert_cards_readable(page)
    page.set_viewport_size({"width": 1440, "height": 1000})

    page.get_by_test_id("range-15m").click()
    page.wait_for_timeout(6000)  # a few more batches and resource samples for the picture
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The API goes away: the page says so, and recovers by itself when it is back.
    stack.platform("down", "dashboard")
    try:
        expect(page.get_by_test_id("disconnected")).to_have_text(
            "API unreachable, reconnecting…", timeout=20_000
        )
    finally:
        stack.platform("up", "dashboard")
    expect(page.get_by_test_id("disconnected")).to_have_count(0, timeout=30_000)


# --------------------------------------------------------------------------- without the stack


def _worst_case_probes(settings: config.Settings, now: float) -> dict[str, Any]:
    """Probe results as the probes return them, with the longest values a card shows: billions of
    documents, every index and DAG, a failed run (what the card builders in status.py render)."""
    big = 1_234_567_890
    ok = {"ok": True, "error": None, "at": now, "took_ms": 12}
    indices = {
        role: {"name": settings[f"es.index.{role}"], "exists": True, "docs": big, "indexed_total": big}
        for role in ("aggregates", "customers", "quarantine", "runtime", "quality")
    }
    topics = {
        role: {
            "name": settings[key],
            "exists": True,
            "partitions": 12,
            "end_offsets": {str(p): big // 12 for p in range(12)},
            "total": big,
        }
        for role, key in (("events", "kafka.topic.events"), ("deadletter", "kafka.topic.deadletter"))
    }
    doc = {
        "timestamp": now - 2,
        "duration_ms": 61_234,
        "input_rows": big,
        "rows_per_second": 123_456.7,
        "latency_p95_ms": 1_234_567,
        "quarantined": 12_345_678,
    }
    nodes = ["elasticsearch-1", "elasticsearch-2", "elasticsearch-3"]
    shards = {"active": 1234, "primaries": 617, "initializing": 0, "relocating": 0, "unassigned": 0}
    runs = [
        {
            "dag_id": d,
            "state": "failed",
            "run_id": f"manual__{d}",
            "url": f"http://airflow/dags/{d}",
            "start": None,
        }
        for d in PLATFORM_DAGS
    ]
    return {
        "kafka": {
            **ok,
            "data": {
                "brokers": ["127.0.0.1:9092"],
                "topic_count": 1234,
                "topics": topics,
                "group": "g",
                "committed": {topics["events"]["name"]: big - 1},
            },
        },
        "elasticsearch": {
            **ok,
            "data": {
                "cluster": "streaming-platform",
                "health": "green",
                "nodes": 3,
                "node_names": nodes,
                "master": nodes[0],
                "shards": shards,
                "unassigned_shards": 0,
                "cluster_state": {
                    "cluster": "streaming-platform",
                    "status": "green",
                    "nodes": nodes,
                    "master": nodes[0],
                    "shards": shards,
                },
                "replicated": True,
                "indices": indices,
            },
        },
        "spark": {**ok, "data": {"index": indices["runtime"]["name"], "exists": True, "latest": doc}},
        "airflow": {**ok, "data": {"health": {}, "runs": runs, "runs_error": None}},
        "producer": {**ok, "data": {"name": "producer", "running": True, "pid": 4_194_303}},
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_status_cards_readable_with_the_longest_values(tmp_path: Path, width: int) -> None:
    settings = config.load(env={"PLATFORM_HOME": str(tmp_path)}, overrides={})
    with served(settings) as (url, app), chromium(width) as page:
        app.state.monitor.results.update(_worst_case_probes(settings, time.time()))
        page.goto(f"{url}/")
        expect(page.get_by_test_id("metric-elasticsearch-pipeline-quality-results")).to_have_text(
            "1,234,567,890", timeout=15_000
        )
        expect(page.get_by_test_id("card-airflow").locator(".runs li")).to_have_count(len(PLATFORM_DAGS))
        assert_cards_readable(page)
        page.locator("#status").screenshot(path=str(tmp_path / f"cards-{width}.png"))


def test_private_reads_send_the_token_beyond_loopback(tmp_path: Path) -> None:
    """Bound beyond loopback, logs and configuration need the token: the page asks for it once,
    keeps it in sessionStorage (this tab), and also takes it from the URL fragment."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "kafka.log").write_text("[2026-01-01 00:00:00,000] INFO broker started\n")
    env = {"PLATFORM_HOME": str(tmp_path), "PLATFORM_BIND_HOST": "0.0.0.0", "PLATFORM_DASHBOARD_TOKEN": TOKEN}
    with served(config.load(env=env, overrides={})) as (url, _app):
        html = subprocess.run(["curl", "-s", f"{url}/"], capture_output=True, text=True, check=True).stdout
        assert "root" in html and TOKEN not in html
        with chromium() as page:
            page.goto(f"{url}/")
            expect(page.get_by_test_id("token-prompt")).to_be_visible(timeout=15_000)
            expect(page.get_by_test_id("log-lines")).not_to_contain_text("broker started")
            page.get_by_test_id("read-token").fill(TOKEN)
            page.get_by_test_id("read-token-use").click()
            expect(page.get_by_test_id("log-lines")).to_contain_text("broker started", timeout=15_000)
            expect(page.get_by_test_id("config-table")).to_contain_text("kafka.topic.events")
            expect(page.get_by_test_id("token-prompt")).to_have_count(0)
            assert page.evaluate("sessionStorage.getItem('pipeline-dashboard.token')") == TOKEN
            page.reload()  # same tab: kept
            expect(page.get_by_test_id("log-lines")).to_contain_text("broker started", timeout=15_000)
            expect(page.get_by_test_id("token-prompt")).to_have_count(0)
            page.evaluate("sessionStorage.setItem('pipeline-dashboard.token', 'wrong')")
            page.reload()
            expect(page.get_by_test_id("token-prompt")).to_contain_text("was refused", timeout=15_000)
        with chromium() as page:  # a new browser: the fragment gives it, and leaves the address
            page.goto(f"{url}/#token={TOKEN}")
            expect(page.get_by_test_id("log-lines")).to_contain_text("broker started", timeout=15_000)
            assert TOKEN not in page.url
            expect(page.get_by_test_id("token-prompt")).to_have_count(0)
