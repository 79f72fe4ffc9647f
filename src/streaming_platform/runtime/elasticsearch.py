"""The embedded Elasticsearch node: a real 8.19 node assembled from Elasticsearch's Maven Central artifacts.

``mvn -q -f jvm/elasticsearch/pom.xml package`` lays the node out in :func:`layout_dir` (the server and
its dependencies, the transport-netty4 module, and four small pieces of ours that the distribution has
but Central lacks: the launcher, the entitlement agent, the ANSI console loader and the ``GET /`` module).

The process is our Java launcher (``jvm/elasticsearch/launcher``). It builds the node's JVM command line
as the official ``bin/elasticsearch`` does, passes the settings on the node's stdin and keeps that pipe
open; on SIGTERM it asks the node to shut down gracefully and exits with the node's exit code.

Elasticsearch refuses to run as root, so when we are root the process must run as :data:`UNPRIVILEGED`
(``run_as()``; :func:`prepare` chowns the node's writable folders to it). State lives in
``$PLATFORM_HOME/elasticsearch/{config,data,logs,tmp}``. Under ``topology=cluster`` two nodes
(``elasticsearch-1``, ``elasticsearch-2``; state in ``$PLATFORM_HOME/elasticsearch-cluster/node-N``)
find each other over loopback transport (``discovery.seed_hosts``) and bootstrap one cluster
(``cluster.initial_master_nodes``, both master-eligible). Absent from this node compared with the
distribution (no module on Central): Painless scripts, ``_update_by_query``/``_delete_by_query``,
the analysis-common analyzers, ingest pipelines and data streams.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from streaming_platform.config import REPO_ROOT, EsNode, Settings, es_nodes, is_loopback
from streaming_platform.runtime.java import java_binary, java_major
from streaming_platform.runtime.process import ServiceError, ServiceSpec, port_in_use

JVM_PROJECT = REPO_ROOT / "jvm" / "elasticsearch"
LAUNCHER_CLASS = "org.streamingplatform.es.launcher.Launcher"
BUILD_HINT = "mvn -q -f jvm/elasticsearch/pom.xml package"
UNPRIVILEGED = 65534  # nobody:nogroup
# 8.19 passes -Djava.security.manager=allow, which JDK 24+ rejects at start; 17 is what it was built for.
JAVA_RANGE = range(17, 24)
CLUSTER_NAME = "streaming-platform"

LOG4J2 = """\
# The node logs to stdout only: the supervisor keeps that stream ($PLATFORM_HOME/logs/elasticsearch.log).
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %marker%m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
# Deprecation notices are for upgrading clusters, not for a development node.
logger.deprecation.name = org.elasticsearch.deprecation
logger.deprecation.level = error
"""


def layout_dir() -> Path:
    """Where the Maven build put the runnable node (lib/, modules/, launcher/)."""
    return JVM_PROJECT / "target" / "node"


def is_cluster(settings: Settings) -> bool:
    return settings["topology"] == "cluster"


def es_home(settings: Settings, node: EsNode | None = None) -> Path:
    """The node's state folder, ``$PLATFORM_HOME/elasticsearch`` (a cluster's nodes: one each)."""
    if node is None or not is_cluster(settings):
        return settings.home / "elasticsearch"
    return settings.home / "elasticsearch-cluster" / node.name


def service_name(settings: Settings, node: EsNode) -> str:
    return f"elasticsearch-{node.name.removeprefix('node-')}" if is_cluster(settings) else "elasticsearch"


def run_as() -> int | None:
    """The uid (and gid) to run :func:`node_command` as: ``nobody`` when we are root, else ourselves."""
    return UNPRIVILEGED if os.geteuid() == 0 else None


def _discovery(settings: Settings, host: str) -> list[str]:
    if not is_cluster(settings):
        # One node that elects itself; no discovery, no bootstrap checks on loopback.
        return ["discovery.type: single-node"]
    nodes = es_nodes(settings)
    seeds = ", ".join(f'"{host}:{n.transport_port}"' for n in nodes)
    # Both nodes bootstrap the cluster the first time (the setting is ignored once it exists).
    masters = ", ".join(f'"{n.name}"' for n in nodes)
    return [f"discovery.seed_hosts: [{seeds}]", f"cluster.initial_master_nodes: [{masters}]"]


def elasticsearch_yml(settings: Settings, home: Path, node: EsNode | None = None) -> str:
    host = settings["bind.host"]
    _require_loopback(host)
    node = node or es_nodes(settings)[0]
    return "\n".join(
        [
            f"cluster.name: {CLUSTER_NAME}",
            f"node.name: {node.name}",
            f"network.host: {host}",
            f"http.port: {node.port}",
            f"transport.port: {node.transport_port}",
            *_discovery(settings, host),
            f"path.data: {home / 'data'}",
            f"path.logs: {home / 'logs'}",
            # The disk watermarks stay on (defaults 85 / 90 / 95 % used): at the flood stage the node
            # blocks writes to its indices rather than fill the disk (README, Troubleshooting).
            # No x-pack here (security is not even installed), so no xpack.* settings: they would be rejected.
            "",
        ]
    )


def prepare(settings: Settings, home: Path, node: EsNode | None = None) -> None:
    """Create ``home``'s folders, write elasticsearch.yml and log4j2.properties, hand the node its folders."""
    _require_layout()
    for sub in ("config", "data", "logs", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / "config" / "elasticsearch.yml").write_text(elasticsearch_yml(settings, home, node))
    (home / "config" / "log4j2.properties").write_text(LOG4J2)
    uid = run_as()
    if uid is None:
        return
    # The node only reads config (root-owned, world-readable) and writes data/logs/tmp.
    for sub in ("data", "logs", "tmp"):
        _chown_tree(home / sub, uid)
    for folder in (home / "config", *[p for p in [home, *home.parents] if p != Path("/")]):
        _require_traversable(folder)
    for path in (layout_dir(), *layout_dir().parents):
        if path != Path("/"):
            _require_traversable(path)


