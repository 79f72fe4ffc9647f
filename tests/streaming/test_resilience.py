"""The stream rides out outages and poison input, on the real services.

Elasticsearch stopped for 60 s and the Kafka broker restarted, both mid-stream: the app stays up
(it says what it waits for), resumes when they answer, and Elasticsearch then holds exactly what
the reference model computes. A record with a 40 KB key is quarantined (its key bounded), and a
document Elasticsearch refuses is quarantined with its reason while the rest of its bulk is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import reference_model as ref
from stream_harness import Stream, all_docs, assert_exact, kill, produce_known

from streaming_platform import clients
from streaming_platform.runtime import elasticsearch, kafka, process
from streaming_platform.streaming import app_checkpoint, read_status, stop_file
from streaming_platform.streaming.sink import bulk_write, ndjson

pytestmark = pytest.mark.integration

SMALL_BATCHES = {
    "PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER": "1000",
    "PLATFORM_SPARK_TRIGGER_INTERVAL": "1 second",
}


def _runtime_rows(stream: Stream) -> int:
    index = stream.settings["es.index.runtime"]
    if not stream.es.indices.exists(index=index):
        return 0
    return sum(d["input_rows"] for d in all_docs(stream, "runtime").values())


def _wait_for(
    what: str, ok: Callable[[], bool], proc, stream: Stream, name: str, timeout: float = 300
) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert proc.poll() is None, f"the app exited while waiting for {what}\n{stream.log_tail(name)}"
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s\n{stream.log_tail(name)}"
        time.sleep(0.5)


def _outage_run(
    stream: Stream, records: list[ref.KafkaRecord], name: str, outage: Callable[[], None]
) -> None:
    """Start the app, cause ``outage`` once batches flow, then let it finish and stop it."""
    proc = stream.app(name=name, **SMALL_BATCHES)
    _wait_for("two batches", lambda: _runtime_rows(stream) >= 2000, proc, stream, name)
    outage()
    assert proc.poll() is None, f"the app exited during the outage\n{stream.log_tail(name)}"
    _wait_for("every record", lambda: _runtime_rows(stream) >= len(records), proc, stream, name)
    stop_file(stream.settings).touch()
    assert stream.wait(proc, 180, name=name) == 0, stream.log_tail(name)
    assert_exact(stream, records)


def test_elasticsearch_down_60s_mid_stream_is_waited_out_exactly(stream: Stream, settings, paths) -> None:
    records = produce_known(stream, 20_000, seed=21)
    said: list[str] = []

    def outage() -> None:
        assert process.stop("elasticsearch", paths, 120), "elasticsearch was not started by the platform"
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 60:
                status = read_status(app_checkpoint(stream.settings))
                if "Elasticsearch" in status.get("waiting_for", {}):
                    said.append(status["detail"])
                time.sleep(1)
        finally:
            process.start(elasticsearch.spec(settings), paths, settings["bind.host"])

    _outage_run(stream, records, "es-outage", outage)
    assert said and said[-1].startswith("waiting for Elasticsearch since"), said
    assert "waiting for Elasticsearch since" in stream.log_tail("es-outage", 2000)
    assert "Elasticsearch answers again" in stream.log_tail("es-outage", 2000)
    assert read_status(app_checkpoint(stream.settings)).get("waiting_for") == {}


def test_kafka_broker_restart_mid_stream_is_waited_out_exactly(stream: Stream, settings, paths) -> None:
    records = produce_known(stream, 20_000, seed=22)

    def outage() -> None:
        assert process.stop("kafka", paths), "kafka was not started by the platform"
        time.sleep(10)
        process.start(kafka.spec(settings), paths, settings["bind.host"])

    _outage_run(stream, records, "kafka-restart", outage)


def test_a_record_with_a_huge_key_is_quarantined_and_the_stream_goes_on(stream: Stream) -> None:
    records = produce_known(stream, 3000, seed=23)
    producer = clients.kafka_producer(stream.settings)
    got: list[ref.KafkaRecord] = []
    producer.produce(
        stream.settings["kafka.topic.events"],
        key=b"k" * 40_000,
        value=b"not json",
        on_delivery=lambda err, m: got.append(
            ref.KafkaRecord(m.partition(), m.offset(), m.timestamp()[1], m.value(), m.key())
        ),
    )
    assert producer.flush(30) == 0 and len(got) == 1
    records += produce_known(stream, 1000, seed=24)
    proc = stream.app("--available-now", name="poison")
    assert stream.wait(proc, name="poison") == 0, stream.log_tail("poison")
    assert_exact(stream, records + got)
    topic = stream.settings["kafka.topic.events"]
    doc = all_docs(stream, "quarantine")[f"{topic}-{got[0].partition}-{got[0].offset}"]
    assert doc["reasons"] == ["not_json"] and len(doc["key"]) == 1024


def test_documents_elasticsearch_refuses_are_quarantined_and_the_rest_written(stream: Stream) -> None:
    from streaming_platform.streaming.app import sink_config

    cfg = sink_config(stream.settings)
    index = stream.settings["es.index.aggregates"]
    good = {"window_start": 0, "window_end": 60_000, "product_category": "books", "events": 1}
    ops = ndjson(
        index, [("0-books", good), ("0-toys", {**good, "no_such_field": 1}), ("0-x", {"events": "x"})]
    )
    assert bulk_write(stream.es, ops, cfg) == 2
    assert set(all_docs(stream, "aggregates")) == {"0-books"}
    quarantine = all_docs(stream, "quarantine")
    assert quarantine[f"rejected-{index}-0-toys"]["reasons"] == [
        "rejected_by_elasticsearch:strict_dynamic_mapping_exception"
    ]
    assert quarantine[f"rejected-{index}-0-x"]["reason"].startswith("rejected_by_elasticsearch:")
    assert quarantine[f"rejected-{index}-0-x"]["key"] == f"{index}/0-x"


def test_a_restart_under_other_result_settings_is_refused_until_they_are_set_back(stream: Stream) -> None:
    records = produce_known(stream, 3000, seed=25)
    proc = stream.app("--available-now", name="first", PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER="1000")
    assert stream.wait(proc, name="first") == 0, stream.log_tail("first")
    records += produce_known(stream, 2000, seed=26)
    changed = stream.app("--available-now", name="changed", PLATFORM_VALIDATION_MAX_AMOUNT="50")
    assert stream.wait(changed, name="changed") == 2, stream.log_tail("changed")
    assert "validation.max.amount was '100000.0', now '50.0'" in stream.log_tail("changed")
    again = stream.app("--available-now", name="again")
    assert stream.wait(again, name="again") == 0, stream.log_tail("again")
    assert_exact(stream, records)


def test_a_kill_during_the_first_batch_of_a_fresh_checkpoint_leaves_it_startable(stream: Stream) -> None:
    records = produce_known(stream, 6000, seed=27)
    proc = stream.app(name="first-batch", PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER="1000")
    offsets = app_checkpoint(stream.settings) / "offsets"
    deadline = time.monotonic() + 300
    while not (offsets / "0").exists():  # Spark planned batch 0: it is running now
        assert proc.poll() is None and time.monotonic() < deadline, stream.log_tail("first-batch")
        time.sleep(0.05)
    kill(proc)
    assert not (app_checkpoint(stream.settings) / "commits" / "0").exists(), "the kill came too late"
    restarted = stream.app(
        "--available-now", name="after-kill", PLATFORM_SPARK_MAX_OFFSETS_PER_TRIGGER="1000"
    )
    assert stream.wait(restarted, name="after-kill") == 0, stream.log_tail("after-kill")
    assert_exact(stream, records)
