"""The configuration module: one definition per option, sources resolved in order, validation."""

from __future__ import annotations

import pytest

from streaming_platform import config


def test_every_option_has_a_doc_and_a_valid_default():
    names = [o.name for o in config.OPTIONS]
    assert len(names) == len(set(names))
    for opt in config.OPTIONS:
        assert opt.doc.endswith("."), opt.name
        opt.parse(opt.default)


def test_sources_resolve_default_then_saved_then_environment():
    s = config.load(env={}, overrides={"spark.trigger.interval": "5 seconds"})
    assert s["spark.trigger.interval"] == "5 seconds" and s.source("spark.trigger.interval") == "saved"
    assert s.source("kafka.port") == "default"
    s = config.load(
        env={"PLATFORM_SPARK_TRIGGER_INTERVAL": "1 second"}, overrides={"spark.trigger.interval": "5 seconds"}
    )
    assert s["spark.trigger.interval"] == "1 second" and s.source("spark.trigger.interval") == "environment"


def test_types_are_parsed_from_strings():
    s = config.load(
        env={"PLATFORM_KAFKA_TOPIC_PARTITIONS": "6", "PLATFORM_HEALTH_MAX_QUARANTINE_RATE": "0.1"},
        overrides={},
    )
    assert s["kafka.topic.partitions"] == 6
    assert s["health.max.quarantine.rate"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("kafka.topic.partitions", "0", "greater than 0"),
        ("spark.trigger.interval", "fast", "'30 seconds'"),
        ("health.max.quarantine.rate", "1.5", "between 0 and 1"),
        ("spark.watermark", "ten minutes", "'30 seconds'"),
        ("kafka.topic.retention.ms", "-5", "greater than 0"),
    ],
)
def test_dashboard_edits_are_validated(name, value, rule):
    with pytest.raises(config.ConfigError, match=rule):
        config.validate_overrides({name: value})


def test_only_editable_options_can_be_edited():
    with pytest.raises(config.ConfigError, match="cannot be edited"):
        config.validate_overrides({"es.url": "http://elsewhere:9200"})


def test_secrets_are_masked_in_describe():
    s = config.load(env={"PLATFORM_ES_PASSWORD": "hunter2"}, overrides={})
    row = next(r for r in s.describe() if r["name"] == "es.password")
    assert row["value"] == "***" and "hunter2" not in str(s.describe())


def test_client_addresses_follow_moved_ports_unless_set():
    s = config.load(env={"PLATFORM_KAFKA_PORT": "19092", "PLATFORM_ES_PORT": "19200"}, overrides={})
    assert s["kafka.bootstrap.servers"] == "127.0.0.1:19092"
    assert s["es.url"] == "http://127.0.0.1:19200"
    assert s["airflow.url"] == config.option("airflow.url").default
    s = config.load(
        env={"PLATFORM_KAFKA_PORT": "19092", "PLATFORM_KAFKA_BOOTSTRAP_SERVERS": "broker:9092"}, overrides={}
    )
    assert s["kafka.bootstrap.servers"] == "broker:9092"


@pytest.mark.parametrize(
    ("text", "seconds"), [("0 seconds", 0), ("1 minute", 60), ("2 hours", 7200), ("500 milliseconds", 0.5)]
)
def test_duration_seconds(text, seconds):
    assert config.duration_seconds(text) == seconds


def test_duration_seconds_refuses_other_text():
    with pytest.raises(ValueError, match="not a duration"):
        config.duration_seconds("fast")
