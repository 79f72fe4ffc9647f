"""Which database Airflow uses, and how it reaches it: derived from the topology, no password leaks."""

from __future__ import annotations

from pathlib import Path

from streaming_platform import config
from streaming_platform.runtime import airflow, cli, postgres


def _settings(tmp_path: Path, **env: str) -> config.Settings:
    return config.load(env={"PLATFORM_HOME": str(tmp_path), **env}, overrides={})


def test_database_follows_the_topology_unless_set(tmp_path: Path) -> None:
    assert _settings(tmp_path)["airflow.database"] == "sqlite"
    assert _settings(tmp_path, PLATFORM_TOPOLOGY="cluster")["airflow.database"] == "postgres"
    explicit = _settings(tmp_path, PLATFORM_TOPOLOGY="cluster", PLATFORM_AIRFLOW_DATABASE="sqlite")
    assert explicit["airflow.database"] == "sqlite"


def test_postgres_is_started_only_as_airflows_database_and_before_it(tmp_path: Path) -> None:
    assert "postgres" not in cli.services_for(_settings(tmp_path))
    services = cli.services_for(_settings(tmp_path, PLATFORM_AIRFLOW_DATABASE="postgres"))
    assert services.index("postgres") == services.index("airflow") - 1


def test_airflow_reads_the_postgres_url_from_a_file_not_the_environment(tmp_path: Path) -> None:
    settings = _settings(tmp_path, PLATFORM_AIRFLOW_DATABASE="postgres", PLATFORM_POSTGRES_PORT="15999")
    env = airflow.airflow_env(settings)
    secret = postgres.password(settings)

    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"] == f"cat {postgres.url_file(settings)}"
    assert not any(secret in value for value in env.values())
    assert postgres.password_file(settings).stat().st_mode & 0o077 == 0
    assert postgres.sqlalchemy_url(settings).startswith("postgresql+psycopg2://airflow:")
    assert postgres.sqlalchemy_url(settings).endswith("@127.0.0.1:15999/airflow")


def test_sqlite_stays_the_embedded_database(tmp_path: Path) -> None:
    env = airflow.airflow_env(_settings(tmp_path))
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(f"sqlite:///{tmp_path}/airflow/airflow.db")
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD" not in env
