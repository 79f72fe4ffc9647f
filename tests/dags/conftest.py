"""Airflow for the DAG tests: its own ``AIRFLOW_HOME`` and SQLite DB, never the running platform's.

Airflow reads its configuration once, when ``airflow`` is first imported, so the environment is
set when this conftest is loaded (before the test modules here are imported); the database
schema is created by the session fixture :func:`airflow_db`, once per test home and Airflow
version (``airflow db migrate`` takes a while; the home is kept between runs, see
``PLATFORM_TEST_HOME``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming_platform import config
from streaming_platform.runtime import airflow as airflow_runtime
from tests.conftest import drop_platform

TEST_HOME = Path(os.environ.get("PLATFORM_TEST_HOME", config.REPO_ROOT / ".platform" / "test"))

# Defaults plus the caller's PLATFORM_* environment, but no saved overrides and a home of our own.
SETTINGS = config.load(env={**os.environ, "PLATFORM_HOME": str(TEST_HOME)}, overrides={})

if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != str(airflow_runtime.airflow_home(SETTINGS)):
    raise RuntimeError(
        "airflow was imported before tests/dags/conftest.py could configure it; set the Airflow "
        "environment earlier (e.g. in tests/conftest.py) or do not import airflow at module level"
    )
os.environ.update(airflow_runtime.airflow_env(SETTINGS))
# The test process itself must find streaming_platform too (the env's PYTHONPATH is for children).
if str(config.REPO_ROOT / "src") not in sys.path:
    sys.path.insert(0, str(config.REPO_ROOT / "src"))


@pytest.fixture(scope="session")
def airflow_settings() -> config.Settings:
    """The platform settings the DAG tests run with (home: ``PLATFORM_TEST_HOME``)."""
    return SETTINGS


@pytest.fixture(scope="session")
def airflow_db(airflow_settings: config.Settings) -> Path:
    """A migrated Airflow metadata DB for ``dag.test()``; returns ``AIRFLOW_HOME``."""
    airflow_runtime.prepare_for_tests(airflow_settings)
    return airflow_runtime.airflow_home(airflow_settings)


# --------------------------------------------------------------------------- platform DAG runs


def _reachable(probe) -> bool:
    try:
        return bool(probe())
    except Exception:  # noqa: BLE001 - any failure to connect means "not reachable"
        return False


@pytest.fixture(scope="session")
def services(airflow_db: Path) -> config.Settings:
    """Kafka and Elasticsearch must be up: the DAG runs below talk to them. Fails, never skips."""
    from streaming_platform.clients import es_client
    from streaming_platform.runtime import kafka
    from tests.conftest import require

    settings = config.load()
    require("Kafka", _reachable(lambda: kafka.healthy(settings)), settings["kafka.bootstrap.servers"])
    require("Elasticsearch", _reachable(lambda: es_client(settings).ping()), settings["es.url"])
    return settings


def _unique_names(run: str, tmp: Path) -> dict[str, str]:
    """PLATFORM_* overrides giving this test run its own topics, indices, group and checkpoint."""
    names = {
        "kafka.topic.events": f"dagtest-{run}-events",
        "kafka.topic.deadletter": f"dagtest-{run}-dlq",
        "kafka.consumer.group": f"dagtest-{run}-group",
        "spark.checkpoint.dir": str(tmp / "checkpoints"),
    }
    for key in ("aggregates", "customers", "quarantine", "runtime", "quality"):
        names[f"es.index.{key}"] = f"dagtest-{run}-{key}"
    return {config.option(k).env: v for k, v in names.items()}


@contextlib.contextmanager
def _uniquely_named(tmp: Path) -> Iterator[config.Settings]:
    """Settings with fresh unique names (set in os.environ for the tasks); dropped afterwards."""
    import uuid

    env = _unique_names(uuid.uuid4().hex[:8], tmp)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    settings = config.load()
    try:
        yield settings
    finally:
        drop_platform(settings)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def isolated(
    services: config.Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[config.Settings]:
    """Unique topics, indices, group and checkpoint shared by this test run's pipeline tests."""
    with _uniquely_named(tmp_path_factory.mktemp("platform")) as settings:
        yield settings


@pytest.fixture
def fresh_platform(services: config.Settings, tmp_path: Path) -> Iterator[config.Settings]:
    """Unique names for one test: nothing of them exists yet."""
    with _uniquely_named(tmp_path) as settings:
        yield settings


def load_dag(name: str):
    """The DAG object of ``dags/<name>.py`` (imported fresh, like the DAG processor does)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"dagfile_{name}", airflow_runtime.DAGS_FOLDER / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)()
