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
        ("kafka.topic.partitions", "0", "between 1 and 256"),
        ("spark.trigger.interval", "fast", "'30 seconds'"),
        ("health.max.quarantine.rate", "1.5", "between 0 and 1"),
        ("spark.watermark", "ten minutes", "'30 seconds'"),
        ("kafka.topic.retention.ms", "-5", "between 3600000 and"),
    ],
)
def test_dashboard_edits_are_validated(name, value, rule):
    with pytest.raises(config.ConfigError, match=rule):
        config.validate_overrides({name: value})


# Each editable limit: a value just inside its bounds, and the values just and far outside them.
BOUNDS = {
    "kafka.topic.partitions": (256, [0, 257, 2**31], "between 1 and 256"),
    "kafka.topic.retention.ms": (
        3_600_000,
        [1, 3_599_999, 365 * 86_400_000 + 1],
        "between 3600000 and 31536000000",
    ),
    "kafka.topic.retention.bytes": (2**40, [1, 2**26 - 1, 2**40 + 1], "between 67108864 and 1099511627776"),
    "spark.trigger.interval": ("1 hour", ["61 minutes", "100000 hours"], "between 0 seconds and 1 hour"),
    "spark.max.offsets.per.trigger": (10_000_000, [0, 10_000_001, 2**63], "between 1 and 10000000"),
    "spark.customers.write.interval": ("60 minutes", ["3601 seconds"], "between 0 seconds and 1 hour"),
    "spark.outage.timeout": ("24 hours", ["9 seconds", "25 hours"], "between 10 seconds and 24 hours"),
    "health.min.free.disk.percent": (0.0, [-1, 100.5], "between 0 and 100"),
    "spark.window.duration": (
        "24 hours",
        ["0 seconds", "999 milliseconds", "25 hours"],
        "between 1 second and 24 hours",
    ),
    "spark.watermark": ("168 hours", ["169 hours", "99999999 minutes"], "between 0 seconds and 168 hours"),
    "spark.late.retention": ("0 seconds", ["169 hours"], "between 0 seconds and 168 hours"),
    "spark.shuffle.partitions": (200, [0, 201], "between 1 and 200"),
    "spark.driver.memory": ("64g", ["127m", "65g", "99999999g"], "between 128m and 64g"),
    "spark.es.bulk.docs": (100_000, [0, 100_001], "between 1 and 100000"),
    "spark.es.bulk.threads": (16, [0, 17], "between 1 and 16"),
    "validation.max.amount": (
        1e9,
        [0, 1e300, 1e9 + 0.01, "inf", "nan", "-inf"],
        "greater than 0 and at most 1000000000",
    ),
    "validation.max.quantity": (1_000_000, [0, 2**31, 2**31 - 1, 1_000_001], "between 1 and 1000000"),
    "validation.max.payload.bytes": (1024**2, [0, 1024**2 + 1], "between 1 and 1048576"),
    "validation.max.future.seconds": (86_400, [0, 86_401], "between 1 and 86400"),
    "health.max.consumer.lag": (10**9, [0, 10**9 + 1], "between 1 and 1000000000"),
    "health.max.staleness.seconds": (604_800, [0, 604_801], "between 1 and 604800"),
    "health.max.quarantine.rate": (1.0, [-0.1, 1.01, "nan"], "between 0 and 1"),
    "quality.max.docs": (5_000_000, [0, 5_000_001], "between 1 and 5000000"),
}


def test_every_editable_limit_is_bounded():
    """Every editable option that is a number or a size has a bounds case above."""
    editable = {o.name for o in config.OPTIONS if o.editable}
    assert editable == set(BOUNDS)


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_editable_limits_refuse_values_beyond_their_bounds(name):
    inside, outside, rule = BOUNDS[name]
    assert config.validate_overrides({name: inside}) == {name: config.option(name).parse(inside)}
    env = config.option(name).env
    for value in outside:
        with pytest.raises(config.ConfigError, match=rule) as raised:
            config.validate_overrides({name: value})
        assert name in str(raised.value) and env in str(raised.value)
        # The environment is held to the same bounds as the dashboard.
        with pytest.raises(config.ConfigError, match=rule):
            config.load(env={env: str(value)}, overrides={})


def test_whole_number_options_refuse_fractions():
    with pytest.raises(config.ConfigError, match="whole number"):
        config.validate_overrides({"validation.max.quantity": 2.5})
    with pytest.raises(config.ConfigError, match="whole number"):
        config.validate_overrides({"kafka.topic.partitions": True})
    assert config.validate_overrides({"validation.max.quantity": 7}) == {"validation.max.quantity": 7}


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


def test_platform_up_binds_beyond_loopback_only_when_allowed_and_guarded_by_the_token():
    from streaming_platform.runtime.cli import require_safe_bind

    require_safe_bind(config.load(env={}, overrides={}))
    remote = {"PLATFORM_BIND_HOST": "0.0.0.0"}
    with pytest.raises(SystemExit, match="PLATFORM_BIND_ALLOW_REMOTE"):
        require_safe_bind(config.load(env=remote, overrides={}))
    allowed = {**remote, "PLATFORM_BIND_ALLOW_REMOTE": "true"}
    with pytest.raises(SystemExit, match="PLATFORM_DASHBOARD_TOKEN"):
        require_safe_bind(config.load(env=allowed, overrides={}))
    require_safe_bind(config.load(env={**allowed, "PLATFORM_DASHBOARD_TOKEN": "t" * 32}, overrides={}))


def test_spark_java_options_reach_driver_and_executors_and_refuse_non_options():
    from streaming_platform.streaming import submit

    env = config.option("spark.java.options").env
    quick = config.load(env={env: "-XX:TieredStopAtLevel=1 -Dfoo=bar"}, overrides={})
    conf = submit.submit_conf(quick)
    assert conf["spark.driver.extraJavaOptions"] == conf["spark.executor.extraJavaOptions"]
    assert conf["spark.driver.extraJavaOptions"] == "-XX:TieredStopAtLevel=1 -Dfoo=bar"
    assert "spark.driver.extraJavaOptions" not in submit.submit_conf(config.load(env={}, overrides={}))
    for bad, rule in (("TieredStopAtLevel=1", "is not one"), ("-Xmx2g", "spark.driver.memory")):
        with pytest.raises(config.ConfigError, match=rule):
            config.load(env={env: bad}, overrides={})
