"""Real Kafka + Elasticsearch for the streaming tests, with names of their own per test.

The services are the configured ones (``platform test`` starts them; or ``platform up kafka
elasticsearch``). If one is unreachable the tests FAIL with the address tried — they never skip,
so a broken stack can not pass as green. Each test gets unique topic, index and checkpoint names
through settings overrides (``PLATFORM_*`` variables handed to the app too), so runs and tests
never see each other's data; they are deleted afterwards.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException

from streaming_platform import clients, config, es_indices, topics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # reference_model
sys.path.insert(0, str(Path(__file__).resolve().parent))  # stream_harness

from stream_harness import Stream


def _require_services(settings: config.Settings) -> tuple[Any, Any]:
    admin = clients.kafka_admin(settings)
    try:
        admin.list_topics(timeout=10)
    except KafkaException as exc:
        pytest.fail(f"Kafka not reachable at {settings['kafka.bootstrap.servers']}: {exc}", pytrace=False)
    es = clients.es_client(settings)
    if not es.ping():
        pytest.fail(f"Elasticsearch not reachable at {settings['es.url']}", pytrace=False)
    return admin, es


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[Stream]:
    run = f"it-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if k.startswith("PLATFORM_")}
    env.update(
        {
            "PLATFORM_KAFKA_TOPIC_EVENTS": f"{run}-events",
            "PLATFORM_KAFKA_TOPIC_DEADLETTER": f"{run}-dlq",
            "PLATFORM_KAFKA_CONSUMER_GROUP": f"{run}-group",
            "PLATFORM_ES_INDEX_AGGREGATES": f"{run}-metrics",
            "PLATFORM_ES_INDEX_CUSTOMERS": f"{run}-customers",
            "PLATFORM_ES_INDEX_QUARANTINE": f"{run}-quarantine",
            "PLATFORM_ES_INDEX_RUNTIME": f"{run}-runtime",
            "PLATFORM_SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        }
    )
    settings = config.load(env=env, overrides={})
    admin, es = _require_services(settings)
    topics.ensure_topics(settings, admin)
    es_indices.ensure_templates(es, settings)
    yield Stream(settings, env, es, admin, tmp_path)
    # Clean up what this test created (best effort: a failure here must not hide the result).
    names = [settings[f"kafka.topic.{t}"] for t in ("events", "deadletter")]
    for future in admin.delete_topics(names).values():
        try:
            future.result(30)
        except KafkaException:
            pass
    for name in es_indices.templates(settings):
        es.options(ignore_status=404).indices.delete_index_template(name=name)
    es_indices.delete_app_indices(es, settings)
