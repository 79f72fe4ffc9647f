"""Lineage: the DAGs declare the platform's topics and indices as Airflow Assets, named from settings.

producer (``demo_load``) → events topic → ``streaming_app`` → app indices → ``data_quality``;
``platform_setup`` updates every topic and index it provisions. No services needed: the DAGs are
parsed and serialized as the DAG processor would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming_platform import config
from streaming_platform.orchestration.lineage import index_uri, platform_assets, topic_uri
from tests.dags.conftest import load_dag


def _uris(assets) -> list[str]:
    return [a.uri for a in assets]


@pytest.fixture(scope="module")
def expected(airflow_settings: config.Settings) -> dict[str, list[str]]:
    """The URIs the DAGs must name, computed here from the settings, not from the DAG files."""
    s = config.load()
    server = s["kafka.bootstrap.servers"].split(",")[0]
    es = s["es.url"].split("://", 1)[1].rstrip("/")
    return {
        "topics": [
            f"kafka://{server}/{s['kafka.topic.events']}",
            f"kafka://{server}/{s['kafka.topic.deadletter']}",
        ],
        "indices": [
            f"elasticsearch://{es}/{s[f'es.index.{k}']}"
            for k in ("aggregates", "customers", "quarantine", "runtime")
        ],
        "quality": [f"elasticsearch://{es}/{s['es.index.quality']}"],
    }


def test_uris_name_the_cluster_not_the_credentials() -> None:
    settings = config.load(
        env={
            "PLATFORM_KAFKA_BOOTSTRAP_SERVERS": "k1:9092, k2:9092",
            "PLATFORM_ES_URL": "https://u:p@es.example:9243/",
        },
        overrides={},
    )

    assert topic_uri(settings, "events") == "kafka://k1:9092/events"
    assert index_uri(settings, "metrics") == "elasticsearch://es.example:9243/metrics"


def test_assets_follow_the_settings() -> None:
    settings = config.load(env={"PLATFORM_KAFKA_TOPIC_EVENTS": "other-events"}, overrides={})

    assert platform_assets(settings).events_topic.uri.endswith("/other-events")


def test_platform_setup_updates_every_topic_and_index(
    airflow_db: Path, expected: dict[str, list[str]]
) -> None:
    tasks = load_dag("platform_setup").task_dict

    assert _uris(tasks["create_topics"].outlets) == expected["topics"]
    assert _uris(tasks["put_index_templates"].outlets) == expected["indices"]


def test_streaming_app_reads_the_topic_and_writes_the_indices(
    airflow_db: Path, expected: dict[str, list[str]]
) -> None:
    tasks = load_dag("streaming_app").task_dict

    assert _uris(tasks["run_stream"].inlets) == expected["topics"][:1]
    assert _uris(tasks["run_stream"].outlets) == expected["topics"][1:] + expected["indices"]


def test_demo_load_produces_into_the_events_topic(airflow_db: Path, expected: dict[str, list[str]]) -> None:
    assert _uris(load_dag("demo_load").task_dict["produce"].outlets) == expected["topics"][:1]


def test_data_quality_runs_on_any_index_update_or_hourly(
    airflow_db: Path, expected: dict[str, list[str]]
) -> None:
    from airflow.sdk import AssetAny, AssetOrTimeSchedule, CronTriggerTimetable

    dag = load_dag("data_quality")
    timetable = dag.timetable

    assert isinstance(timetable, AssetOrTimeSchedule), type(timetable)
    assert isinstance(timetable.timetable, CronTriggerTimetable)
    assert timetable.timetable.expression == "0 * * * *"
    # Any one index updated triggers a run (AssetAll would wait for all four).
    assert isinstance(timetable.asset_condition, AssetAny), type(timetable.asset_condition)
    assert _uris(timetable.asset_condition.objects) == expected["indices"]
    for task in dag.tasks:
        assert _uris(task.outlets) == expected["quality"], task.task_id


@pytest.mark.parametrize("name", ["platform_setup", "streaming_app", "demo_load", "data_quality"])
def test_lineage_survives_serialization(airflow_db: Path, name: str) -> None:
    """What the scheduler and the Assets view see is the serialized DAG, not the Python object."""
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DagSerialization.from_dict(DagSerialization.to_dict(load_dag(name)))
    declared = {a.uri for t in dag.tasks for a in [*t.outlets, *t.inlets]}

    assert declared, f"{name}: no Asset survives serialization"
    if name == "data_quality":
        assert dag.timetable.summary.startswith("Asset or"), dag.timetable.summary
