"""PostgreSQL for Airflow's metadata under ``airflow.database = postgres`` (the cluster topology).

The Debian PostgreSQL 15 server (``make setup`` installs the ``postgresql-15`` package when it is
missing), one cluster that holds only Airflow's metadata:

* data under ``$PLATFORM_HOME/postgres/data``, created by ``initdb`` on the first start; its one
  role is ``airflow`` (the bootstrap superuser), its database ``airflow``;
* the password is generated on the first start and kept in ``$PLATFORM_HOME/postgres/password``
  (mode 0600); it is never logged nor put in an environment variable: Airflow reads its connection
  URL from ``$PLATFORM_HOME/postgres/airflow.url`` through ``sql_alchemy_conn_cmd``;
* it listens on 127.0.0.1 only, on ``postgres.port``, with password (SCRAM) authentication, and
  its Unix socket in ``$PLATFORM_HOME/postgres/run`` (not the system's ``/var/run/postgresql``);
* the server refuses to run as root: under root it runs as the system user ``postgres`` (the
  Debian package creates it), which owns the data folder.

SIGTERM (what :func:`streaming_platform.runtime.process.stop` sends) is PostgreSQL's "smart"
shutdown: it waits for clients to disconnect, so Airflow is stopped first (``platform down`` stops
in reverse order).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from streaming_platform.config import Settings
from streaming_platform.runtime.process import ServiceError, ServiceSpec

if TYPE_CHECKING:
    import psycopg2.extensions

NAME = "postgres"
VERSION = "15"
BIN_DIR = Path(f"/usr/lib/postgresql/{VERSION}/bin")
HOST = "127.0.0.1"
ROLE = "airflow"
DATABASE = "airflow"
SYSTEM_USER = "postgres"
# Airflow's components and LocalExecutor workers each keep a small SQLAlchemy pool.
MAX_CONNECTIONS = 100
SHARED_BUFFERS = "64MB"


def pg_home(settings: Settings) -> Path:
    return settings.home / "postgres"


def data_dir(settings: Settings) -> Path:
    return pg_home(settings) / "data"


def socket_dir(settings: Settings) -> Path:
    return pg_home(settings) / "run"


def password_file(settings: Settings) -> Path:
    return pg_home(settings) / "password"


def url_file(settings: Settings) -> Path:
    """The SQLAlchemy URL Airflow connects with (``sql_alchemy_conn_cmd`` reads it)."""
    return pg_home(settings) / "airflow.url"


def binary(name: str) -> str:
    path = BIN_DIR / name
    if not path.exists():
        raise ServiceError(
            f"PostgreSQL {VERSION} is not installed ({path} missing): `make setup` installs it "
            f"(apt-get install postgresql-{VERSION})."
        )
    return str(path)


def run_as() -> int | None:
    """The uid to run the server as: the ``postgres`` system user when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER).pw_uid
    except KeyError:
        raise ServiceError(
            f"no system user {SYSTEM_USER!r} to run PostgreSQL as (it refuses root); the "
            f"postgresql-{VERSION} package creates it: `make setup`."
        ) from None


def _gid(uid: int) -> int:
    return pwd.getpwuid(uid).pw_gid


def password(settings: Settings) -> str:
    """The ``airflow`` role's password, generated on first use and kept in the state folder."""
    path = password_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def sqlalchemy_url(settings: Settings) -> str:
    """``postgresql+psycopg2://airflow:…@127.0.0.1:<port>/airflow`` (holds the password: not for logs)."""
    secret = quote(password(settings), safe="")
    return f"postgresql+psycopg2://{ROLE}:{secret}@{HOST}:{settings['postgres.port']}/{DATABASE}"


def connect(settings: Settings, timeout_s: int = 3) -> psycopg2.extensions.connection:
    """A psycopg2 connection to Airflow's database as the ``airflow`` role."""
    import psycopg2

    return psycopg2.connect(
        host=HOST,
        port=settings["postgres.port"],
        user=ROLE,
        password=password(settings),
        dbname=DATABASE,
        connect_timeout=timeout_s,
    )


def healthy(settings: Settings) -> bool:
    """The server accepts the ``airflow`` role's login on its database and answers a query."""
    with contextlib.closing(connect(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        return cur.fetchone() == (1,)


def _run(argv: list[str], uid: int | None, what: str, stdin: str | None = None) -> None:
    result = subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        user=uid,
        group=_gid(uid) if uid is not None else None,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-3000:]
        raise ServiceError(f"{what} failed with code {result.returncode}:\n{output}")


def _initdb(settings: Settings, uid: int | None) -> None:
    """Create the cluster: the ``airflow`` role with the generated password, then its database."""
    data = data_dir(settings)
    data.mkdir(mode=0o700)
    pwfile = pg_home(settings) / ".initdb-pw"
    pwfile.write_text(password(settings) + "\n")
    pwfile.chmod(0o600)
    if uid is not None:
        os.chown(data, uid, _gid(uid))
        os.chown(pwfile, uid, _gid(uid))
    try:
        _run(
            [
                binary("initdb"),
                f"--pgdata={data}",
                f"--username={ROLE}",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            uid,
            "initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    # Single-user mode: the database exists before the server ever listens.
    _run(
        [binary("postgres"), "--single", "-D", str(data), "-j", "postgres"],
        uid,
        "creating the airflow database",
        stdin=f"CREATE DATABASE {DATABASE} OWNER {ROLE};\n",
    )


def prepare(settings: Settings) -> None:
    """First start: folders, password, ``initdb``; every start: the socket folder, Airflow's URL file."""
    binary("postgres")
    uid = run_as()
    home = pg_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)  # the server's user must reach data/ and run/ (the password file stays 0600)
    if uid is not None:
        _require_traversable(home)
    if not (data_dir(settings) / "PG_VERSION").exists():
        _initdb(settings, uid)
    socket_dir(settings).mkdir(exist_ok=True)
    if uid is not None:
        os.chown(socket_dir(settings), uid, _gid(uid))
    url = url_file(settings)
    url.touch(mode=0o600)
    url.write_text(sqlalchemy_url(settings))  # no newline: Airflow takes the command output verbatim


def _require_traversable(path: Path) -> None:
    for folder in [path, *path.parents]:
        if folder != Path("/") and not folder.stat().st_mode & 0o001:
            raise ServiceError(
                f"{folder} is not searchable by other users; PostgreSQL runs as {SYSTEM_USER!r} and "
                f"needs to reach {path}: `chmod o+x {folder}`."
            )


def command(settings: Settings) -> list[str]:
    return [
        binary("postgres"),
        "-D",
        str(data_dir(settings)),
        "-c",
        f"listen_addresses={HOST}",
        "-c",
        f"port={settings['postgres.port']}",
        "-c",
        f"unix_socket_directories={socket_dir(settings)}",
        "-c",
        f"max_connections={MAX_CONNECTIONS}",
        "-c",
        f"shared_buffers={SHARED_BUFFERS}",
        # Logs go to stderr, i.e. $PLATFORM_HOME/logs/postgres.log; no statement text on errors.
        "-c",
        "logging_collector=off",
        "-c",
        "log_min_error_statement=panic",
    ]


def spec(settings: Settings) -> ServiceSpec:
    return ServiceSpec(
        name=NAME,
        command=command(settings),
        ports=[settings["postgres.port"]],
        health=lambda: healthy(settings),
        env={"LC_ALL": "C.UTF-8"},
        cwd=pg_home(settings),
        prepare=lambda: prepare(settings),
        user=run_as(),
        timeout_s=60,
    )
