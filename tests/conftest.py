"""Fixtures shared by every test: the effective settings and loud service requirements.

Tests that need Kafka or Elasticsearch use the running embedded stack (``make test`` starts it,
or reuses one started by ``make up``). A service that cannot be reached FAILS the test with the
command that starts it: it is never skipped.
"""

from __future__ import annotations

import logging
import os

import pytest

from streaming_platform import config
from streaming_platform.runtime.process import Paths

# py4j logs "Closing down clientserver connection" from __del__ at interpreter exit, after
# pytest closed its log streams: a harmless but alarming "Logging error" traceback in CI output.
logging.getLogger("py4j").setLevel(logging.WARNING)

# The suite's Spark apps are short (a few batches each): the quick JIT alone starts them ~20 %
# sooner (see the spark.java.options option). The benches keep the default, full JIT.
os.environ.setdefault("PLATFORM_SPARK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1")

# The running stack's settings, read before tests/dags/conftest.py points PLATFORM_HOME at the
# Airflow test home (root conftest files load first): restart tests need the stack's PID files.
STACK_SETTINGS = config.load()


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    return STACK_SETTINGS


@pytest.fixture(scope="session")
def paths(settings: config.Settings) -> Paths:
    return Paths(settings.home)


def require(service: str, healthy: bool, where: str) -> None:
    if not healthy:
        pytest.fail(
            f"{service} is not reachable at {where}. Start the stack with `make up` (or run the "
            f"suite with `make test`, which starts what it needs). PLATFORM_HOME="
            f"{os.environ.get('PLATFORM_HOME', '(default)')}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def kafka_up(settings: config.Settings) -> config.Settings:
    from streaming_platform.runtime import kafka

    try:
        ok = kafka.healthy(settings)
    except Exception:  # noqa: BLE001 - any failure to connect means "not reachable"
        ok = False
    require("Kafka", ok, settings["kafka.bootstrap.servers"])
    return settings


@pytest.fixture(scope="session")
def es_up(settings: config.Settings) -> config.Settings:
    from streaming_platform.clients import es_client

    try:
        ok = bool(es_client(settings).ping())
    except Exception:  # noqa: BLE001
        ok = False
    require("Elasticsearch", ok, settings["es.url"])
    return settings


def drop_platform(settings: config.Settings) -> None:
    """Remove a test's topics, indices and templates (best effort: they are uniquely named)."""
    from streaming_platform import clients, es_indices

    es = clients.es_client(settings)
    es_indices.delete_app_indices(es, settings)
    es.options(ignore_status=404).indices.delete(index=settings["es.index.quality"])
    for name in es_indices.templates(settings):
        es.options(ignore_status=404).indices.delete_index_template(name=name)
    topics = [settings["kafka.topic.events"], settings["kafka.topic.deadletter"]]
    admin = clients.kafka_admin(settings)  # alive until the deletions answer: destroyed, it drops them
    for future in admin.delete_topics(topics).values():
        try:
            future.result(30)
        except Exception:  # noqa: BLE001 - a topic never created; cleanup must not hide the result
            pass
