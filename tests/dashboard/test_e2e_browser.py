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
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from streaming_platform import config
from streaming_platform.clients import es_client
from streaming_platform.config import REPO_ROOT
from streaming_platform.streaming.app import submit_command, submit_env
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


@pytest.fixture(scope="module")
def pipeline(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The real pipeline on the test stack: the producer CLI and the Spark app (spark-submit)."""
    setup_stores(stack.settings)
    logs = tmp_path_factory.mktemp("pipeline")
    env = {**stack.env, "PLATFORM_SPARK_UI_PORT": str(free_port())}
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


@pytest.fixture
def page(stack: Stack) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's browser with `apt-get install -y chromium`")
    with tempfile.TemporaryDirectory(prefix="dash-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1440, "height": 1000},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


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