def node_command(settings: Settings, home: Path) -> tuple[list[str], dict[str, str]]:
    """argv and environment of the one foreground process that runs the node.

    Run it as :func:`run_as` (e.g. ``Popen(argv, env=env, user=uid, group=uid)``). SIGTERM stops the
    node gracefully (the launcher sends the shutdown marker and waits up to 120 s); the process exits
    with the node's exit code (0 after a clean stop).
    """
    layout = layout_dir()
    java = es_java()
    classpath = f"{layout / 'launcher' / 'launcher.jar'}:{layout / 'lib'}/*"
    argv = [
        java,
        # The launcher itself only parses settings and relays a pipe: keep it small.
        "-Xms8m",
        "-Xmx48m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-cp",
        classpath,
        LAUNCHER_CLASS,
        "--es-home",
        str(layout),
        "--config",
        str(home / "config"),
        "--tmp",
        str(home / "tmp"),
        "--heap",
        settings["es.heap"],
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        # Options meant for other JVMs must not reach the node (both JVMs would read them).
        if k not in {"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "ES_JAVA_OPTS", "CLASSPATH"}
    }
    env["LIBFFI_TMPDIR"] = str(home / "tmp")  # libffi (JNA) needs a writable, executable-mappable tmp
    env["HOME"] = str(home)  # root's HOME is not readable by the unprivileged user
    return argv, env


def es_java() -> str:
    """A Java the node accepts: $ES_JAVA_HOME, else the default java, else a JDK 17–23 in /usr/lib/jvm."""
    explicit = os.environ.get("ES_JAVA_HOME")
    candidates = [str(Path(explicit) / "bin" / "java")] if explicit else []
    try:
        candidates.append(java_binary())
    except ServiceError:
        pass
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        candidates += sorted(
            str(p / "bin" / "java") for p in jvm_root.iterdir() if (p / "bin" / "java").is_file()
        )
    for java in candidates:
        try:
            if java_major(java) in JAVA_RANGE:
                return java
        except (OSError, ServiceError):
            continue
    raise ServiceError(
        f"Elasticsearch 8.19 needs Java {JAVA_RANGE.start}–{JAVA_RANGE.stop - 1} (tried {candidates}); "
        "install openjdk-17-jdk-headless or set ES_JAVA_HOME."
    )


def _health(settings: Settings, node: EsNode) -> dict:
    import json
    import urllib.request

    url = f"http://{settings['bind.host']}:{node.port}/_cluster/health"
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.load(resp)


def healthy(settings: Settings, node: EsNode | None = None) -> bool:
    """The node's HTTP port answers ``GET /_cluster/health`` with a status other than red (so it
    is in an elected cluster)."""
    node = node or es_nodes(settings)[0]
    if not port_in_use(settings["bind.host"], node.port):
        return False
    return _health(settings, node).get("status") in {"green", "yellow"}


def node_spec(settings: Settings, node: EsNode) -> ServiceSpec:
    home = es_home(settings, node)
    argv, env = node_command(settings, home)
    nodes = es_nodes(settings)
    started = None
    if len(nodes) > 1:
        # No cluster before both master-eligible nodes met (a node opens HTTP only after its
        # 30 s wait for one): the first counts as started once its transport port listens, the
        # last once the cluster has every node.
        if node == nodes[-1]:
            started = lambda: _health(settings, node).get("number_of_nodes") == len(nodes)  # noqa: E731
        else:
            started = lambda: port_in_use(settings["bind.host"], node.transport_port)  # noqa: E731
    return ServiceSpec(
        name=service_name(settings, node),
        command=argv,
        env=env,
        ports=[node.port, node.transport_port],
        health=lambda: healthy(settings, node),
        started=started,
        prepare=lambda: prepare(settings, home, node),
        user=run_as(),
        timeout_s=120,
        stop_timeout_s=130,  # longer than the launcher's own 120 s graceful-stop limit
    )


def service_specs(settings: Settings) -> list[ServiceSpec]:
    """Every node, in start order (one embedded, two under topology=cluster)."""
    return [node_spec(settings, n) for n in es_nodes(settings)]


def spec(settings: Settings) -> ServiceSpec:
    return service_specs(settings)[0]


# --------------------------------------------------------------------------- helpers


def _require_layout() -> None:
    missing = [
        p
        for p in (layout_dir() / "launcher" / "launcher.jar", layout_dir() / "modules" / "transport-netty4")
        if not p.exists()
    ]
    if missing:
        raise ServiceError(f"the Elasticsearch node is not built ({missing[0]} missing): run `{BUILD_HINT}`.")


def _require_loopback(host: str) -> None:
    if not is_loopback(host):
        raise ServiceError(
            f"bind.host={host!r} is not a loopback address: the embedded Elasticsearch node has no security "
            "and must only listen on loopback (127.0.0.1)."
        )


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


def _require_traversable(path: Path) -> None:
    mode = path.stat().st_mode
    if not mode & stat.S_IXOTH or not mode & stat.S_IROTH:
        raise ServiceError(
            f"{path} is not readable by other users (mode {stat.filemode(mode)}); the Elasticsearch "
            f"node runs as uid {UNPRIVILEGED} and needs to read it: `chmod o+rx {path}`."
        )
