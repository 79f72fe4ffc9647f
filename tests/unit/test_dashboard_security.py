"""Nothing leaks from the dashboard: log lines are redacted, private reads need the token off loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from streaming_platform import config
from streaming_platform.config import is_loopback
from streaming_platform.dashboard import logs
from streaming_platform.dashboard.app import create_app

TOKEN = "unit-dashboard-token"
PRIVATE = [
    ("get", "/pipeline/api/logs/services", None),
    ("get", "/pipeline/api/logs?service=airflow", None),
    ("get", "/pipeline/api/config", None),
    ("post", "/pipeline/api/config/validate", {"changes": {"spark.watermark": "5 minutes"}}),
]


def airflow_password_line(tmp_path: Path, password: str) -> str:
    """The line Airflow 3's simple auth manager prints for a generated password (its own code)."""
    code = (
        "from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager as M; "
        f"M._print_output(\"Password for user 'admin': {password}\")"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "FORCE_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    [line] = [x for x in out.splitlines() if "Password for user" in x]
    return line


def test_airflow_generated_password_line_is_redacted(tmp_path: Path) -> None:
    password = "Hk7mPq2ZxWv9RtY3"  # the shape Airflow generates: 16 of [a-zA-Z2-9] minus look-alikes
    line = airflow_password_line(tmp_path, password)
    assert password in line and "Simple auth manager" in line
    redacted = logs.redact(line)
    assert password not in redacted
    assert redacted.endswith("Password for user 'admin': ***")


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9.e30.sig"),
        ("headers={'Authorization': 'Basic YWRtaW46aHVudGVyMg=='}", "YWRtaW46aHVudGVyMg=="),
        ("authorization=Token abc123def456", "abc123def456"),
        ("sending request with bearer AbCdEf0123456789", "AbCdEf0123456789"),
        ("PLATFORM_ES_PASSWORD=hunter2 PLATFORM_X=1", "hunter2"),
        ("AIRFLOW__API_AUTH__JWT_SECRET=s3cr3tvalue", "s3cr3tvalue"),
        ('{"password": "two words", "user": "x"}', "two words"),
        ("ssl.key.password = p4ss", "p4ss"),
        ('sasl.jaas.config = ... username="u" password="p@ss";', "p@ss"),
        ("api_key: AKIA1234567890", "AKIA1234567890"),
        ("X-Api-Key=k-123456", "k-123456"),
        ("dashboard token=tok-999 accepted", "tok-999"),
        ("airflow users create --password letmein --role Admin", "letmein"),
        ("connecting to https://elastic:changeme@es:9200/", "changeme"),
    ],
)
def test_secrets_are_redacted(line: str, secret: str) -> None:
    redacted = logs.redact(line)
    assert secret not in redacted and logs.REDACTED in redacted
    assert logs.redact(redacted) == redacted


def test_ordinary_lines_are_untouched() -> None:
    for line in (
        "[2026-01-01 00:00:00,000] INFO Kafka version: 4.0.0 (org.apache.kafka)",
        "batch 12: 4000 rows, 3 quarantined, latency p95 812 ms",
        "GET /pipeline/api/status 200",
    ):
        assert logs.redact(line) == line


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "airflow.log").write_text(
        "2026-01-01 INFO starting\n"
        "Simple auth manager | Password for user 'admin': Hk7mPq2ZxWv9RtY3\n"
        "2026-01-01 INFO Authorization: Bearer abcdefgh12345678\n"
        "2026-01-01 INFO ready\n"
    )
    return tmp_path


def client(home: Path, bind_host: str, token: str = TOKEN) -> TestClient:
    env = {"PLATFORM_HOME": str(home), "PLATFORM_BIND_HOST": bind_host, "PLATFORM_DASHBOARD_TOKEN": token}
    return TestClient(create_app(config.load(env=env, overrides={})))


def test_log_search_never_returns_a_secret(home: Path) -> None:
    api = client(home, "127.0.0.1")
    for query in ("Password", "password for user", "Bearer"):
        lines = api.get("/pipeline/api/logs", params={"service": "airflow", "q": query}).json()["lines"]
        assert lines and all(
            "Hk7mPq2ZxWv9RtY3" not in x["text"] and "abcdefgh12345678" not in x["text"] for x in lines
        )
    for secret in ("Hk7mPq2ZxWv9RtY3", "abcdefgh12345678", "Hk7m"):
        resp = api.get("/pipeline/api/logs", params={"service": "airflow", "q": secret})
        assert resp.json()["lines"] == [], secret
    everything = api.get("/pipeline/api/logs", params={"service": "airflow"}).json()["lines"]
    assert len(everything) == 4 and "Hk7mPq2ZxWv9RtY3" not in str(everything)
    follow = api.get("/pipeline/api/logs", params={"service": "airflow", "after": 0}).json()["lines"]
    assert len(follow) == 4 and "Hk7mPq2ZxWv9RtY3" not in str(follow)


@pytest.mark.parametrize(("method", "path", "body"), PRIVATE)
def test_private_reads_are_open_on_loopback(home: Path, method: str, path: str, body: dict | None) -> None:
    resp = getattr(client(home, "127.0.0.1"), method)(path, **({"json": body} if body else {}))
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(("method", "path", "body"), PRIVATE)
def test_private_reads_need_the_token_beyond_loopback(
    home: Path, method: str, path: str, body: dict | None
) -> None:
    api = client(home, "0.0.0.0")
    kwargs = {"json": body} if body else {}
    assert getattr(api, method)(path, **kwargs).status_code == 401
    wrong = getattr(api, method)(path, headers={"Authorization": "Bearer nope"}, **kwargs)
    assert wrong.status_code == 401
    ok = getattr(api, method)(path, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)
    assert ok.status_code == 200, ok.text
    # Without a token configured nobody can read them there.
    assert getattr(client(home, "0.0.0.0", token=""), method)(path, **kwargs).status_code == 403


def test_public_endpoints_stay_open_beyond_loopback(home: Path) -> None:
    assert client(home, "0.0.0.0").get("/pipeline/api/health").status_code == 200


def test_loopback_is_decided_by_address() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("192.168.1.5")
    assert not is_loopback("no-such-host.invalid")
