"""The dashboard API against real Kafka, Elasticsearch and the dashboard process (see conftest)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from streaming_platform import config
from streaming_platform.clients import es_client
from tests.dashboard.conftest import TOKEN, Stack
from tests.dashboard.load import runtime_doc, setup_stores

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _status_of(stack: Stack, cid: str) -> str:
    return stack.card(cid)["status"]


def test_health_and_front_end(stack: Stack) -> None:
    assert stack.api.get("/health").json()["status"] == "ok"
    page = httpx.get(f"{stack.url}/", timeout=10)
    assert page.status_code == 200
    assert '<div id="root">' in page.text, "front end not built: cd dashboard/web && npm ci && npm run build"


def test_status_green_when_services_up(stack: Stack) -> None:
    stack.wait_for("Kafka card green", lambda: _status_of(stack, "kafka") == "green")
    stack.wait_for("Elasticsearch card green", lambda: _status_of(stack, "elasticsearch") == "green")
    airflow = stack.card("airflow")
    assert airflow["status"] == "red" and "unreachable" in airflow["reason"]


def test_stream_pushes_snapshots(stack: Stack) -> None:
    with httpx.stream("GET", f"{stack.url}/api/stream", timeout=10) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.iter_lines()
        event = next(line for line in lines if line.startswith("event:"))
        data = next(line for line in lines if line.startswith("data:"))
    assert event == "event: snapshot"
    snap = json.loads(data.removeprefix("data:").strip())
    assert {c["id"] for c in snap["cards"]} >= {"kafka", "topic-events", "spark", "elasticsearch", "airflow"}
    assert {n["id"] for n in snap["flow"]["nodes"]} >= {
        "producer",
        "kafka",
        "spark",
        "elasticsearch",
        "quarantine",
    }


def test_kafka_stopped_turns_red_then_green_on_restart(stack: Stack) -> None:
    stack.wait_for("Kafka card green", lambda: _status_of(stack, "kafka") == "green")
    stack.platform("down", "kafka")
    try:
        red = stack.wait_for(
            "Kafka card red", lambda: (c := stack.card("kafka"))["status"] == "red" and c, 30
        )
        assert red["reason"], "a red card must say why"
        # Elasticsearch keeps being probed and stays green while Kafka is down.
        before = stack.card("elasticsearch")["updated"]
        stack.wait_for(
            "Elasticsearch card updated", lambda: stack.card("elasticsearch")["updated"] > before, 15
        )
        assert _status_of(stack, "elasticsearch") == "green"
    finally:
        stack.platform("up", "kafka")
    stack.wait_for("Kafka card green again", lambda: _status_of(stack, "kafka") == "green", 60)


def test_elasticsearch_stopped_turns_red_then_green_on_restart(stack: Stack) -> None:
    stack.wait_for("Elasticsearch card green", lambda: _status_of(stack, "elasticsearch") == "green")
    stack.platform("down", "elasticsearch")
    try:
        red = stack.wait_for(
            "ES card red", lambda: (c := stack.card("elasticsearch"))["status"] == "red" and c, 30
        )
        assert red["reason"]
        before = stack.card("kafka")["updated"]
        stack.wait_for("Kafka card updated", lambda: stack.card("kafka")["updated"] > before, 15)
        assert _status_of(stack, "kafka") == "green"
        # The metrics endpoint fails in words instead of hanging.
        resp = stack.api.get("/metrics", params={"range": "15m"})
        assert resp.status_code == 503 and "runtime metrics unavailable" in resp.json()["detail"]
    finally:
        stack.platform("up", "elasticsearch")
    stack.wait_for("ES card green again", lambda: _status_of(stack, "elasticsearch") == "green", 90)


def test_metrics_return_values_of_the_runtime_index(stack: Stack) -> None:
    s = stack.settings
    setup_stores(s)
    es = es_client(s)
    now = time.time()
    topic = s["kafka.topic.events"]
    docs = [
        runtime_doc(
            i,
            now - 300 + i * 30,
            input_rows=100 * (i + 1),
            quarantined=i,
            offsets={0: i},
            topic=topic,
            latency_p50=100 + i,
            latency_p95=1000 + 10 * i,
        )
        for i in range(8)
    ]
    for doc in docs:
        es.index(index=s["es.index.runtime"], document=doc)
    es.indices.refresh(index=s["es.index.runtime"])

    for rng in ("15m", "1h", "24h"):
        answer = stack.api.get("/metrics", params={"range": rng}).json()
        points = [p for p in answer["points"] if p["batches"]]
        assert answer["batches"] == len(docs)
        assert sum(p["input_rows"] for p in points) == sum(d["input_rows"] for d in docs)
        assert sum(p["quarantined"] for p in points) == sum(d["quarantined"] for d in docs)
        assert max(p["latency_max_ms"] for p in points) == max(d["latency_max_ms"] for d in docs)
        interval = answer["interval_s"]
        for p in points:  # the newest bucket is still filling: its rate is over the time covered so far
            covered = max(1.0, min(interval, (answer["now_ms"] - p["t"]) / 1000))
            assert p["in_rate"] == pytest.approx(p["input_rows"] / covered)
            assert p["error_rate"] is not None and 0 <= p["error_rate"] < 0.1

    # 15 min buckets of 15 s: each document is alone in its bucket, so values match one to one.
    answer = stack.api.get("/metrics", params={"range": "15m"}).json()
    p95 = sorted(p["latency_p95_ms"] for p in answer["points"] if p["batches"])
    assert p95 == sorted(float(d["latency_p95_ms"]) for d in docs)
    assert stack.api.get("/metrics", params={"range": "2d"}).status_code == 400

    spark = stack.wait_for(
        "Spark card from the newest batch", lambda: (c := stack.card("spark"))["metrics"] and c
    )
    rows = {m["label"]: m["value"] for m in spark["metrics"]}
    assert rows["input rows"] == docs[-1]["input_rows"]


def test_config_validation_rejects_bad_values(stack: Stack) -> None:
    bad = {"kafka.topic.partitions": 0, "spark.trigger.interval": "soon", "kafka.port": 1234, "nope": 1}
    resp = stack.api.put("/config", json={"changes": bad}, headers=AUTH)
    assert resp.status_code == 422
    errors = resp.json()["errors"]
    assert set(errors) == set(bad)
    assert "between 1 and 256" in errors["kafka.topic.partitions"]
    assert "cannot be edited" in errors["kafka.port"]
    assert "unknown option" in errors["nope"]
    # One bad value rejects the whole change: the good one is not saved either.
    resp = stack.api.put(
        "/config",
        json={"changes": {"spark.watermark": "5 minutes", "kafka.topic.partitions": -1}},
        headers=AUTH,
    )
    assert resp.status_code == 422
    assert (
        not (stack.home / "config" / "overrides.json").exists()
        or "spark.watermark" not in (stack.home / "config" / "overrides.json").read_text()
    )
    assert stack.api.post("/config/validate", json={"changes": {"spark.master": "moon"}}).json()["errors"]


def test_edit_without_token_is_refused(stack: Stack) -> None:
    change = {"changes": {"health.max.consumer.lag": 5}}
    assert stack.api.put("/config", json=change).status_code == 401
    assert stack.api.put("/config", json=change, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert stack.api.post("/dags/streaming_app/trigger").status_code == 401
    rows = {r["name"]: r for r in stack.api.get("/config").json()["options"]}
    assert rows["health.max.consumer.lag"]["value"] != 5


def test_edit_is_saved_audited_and_applied(stack: Stack) -> None:
    change = {"changes": {"spark.trigger.interval": "5 seconds"}, "apply": True, "who": "pytest"}
    resp = stack.api.put("/config", json=change, headers=AUTH)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["saved"] and body["record"]["changes"]["spark.trigger.interval"] == {
        "old": config.option("spark.trigger.interval").default,
        "new": "5 seconds",
    }
    # Airflow is down in this stack: the change is saved and the page says the DAG was not triggered.
    [applied] = body["applied"]
    assert applied["dag_id"] == "streaming_app" and not applied["ok"] and "unreachable" in applied["error"]
    saved = json.loads((stack.home / "config" / "overrides.json").read_text())
    assert saved["spark.trigger.interval"] == "5 seconds"
    audit = [json.loads(line) for line in (stack.home / "config" / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["who"] == "pytest" and audit[-1]["dags"] == ["streaming_app"] and audit[-1]["time"]
    rows = {r["name"]: r for r in stack.api.get("/config").json()["options"]}
    assert rows["spark.trigger.interval"]["value"] == "5 seconds"
    assert rows["spark.trigger.interval"]["source"] == "saved"
    assert rows["es.password"]["value"] == "" and rows["dashboard.token"]["value"] == "***"


def test_logs_page_from_the_end_with_filters(stack: Stack) -> None:
    services = {s["service"] for s in stack.api.get("/logs/services").json()["services"]}
    assert {"kafka", "elasticsearch", "dashboard"} <= services
    page = stack.api.get("/logs", params={"service": "kafka", "limit": 20}).json()
    assert len(page["lines"]) == 20 and page["next_before"]
    offsets = [line["offset"] for line in page["lines"]]
    assert offsets == sorted(offsets) and offsets[-1] < page["size"]
    older = stack.api.get(
        "/logs", params={"service": "kafka", "limit": 20, "before": page["next_before"]}
    ).json()
    assert older["lines"] and older["lines"][-1]["offset"] < offsets[0]
    infos = stack.api.get("/logs", params={"service": "kafka", "level": "INFO", "q": "kafka"}).json()["lines"]
    assert infos and all(line["level"] in ("INFO", "WARN", "ERROR") for line in infos)
    assert all("kafka" in line["text"].lower() for line in infos)
    follow = stack.api.get("/logs", params={"service": "kafka", "after": page["size"]}).json()
    assert follow["next_after"] >= page["size"]
    assert stack.api.get("/logs", params={"service": "../etc/passwd"}).status_code == 400
    assert stack.api.get("/logs", params={"service": "nothing"}).status_code == 404


def test_resources_per_service(stack: Stack) -> None:
    def sampled() -> dict:
        services = stack.api.get("/resources", params={"range": "15m"}).json()["services"]
        return services if {"kafka", "elasticsearch", "dashboard"} <= set(services) else {}

    services = stack.wait_for("resource samples", sampled, 30)
    for name in ("kafka", "elasticsearch"):
        last = services[name][-1]
        assert last["rss"] > 50 * 1024 * 1024 and last["disk"] > 0 and last["cpu"] >= 0


def test_alerts_say_airflow_is_unreachable(stack: Stack) -> None:
    answer = stack.api.get("/alerts").json()
    assert answer["open"] == [] and answer["history"] == []
    assert "unreachable" in answer["error"]  # this stack's Airflow URL points at a closed port


def test_data_docs_are_served_from_the_state_folder(stack: Stack) -> None:
    docs = stack.home / "gx" / "data_docs"
    assert httpx.get(f"{stack.url}/data-docs/index.html", timeout=10).status_code == 404
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "index.html").write_text("<html>platform data docs</html>")
    (stack.home / "secret.txt").write_text("not a Data Docs page")
    try:
        page = httpx.get(f"{stack.url}/data-docs/index.html", timeout=10)
        assert page.status_code == 200 and "platform data docs" in page.text
        assert stack.api.get("/alerts").json()["data_docs"] == "/pipeline/data-docs/index.html"
        outside = httpx.get(f"{stack.url}/data-docs/..%2F..%2Fsecret.txt", timeout=10)
        assert outside.status_code == 404
    finally:
        (docs / "index.html").unlink()
