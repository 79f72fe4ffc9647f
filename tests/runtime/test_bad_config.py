"""Bad configuration gets a clear error that names the service, the cause and where to look."""

from __future__ import annotations

import socket
import sys

import pytest

from streaming_platform import config
from streaming_platform.runtime import java, kafka, process
from streaming_platform.runtime.process import Paths, ServiceError, ServiceSpec


@pytest.fixture
def tmp_paths(tmp_path) -> Paths:
    return Paths(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_already_in_use_is_named(tmp_path, tmp_paths):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        settings = config.load(
            env={"PLATFORM_HOME": str(tmp_path), "PLATFORM_KAFKA_PORT": str(port)}, overrides={}
        )
        with pytest.raises(ServiceError, match=rf"kafka cannot start: port {port} .* already in use"):
            process.start(kafka.spec(settings), tmp_paths)
    assert not tmp_paths.pid_file("kafka").exists()


def test_java_missing_says_how_to_fix(tmp_path):
    with pytest.raises(ServiceError, match=r"Java not found: install a JDK 17\+"):
        java.java_binary({"PATH": str(tmp_path)})


def test_java_home_without_java(tmp_path):
    with pytest.raises(ServiceError, match=r"JAVA_HOME=.* has no bin/java"):
        java.java_binary({"JAVA_HOME": str(tmp_path), "PATH": ""})


def test_unhealthy_service_times_out_naming_service_and_log(tmp_paths):
    spec = ServiceSpec(
        name="never-healthy",
        command=[sys.executable, "-c", "import time; print('booting', flush=True); time.sleep(60)"],
        ports=[free_port()],
        health=lambda: False,
        timeout_s=2,
        stop_timeout_s=5,
    )
    with pytest.raises(ServiceError) as err:
        process.start(spec, tmp_paths)
    message = str(err.value)
    assert "never-healthy did not become healthy within 2 s" in message
    assert str(tmp_paths.log_file("never-healthy")) in message
    assert "booting" in message  # the log tail is part of the error
    assert process.read_pid(tmp_paths, "never-healthy") is None  # and it was stopped


def test_service_that_exits_reports_code_and_log(tmp_paths):
    spec = ServiceSpec(
        name="crashes",
        command=[sys.executable, "-c", "import sys; print('bad setting x'); sys.exit(3)"],
        ports=[],
        health=lambda: False,
        timeout_s=30,
    )
    with pytest.raises(ServiceError, match=r"(?s)crashes exited with code 3 .*crashes.log.*bad setting x"):
        process.start(spec, tmp_paths)


def test_second_start_is_a_noop_and_stale_pid_is_handled(tmp_paths):
    port = free_port()
    spec = ServiceSpec(
        name="sleeper",
        command=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ports=[port],
        health=lambda: process.port_in_use("127.0.0.1", port),
        timeout_s=20,
    )
    pid = process.start(spec, tmp_paths)
    try:
        assert process.start(spec, tmp_paths) == pid  # already running: same process, no new one
    finally:
        assert process.stop("sleeper", tmp_paths)
    assert not process.pid_alive(pid)
    tmp_paths.pid_file("sleeper").write_text("999999")  # a PID that does not exist
    assert process.read_pid(tmp_paths, "sleeper") is None
    assert not tmp_paths.pid_file("sleeper").exists()


def test_invalid_environment_value_names_option_and_variable():
    with pytest.raises(config.ConfigError, match=r"kafka.port \(PLATFORM_KAFKA_PORT\) = '70000'"):
        config.load(env={"PLATFORM_KAFKA_PORT": "70000"}, overrides={})
