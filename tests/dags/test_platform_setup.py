"""``dag.test()`` of platform_setup against the running Kafka and Elasticsearch (unique names)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from streaming_platform import clients, config, es_indices
from tests.dags.conftest import load_dag


@pytest.fixture
def setup_log() -> Iterator[list[str]]:
    """Messages of the setup tasks' logger (stdout capture is unreliable once Airflow logged)."""
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("streaming_platform.orchestration.setup")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield messages
    logger.removeHandler(handler)


def _task_states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_platform_setup_creates_then_reports_existing(
    fresh_platform: config.Settings, setup_log: list[str]
) -> None:
    dag = load_dag("platform_setup")

    first = dag.test()

    assert first.state == "success", _task_states(first)
    # No kibana_default connection in the embedded mode: the import step is skipped, not failed.
    assert _task_states(first)["import_kibana_objects"] == "skipped"
    admin = clients.kafka_admin(fresh_platform)
    topics = admin.list_topics(timeout=10).topics
    for name in (fresh_platform["kafka.topic.events"], fresh_platform["kafka.topic.deadletter"]):
        assert len(topics[name].partitions) == fresh_platform["kafka.topic.partitions"], name
    es = clients.es_client(fresh_platform)
    for name in es_indices.templates(fresh_platform):
        assert es.indices.exists_index_template(name=name), name
    for index in es_indices.mappings(fresh_platform):
        # Through the alias: its live version's concrete index (es_indices).
        assert next(iter(es.indices.get_mapping(index=index).values()))["mappings"]["dynamic"] == "strict"
    log = "\n".join(setup_log)
    assert "Kafka topic(s) created" in log
    assert "index template(s) created" in log
    setup_log.clear()
    second = dag.test()  # idempotent: nothing to do, and the log says so

    assert second.state == "success", _task_states(second)
    log = "\n".join(setup_log)
    assert "Kafka topic(s) already existed, unchanged" in log
    assert "index template(s) already existed, unchanged" in log
    assert "created:" not in log


def test_platform_setup_brings_existing_indices_to_changed_templates(
    fresh_platform: config.Settings, setup_log: list[str]
) -> None:
    """An upgraded platform: its indices exist under older templates (another version, the
    periodic refresh, the default merge tier). The DAG puts the new templates, and the existing
    indices take their settings, which a template alone gives only to new indices."""
    dag = load_dag("platform_setup")
    assert dag.test().state == "success"
    es = clients.es_client(fresh_platform)
    for name, body in es_indices.templates(fresh_platform).items():
        older = {**body, "_meta": {**body["_meta"], "version_hash": "older"}}
        es.indices.put_index_template(name=name, **older)
    customers = fresh_platform["es.index.customers"]
    old = {"refresh_interval": "1s", "merge.policy.segments_per_tier": 10}
    es.indices.put_settings(index=customers, settings=old)
    setup_log.clear()

    run = dag.test()

    assert run.state == "success", _task_states(run)
    log = "\n".join(setup_log)
    assert "index template(s) changed" in log
    took = next(line for line in log.splitlines() if "took the changed template's settings" in line)
    assert customers in took
    got = next(iter(es.indices.get_settings(index=customers, flat_settings=True).values()))["settings"]
    assert {k: got[f"index.{k}"] for k in old} == {k: str(es_indices.CUSTOMERS_SETTINGS[k]) for k in old}


def test_data_quality_on_a_new_platform_skips_saying_why(
    fresh_platform: config.Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    assert load_dag("platform_setup").test().state == "success"  # empty indices, no data yet
    capfd.readouterr()

    run = load_dag("data_quality").test()
    log = capfd.readouterr().out

    assert run.state == "success"
    assert set(_task_states(run).values()) == {"skipped"}, _task_states(run)
    assert "nothing to validate: the pipeline has written nothing yet" in log
    assert "nothing to validate: no record has been quarantined so far" in log
