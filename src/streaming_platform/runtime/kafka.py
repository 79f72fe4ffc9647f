"""The embedded Apache Kafka broker: one KRaft process acting as broker and controller.

Storage is formatted once (``kafka.tools.StorageTool format --standalone``) under
``$PLATFORM_HOME/kafka``; later starts reuse it, so topics and offsets survive restarts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from streaming_platform.clients import kafka_admin
from streaming_platform.config import Settings
from streaming_platform.runtime.java import jars, require_java
from streaming_platform.runtime.process import ServiceError, ServiceSpec, port_in_use

MAIN_CLASS = "kafka.Kafka"


def kafka_home(settings: Settings) -> Path:
    return settings.home / "kafka"


def server_properties(settings: Settings) -> str:
    host, port, cport = settings["bind.host"], settings["kafka.port"], settings["kafka.controller.port"]
    data = kafka_home(settings) / "data"
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers={host}:{cport}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data}",
            f"num.partitions={settings['kafka.topic.partitions']}",
            # Single node: internal topics cannot have more than one replica.
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
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


def _jvm(settings: Settings, java: str) -> list[str]:
    heap = settings["kafka.heap"]
    log4j = kafka_home(settings) / "log4j2.properties"
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


def prepare(settings: Settings) -> None:
    """Write server.properties and format the KRaft storage on the first start only."""
    home = kafka_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    (home / "server.properties").write_text(server_properties(settings))
    (home / "log4j2.properties").write_text(LOG4J2)
    if (home / "data" / "meta.properties").exists():
        return
    java = require_java()
    base = _jvm(settings, java)
    cluster_id = subprocess.run(
        [*base, "kafka.tools.StorageTool", "random-uuid"], capture_output=True, text=True, check=False
    )
    if cluster_id.returncode != 0:
        raise ServiceError(f"kafka storage random-uuid failed: {cluster_id.stderr[-2000:]}")
    fmt = subprocess.run(
        [
            *base,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id.stdout.strip(),
            "-c",
            str(home / "server.properties"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        raise ServiceError(f"kafka storage format failed: {fmt.stdout[-1000:]}{fmt.stderr[-2000:]}")


def healthy(settings: Settings) -> bool:
    """The broker listens and answers a metadata request on its client listener."""
    if not port_in_use(settings["bind.host"], settings["kafka.port"]):
        return False
    # log_level 0: a probe that runs before the broker is up must not flood the console.
    admin = kafka_admin(settings, log_level=0)
    meta = admin.list_topics(timeout=2)
    return bool(meta.brokers)


def spec(settings: Settings) -> ServiceSpec:
    java = require_java()
    return ServiceSpec(
        name="kafka",
        command=[*_jvm(settings, java), MAIN_CLASS, str(kafka_home(settings) / "server.properties")],
        ports=[settings["kafka.port"], settings["kafka.controller.port"]],
        health=lambda: healthy(settings),
        prepare=lambda: prepare(settings),
        timeout_s=90,
    )
