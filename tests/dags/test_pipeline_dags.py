"""The streaming, data-quality and health DAGs against the real Kafka, Elasticsearch and Spark.

One module, tests in order, on this test run's uniquely named topics and indices:

1. ``streaming_app`` with ``available_now``: ``SparkSubmitOperator`` launches the real app, which
   processes a known event set (with bad records of every kind) and exits; the Elasticsearch
   aggregates, customers and quarantine equal what the producer sent.
2. ``data_quality`` passes on that data (results indexed, Data Docs built), then fails naming the
   critical expectation an injected bad aggregate breaks.
3. ``pipeline_health`` passes while the app runs (continuous mode) and, after the
   ``streaming_app_stop`` DAG stopped it gracefully, fails naming the app's liveness.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from streaming_platform import clients, config, quality
from streaming_platform.orchestration import setup
from streaming_platform.producer import EventGenerator, Summary, send
from tests.dags.conftest import load_dag

EVENTS = 3_000
BAD_FRACTION = 0.03  # below health.max.quarantine.rate (5 %)


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _produce(settings: config.Settings, count: int, seed: int) -> Summary:
    gen = EventGenerator(customers=200, seed=seed, bad_fraction=BAD_FRACTION)
    summary = send(
        clients.kafka_producer(settings), settings["kafka.topic.events"], gen.records(), count=count
    )
    assert summary.failed == 0, summary.errors
    return summary


@pytest.fixture(scope="module")
def produced(isolated: config.Settings) -> Summary:
    setup.create_topics()
    setup.put_index_templates()
    return _produce(isolated, EVENTS, seed=7)


def _sum(es: Any, index: str, field: str) -> int:
    resp = es.search(index=index, size=0, aggs={"s": {"sum": {"field": field}}})
    return int(resp["aggregations"]["s"]["value"])


def test_streaming_app_available_now_processes_the_topic(
    isolated: config.Settings, produced: Summary
) -> None:
    run = load_dag("streaming_app").test(run_conf={"available_now": True})

    assert run.state == "success", _states(run)
    assert _states(run) == {
        "run_stream": "success",
        "continuous": "skipped",
        "restart": "skipped",
    }
    es = clients.es_client(isolated)
    es.indices.refresh(index="dagtest-*")
    valid = produced.sent - produced.bad
    assert _sum(es, isolated["es.index.aggregates"], "events") == valid
    assert _sum(es, isolated["es.index.customers"], "total_events") == valid
    assert es.count(index=isolated["es.index.quarantine"])["count"] == produced.bad
    assert _sum(es, isolated["es.index.runtime"], "input_rows") == produced.sent


def test_quarantine_replay_dry_run_reports_and_replays_nothing(
    isolated: config.Settings, produced: Summary, capfd: pytest.CaptureFixture[str]
) -> None:
    run = load_dag("quarantine_replay").test(run_conf={"reasons": ["unknown_product_category"]})

    assert run.state == "success", _states(run)
    assert _states(run) == {"assess": "success", "replay_wanted": "success", "replay": "skipped"}
    [assessed] = [ti for ti in run.get_task_instances() if ti.task_id == "assess"]
    assert assessed.xcom_pull(task_ids="assess") == {"replayable": 0, "backfill": ""}
    out = capfd.readouterr().out
    assert "unknown_product_category: " in out and "still invalid (unknown_product_category)" in out
    assert "dry run: nothing replayed" in out


def test_data_quality_passes_and_publishes(
    isolated: config.Settings, produced: Summary, capfd: pytest.CaptureFixture[str]
) -> None:
    run = load_dag("data_quality").test()

    assert run.state == "success", (_states(run), capfd.readouterr().out[-3000:])
    es = clients.es_client(isolated)
    es.indices.refresh(index=isolated["es.index.quality"])
    docs = [h["_source"] for h in es.search(index=isolated["es.index.quality"], size=10)["hits"]["hits"]]
    assert sorted(d["suite"] for d in docs) == sorted(quality.SUITES)
    assert all(d["critical_success"] for d in docs), docs
    assert (quality.data_docs_dir(isolated) / "index.html").exists()


def test_data_quality_fails_naming_the_critical_expectation(
    isolated: config.Settings, produced: Summary, capfd: pytest.CaptureFixture[str]
) -> None:
    es = clients.es_client(isolated)
    index = isolated["es.index.aggregates"]
    bad = es.search(index=index, size=1)["hits"]["hits"][0]["_source"]
    bad.update(product_category="weapons")  # not an allowed category: a critical expectation
    es.index(index=index, id="injected-bad", document=bad, refresh=True)
    try:
        capfd.readouterr()
        dag = load_dag("data_quality")
        for task in dag.tasks:
            task.retries = 0  # dag.test() would sit out the 2-minute retry delay
        run = dag.test()
        log = capfd.readouterr().out
    finally:
        es.delete(index=index, id="injected-bad", refresh=True)

    assert run.state == "failed"
    assert _states(run)["validate_aggregates"] == "failed"
    assert "critical expectation(s) of suite 'aggregates' failed" in log
    assert "expect_column_values_to_be_in_set(product_category)" in log
    # The bad document also breaks the reconciliation: one more event than Kafka delivered.
    assert _states(run)["validate_reconciliation"] == "failed"
    assert _states(run)["validate_customers"] == "success"


# --------------------------------------------------------------------------- health


@pytest.fixture(scope="module")
def running_app(isolated: config.Settings, produced: Summary) -> Iterator[subprocess.Popen]:
    """The app in continuous mode, as run_stream launches it (same spark-submit command)."""
    from streaming_platform.streaming.submit import submit_command, submit_env

    log = open(os.environ.get("PLATFORM_TEST_APP_LOG", "/dev/null"), "ab")
    proc = subprocess.Popen(
        submit_command(isolated),
        env={**os.environ, **submit_env(isolated)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield proc
    if proc.poll() is None:  # the test failed before the graceful stop
        os.killpg(proc.pid, 15)
        proc.wait(60)
    log.close()


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(1)


def test_pipeline_health_passes_while_the_app_runs(
    isolated: config.Settings, running_app: subprocess.Popen, capfd: pytest.CaptureFixture[str]
) -> None:
    from streaming_platform import health

    _wait_for(lambda: health.app_liveness(isolated).ok, 120, "the app's Spark UI")
    es = clients.es_client(isolated)
    before = es.count(index=isolated["es.index.runtime"])["count"]
    _produce(isolated, 500, seed=8)  # fresh aggregates for the staleness check
    _wait_for(
        lambda: es.count(index=isolated["es.index.runtime"])["count"] > before, 120, "a new micro-batch"
    )
    capfd.readouterr()

    run = load_dag("pipeline_health").test()

    log = capfd.readouterr().out
    assert run.state == "success", log[-3000:]
    for name in (
        "app liveness",
        "elasticsearch health",
        "consumer lag",
        "aggregate staleness",
        "quarantine rate",
        "free disk",
    ):
        assert f"ok    {name}:" in log, name


def test_pipeline_health_fails_after_graceful_stop(
    isolated: config.Settings, running_app: subprocess.Popen, capfd: pytest.CaptureFixture[str]
) -> None:
    stop = load_dag("streaming_app_stop").test()

    assert stop.state == "success", _states(stop)
    assert running_app.wait(120) == 0  # graceful: the app finished its batch and exited cleanly
    capfd.readouterr()

    run = load_dag("pipeline_health").test()

    log = capfd.readouterr().out
    assert run.state == "failed"
    assert "FAIL  app liveness: customer-events-stream is not running" in log
    assert "health checks failed: app liveness:" in log
