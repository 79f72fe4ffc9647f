"""What topology=cluster derives from the settings: node ports, client addresses, replication,
and each node's own configuration (pure functions: no service needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming_platform import config, es_indices, topics
from streaming_platform.runtime import elasticsearch, kafka, spark_cluster


def _settings(tmp_path: Path, **env: str) -> config.Settings:
    base = {"PLATFORM_HOME": str(tmp_path), "PLATFORM_TOPOLOGY": "cluster"}
    return config.load(env={**base, **env}, overrides={})


def test_client_addresses_list_every_node_and_follow_the_base_ports(tmp_path: Path) -> None:
    s = _settings(tmp_path, PLATFORM_KAFKA_PORT="19092", PLATFORM_KAFKA_CONTROLLER_PORT="19093")
    assert s["kafka.bootstrap.servers"] == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    assert s["es.url"] == "http://127.0.0.1:9200,http://127.0.0.1:9201"
    assert s["spark.master"] == "spark://127.0.0.1:7077"
    assert config.es_hosts(s["es.url"]) == ["http://127.0.0.1:9200", "http://127.0.0.1:9201"]
    ports = [p for n in config.kafka_nodes(s) for p in (n.port, n.controller_port)]
    assert ports == list(range(19092, 19098))
    # Embedded: one of each, as before.
    e = config.load(env={"PLATFORM_HOME": str(tmp_path)}, overrides={})
    assert (e["kafka.bootstrap.servers"], e["es.url"], e["spark.master"]) == (
        "127.0.0.1:9092",
        "http://127.0.0.1:9200",
        "local[2]",
    )


def test_explicit_values_win_over_the_derived_ones(tmp_path: Path) -> None:
    s = _settings(tmp_path, PLATFORM_SPARK_MASTER="local[1]", PLATFORM_KAFKA_TOPIC_REPLICATION_FACTOR="2")
    assert s["spark.master"] == "local[1]"
    assert s["kafka.topic.replication.factor"] == 2


def test_colliding_node_ports_are_refused(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="share ports"):
        _settings(tmp_path, PLATFORM_KAFKA_PORT="9092", PLATFORM_KAFKA_CONTROLLER_PORT="9094")


def test_replication_follows_the_topology(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    for spec in topics.topic_specs(s):
        assert spec.replication_factor == 3
        assert spec.config["min.insync.replicas"] == "2"
    for body in es_indices.templates(s).values():
        assert body["template"]["settings"]["number_of_replicas"] == 1
    e = config.load(env={"PLATFORM_HOME": str(tmp_path)}, overrides={})
    assert {spec.replication_factor for spec in topics.topic_specs(e)} == {1}
    assert {b["template"]["settings"]["number_of_replicas"] for b in es_indices.templates(e).values()} == {0}


def test_kafka_nodes_form_a_three_voter_quorum(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    nodes = config.kafka_nodes(s)
    props = [
        dict(line.split("=", 1) for line in kafka.server_properties(s, n).splitlines() if line) for n in nodes
    ]
    voters = "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097"
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    assert {p["controller.quorum.voters"] for p in props} == {voters}
    assert [p["listeners"] for p in props][1] == "PLAINTEXT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9095"
    assert {p["offsets.topic.replication.factor"] for p in props} == {"3"}
    assert {p["min.insync.replicas"] for p in props} == {"2"}
    assert len({p["log.dirs"] for p in props}) == 3
    assert [sp.name for sp in kafka.service_specs(s)] == ["kafka-1", "kafka-2", "kafka-3"]


def test_elasticsearch_nodes_discover_each_other(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    nodes = config.es_nodes(s)
    ymls = [elasticsearch.elasticsearch_yml(s, elasticsearch.es_home(s, n), n) for n in nodes]
    for yml in ymls:
        assert 'discovery.seed_hosts: ["127.0.0.1:9300", "127.0.0.1:9301"]' in yml
        assert 'cluster.initial_master_nodes: ["node-1", "node-2"]' in yml
        assert "single-node" not in yml
    assert "http.port: 9201" in ymls[1] and "transport.port: 9301" in ymls[1]
    assert [sp.name for sp in elasticsearch.service_specs(s)] == ["elasticsearch-1", "elasticsearch-2"]


def test_spark_cluster_only_under_the_cluster_topology(tmp_path: Path) -> None:
    s = _settings(tmp_path, PLATFORM_SPARK_CLUSTER_MASTER_PORT="17077")
    names = [sp.name for sp in spark_cluster.service_specs(s)]
    assert names == ["spark-master", "spark-worker-1", "spark-worker-2"]
    assert spark_cluster.from_settings(s).master_url == s["spark.master"] == "spark://127.0.0.1:17077"
    assert spark_cluster.service_specs(config.load(env={"PLATFORM_HOME": str(tmp_path)}, overrides={})) == []
