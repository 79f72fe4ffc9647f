"""The cluster topology for the tests: three Kafka brokers, two Elasticsearch nodes, a Spark
standalone master with two workers, all real processes on loopback.

A stack started with ``topology=cluster`` (``make up TOPOLOGY=cluster``) is reused. Otherwise the
suite starts one of its own with ``platform up``'s code, in ``$PLATFORM_HOME/cluster-tests`` on the
configured base ports + :data:`PORT_SHIFT` (so it runs beside the embedded stack the other tests
use), and stops it afterwards. A node that cannot start FAILS the suite with its log: never a skip.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming_platform import clients, config, es_indices, topics
from streaming_platform.runtime import cli
from streaming_platform.runtime.process import ServiceError
from tests.conftest import STACK_SETTINGS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # reference_model
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "streaming"))  # stream_harness

from stream_harness import Stream

CLUSTER_SERVICES = ["kafka", "elasticsearch", "spark"]
# Beyond the embedded stack's ports: Kafka +0..+5 and Elasticsearch +0..+1 from each base.
PORT_SHIFT = 20
SHIFTED = (
    "kafka.port",
    "kafka.controller.port",
    "es.port",
    "es.transport.port",
    "spark.ui.port",
    "spark.cluster.master.port",
    "spark.cluster.master.ui.port",
)


def _own_cluster_env() -> dict[str, str]:
    base = STACK_SETTINGS
    env = {k: v for k, v in os.environ.items() if k.startswith("PLATFORM_")}
    # Client addresses must derive from the shifted ports, not from the embedded stack's.
    for name in ("kafka.bootstrap.servers", "es.url", "spark.master", "airflow.url"):
        env.pop(config.option(name).env, None)
    env.update({config.option(n).env: str(base[n] + PORT_SHIFT) for n in SHIFTED})
    env["PLATFORM_TOPOLOGY"] = "cluster"
    env["PLATFORM_HOME"] = str(base.home / "cluster-tests")
    env.setdefault("PLATFORM_KAFKA_HEAP", "256m")  # three brokers on a shared machine
    return env


@pytest.fixture(scope="session")
def cluster_env() -> Iterator[dict[str, str]]:
    """``PLATFORM_*`` variables of a running cluster topology (started here if need be)."""
    reuse = STACK_SETTINGS["topology"] == "cluster"
    env = {k: v for k, v in os.environ.items() if k.startswith("PLATFORM_")} if reuse else _own_cluster_env()
    settings = config.load(env=env, overrides={})
    try:
        cli.up(settings, CLUSTER_SERVICES)  # the three engines start side by side
    except Exception as exc:
        if not reuse:
            cli.down(settings, CLUSTER_SERVICES)
        if isinstance(exc, ServiceError | config.ConfigError):
            pytest.fail(f"the cluster topology could not start: {exc}", pytrace=False)
        raise
    try:
        yield env
    finally:
        if reuse:  # a stack of the user's: bring back the nodes the tests killed
            cli.up(settings, CLUSTER_SERVICES)
        else:  # the suite's own, in its own folder: every node goes
            cli.down(settings, CLUSTER_SERVICES)


@pytest.fixture
def cluster_stream(cluster_env: dict[str, str], tmp_path: Path) -> Iterator[Stream]:
    """One test's pipeline on the cluster: topics, templates, indices and checkpoint of its own."""
    run = f"ct-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"
    env = {
        **cluster_env,
        "PLATFORM_KAFKA_TOPIC_EVENTS": f"{run}-events",
        "PLATFORM_KAFKA_TOPIC_DEADLETTER": f"{run}-dlq",
        "PLATFORM_KAFKA_CONSUMER_GROUP": f"{run}-group",
        "PLATFORM_ES_INDEX_AGGREGATES": f"{run}-metrics",
        "PLATFORM_ES_INDEX_CUSTOMERS": f"{run}-customers",
        "PLATFORM_ES_INDEX_QUARANTINE": f"{run}-quarantine",
        "PLATFORM_ES_INDEX_RUNTIME": f"{run}-runtime",
        "PLATFORM_SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
    }
    settings = config.load(env=env, overrides={})
    admin, es = clients.kafka_admin(settings), clients.es_client(settings)
    topics.ensure_topics(settings, admin)
    es_indices.ensure_templates(es, settings)
    yield Stream(settings, env, es, admin, tmp_path)
    # Best effort: the nodes a test killed may still be missing.
    names = [settings[f"kafka.topic.{t}"] for t in ("events", "deadletter")]
    for future in admin.delete_topics(names).values():
        try:
            future.result(30)
        except Exception:  # noqa: BLE001 - cleanup must not hide the result
            pass
    for name in es_indices.templates(settings):
        es.options(ignore_status=404).indices.delete_index_template(name=name)
    es_indices.delete_app_indices(es, settings)
