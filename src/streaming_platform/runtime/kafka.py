"""The embedded Apache Kafka broker: one KRaft process acting as broker and controller.

Storage is formatted once (``kafka.tools.StorageTool format --standalone``) under
``$PLATFORM_HOME/kafka``; later starts reuse it, so topics and offsets survive restarts.

Under ``topology=cluster`` three such processes (``kafka-1`` … ``kafka-3``, state in
``$PLATFORM_HOME/kafka-cluster/node-N``) form one cluster: each is broker and controller, the
three controllers a static 3-voter quorum (``controller.quorum.voters``), so any one node may
fail. Internal topics are replicated 3 times with ``min.isr`` 2, like the platform's topics.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from streaming_platform.clients import kafka_admin
from streaming_platform.config import KafkaNode, Settings, kafka_nodes
from streaming_platform.runtime.java import jars, require_java
from streaming_platform.runtime.process import ServiceError, ServiceSpec, port_in_use

MAIN_CLASS = "kafka.Kafka"


def is_cluster(settings: Settings) -> bool:
    return settings["topology"] == "cluster"


def service_name(settings: Settings, node: KafkaNode) -> str:
    return f"kafka-{node.node_id}" if is_cluster(settings) else "kafka"


def kafka_home(settings: Settings, node: KafkaNode | None = None) -> Path:
    if node is None or not is_cluster(settings):
        return settings.home / "kafka"
    return settings.home / "kafka-cluster" / f"node-{node.node_id}"


def _replication(settings: Settings) -> list[str]:
    """Replicas of internal and default topics: one per node, ``min.isr`` one less (one may fail)."""
    rf = len(kafka_nodes(settings))
    isr = max(1, rf - 1)
    return [
        f"offsets.topic.replication.factor={rf}",
        f"transaction.state.log.replication.factor={rf}",
        f"transaction.state.log.min.isr={isr}",
        f"share.coordinator.state.topic.replication.factor={rf}",
        f"share.coordinator.state.topic.min.isr={isr}",
        f"default.replication.factor={rf}",
        f"min.insync.replicas={isr}",
    ]


def server_properties(settings: Settings, node: KafkaNode | None = None) -> str:
    node = node or kafka_nodes(settings)[0]
    host, port, cport = settings["bind.host"], node.port, node.controller_port
    data = kafka_home(settings, node) / "data"
    if is_cluster(settings):
        voters = ",".join(f"{n.node_id}@{host}:{n.controller_port}" for n in kafka_nodes(settings))
        quorum = f"controller.quorum.voters={voters}"
    else:
        quorum = f"controller.quorum.bootstrap.servers={host}:{cport}"
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            quorum,
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data}",
            f"num.partitions={settings['kafka.topic.partitions']}",
            # Internal topics: a replica on every node (a single node can hold only one).
            *_replication(settings),
            # Topics are created explicitly (platform_setup DAG), never by a typo in a client.
            "auto.create.topics.enable=false",
            # A fresh consumer group should not wait 3 s for peers that will never join.
            "group.initial.rebalance.delay.ms=0",
            "log.retention.hours=168",
            # Topics not made by platform_setup (tests, ad-hoc) are size-bounded too.
            f"log.retention.bytes={settings['kafka.topic.retention.bytes']}",
            "",
        ]
    )


def _classpath() -> str:
    return ":".join(str(p) for p in jars("kafka"))


def _jvm(settings: Settings, java: str, node: KafkaNode | None = None) -> list[str]:
    heap = settings["kafka.heap"]
    log4j = kafka_home(settings, node) / "log4j2.properties"
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        _classpath(),
    ]


LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def _cluster_id(settings: Settings, base: list[str]) -> str:
    """A new cluster id; under topology=cluster one shared by the nodes (kept beside them)."""
    shared = settings.home / "kafka-cluster" / "cluster.id"
    if is_cluster(settings) and shared.exists():
        return shared.read_text().strip()
    made = subprocess.run(
        [*base, "kafka.tools.StorageTool", "random-uuid"], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        raise ServiceError(f"kafka storage random-uuid failed: {made.stderr[-2000:]}")
    if is_cluster(settings):
        shared.parent.mkdir(parents=True, exist_ok=True)
        shared.write_text(made.stdout.strip())
    return made.stdout.strip()


def prepare(settings: Settings, node: KafkaNode | None = None) -> None:
    """Write server.properties and format the KRaft storage on the first start only."""
    home = kafka_home(settings, node)
    home.mkdir(parents=True, exist_ok=True)
    (home / "server.properties").write_text(server_properties(settings, node))
    (home / "log4j2.properties").write_text(LOG4J2)
    if (home / "data" / "meta.properties").exists():
        return
    java = require_java()
    base = _jvm(settings, java, node)
    # One node bootstraps its own quorum; the cluster's voters are static in server.properties.
    standalone = [] if is_cluster(settings) else ["--standalone"]
    fmt = subprocess.run(
        [
            *base,
            "kafka.tools.StorageTool",
            "format",
            *standalone,
            "-t",
            _cluster_id(settings, base),
            "-c",
            str(home / "server.properties"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        raise ServiceError(f"kafka storage format failed: {fmt.stdout[-1000:]}{fmt.stderr[-2000:]}")


def healthy(settings: Settings, node: KafkaNode | None = None) -> bool:
    """The broker listens and answers a metadata request on its client listener (and names
    itself among the brokers: it has joined the cluster)."""
    node = node or kafka_nodes(settings)[0]
    host = settings["bind.host"]
    if not port_in_use(host, node.port):
        return False
    # log_level 0: a probe that runs before the broker is up must not flood the console.
    admin = kafka_admin(settings, log_level=0, **{"bootstrap.servers": f"{host}:{node.port}"})
    meta = admin.list_topics(timeout=2)
    return node.node_id in meta.brokers


def node_spec(settings: Settings, node: KafkaNode) -> ServiceSpec:
    java = require_java()
    nodes = kafka_nodes(settings)
    # A broker serves once a quorum of controllers elected a leader: the nodes before the last
    # count as started once their controller listens, the last once every broker has joined.
    if len(nodes) == 1:
        started = None
    elif node == nodes[-1]:
        started = lambda: all(healthy(settings, n) for n in nodes)  # noqa: E731
    else:
        started = lambda: port_in_use(settings["bind.host"], node.controller_port)  # noqa: E731
    return ServiceSpec(
        name=service_name(settings, node),
        command=[
            *_jvm(settings, java, node),
            MAIN_CLASS,
            str(kafka_home(settings, node) / "server.properties"),
        ],
        ports=[node.port, node.controller_port],
        health=lambda: healthy(settings, node),
        started=started,
        prepare=lambda: prepare(settings, node),
        timeout_s=90,
    )


def service_specs(settings: Settings) -> list[ServiceSpec]:
    """Every node, in start order (one embedded, three under topology=cluster)."""
    return [node_spec(settings, n) for n in kafka_nodes(settings)]


def spec(settings: Settings) -> ServiceSpec:
    return service_specs(settings)[0]
