"""Reprocessing on the real services: a second instance of the app computes a new version of the
results from the topic's history beside the live one; the aliases switch atomically; the live app
goes on from the new version; a reprocess from a time counts only what came at or after it."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import pytest
import reference_model as ref
from stream_harness import Stream, all_docs, assert_exact, produce_known, produce_values
from test_state import event

from streaming_platform import config
from streaming_platform.es_indices import version_indices
from streaming_platform.orchestration import reprocess
from streaming_platform.streaming import live_version

pytestmark = pytest.mark.integration

VOLATILE = {"batch_id", "updated_at", "quarantined_at"}  # when, not what


def _docs(stream: Stream, version: int, key: str) -> dict[str, dict]:
    """A version's documents, without the fields that say when they were written."""
    index = version_indices(stream.settings, version)[key]
    view = dataclasses.replace(
        stream, settings=config.load(env={**stream.env, _env(key): index}, overrides={})
    )
    return {i: {k: v for k, v in d.items() if k not in VOLATILE} for i, d in all_docs(view, key).items()}


def _env(key: str) -> str:
    return f"PLATFORM_ES_INDEX_{key.upper()}"


def _aliased(stream: Stream) -> set[str]:
    name = stream.settings["es.index.aggregates"]
    return set(stream.es.indices.get_alias(name=name))


def test_reprocess_switch_and_a_reprocess_from_a_time(stream: Stream) -> None:
    records = produce_known(stream, 3000, seed=31)
    proc = stream.app("--available-now", name="live")
    assert stream.wait(proc, name="live") == 0, stream.log_tail("live")
    assert_exact(stream, records)

    # Version 2 from the earliest offset, beside the live version 1 (readers stay on 1).
    version = reprocess.prepare(stream.settings)
    assert version == 2
    proc = stream.app(*reprocess.app_args(version, "earliest"), name="v2")
    assert stream.wait(proc, name="v2") == 0, stream.log_tail("v2")
    assert "version 2 caught up" in stream.log_tail("v2")
    assert _aliased(stream) == {version_indices(stream.settings, 1)["aggregates"]}
    for key in ("customers", "aggregates", "quarantine"):  # the same history: the same documents
        assert _docs(stream, 2, key) == _docs(stream, 1, key), key

    # The switch: readers on version 2, the live app goes on from its checkpoint.
    assert reprocess.switch(version, stream.settings) == 1
    assert _aliased(stream) == {version_indices(stream.settings, 2)["aggregates"]}
    assert live_version(stream.settings) == 2
    since = int(time.time() * 1000) - 1
    later = produce_values(
        stream, [event(f"after-{i}", f"c{i % 4:07d}", since + i, "view") for i in range(40)]
    )
    proc = stream.app("--available-now", name="live-v2")
    assert stream.wait(proc, name="live-v2") == 0, stream.log_tail("live-v2")
    assert_exact(stream, records, later)
    assert _docs(stream, 1, "customers") != _docs(stream, 2, "customers")  # version 1 stopped

    # Version 3 from a time: only the records stamped at or after it.
    start = datetime.fromtimestamp(later[0].kafka_ms / 1000, UTC).isoformat()
    version = reprocess.prepare(stream.settings)
    proc = stream.app(*reprocess.app_args(version, start), name="v3")
    assert stream.wait(proc, name="v3") == 0, stream.log_tail("v3")
    s = stream.settings
    exp = ref.compute(
        [later], config.duration_ms(s["spark.window.duration"]), config.duration_ms(s["spark.watermark"])
    )
    customers = _docs(stream, 3, "customers")
    assert set(customers) == set(exp.customers)
    for cid, doc in customers.items():
        assert {k: doc[k] for k in ref.CUSTOMER_FIELDS} == {
            k: exp.customers[cid][k] for k in ref.CUSTOMER_FIELDS
        }
    windows = _docs(stream, 3, "aggregates")
    assert {w: d["events"] for w, d in windows.items()} == {
        f"{ws}-{cat}": w["events"] for (ws, cat), w in exp.windows.items()
    }
