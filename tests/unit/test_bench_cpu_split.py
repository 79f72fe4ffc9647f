"""The fixed-rate bench's CPU split: which platform part a thread's CPU counts for (pure)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from fixed_rate_bench import component, driver_share, main

JVM = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -cp conf:jars/* org.apache.spark.deploy.SparkSubmit "
JVM += "--master local[2] /work/main/spark_apps/customer_events_stream.py"
DRIVER = "/work/main/.venv/bin/python /work/main/spark_apps/customer_events_stream.py"
WORKER = "/work/main/.venv/bin/python -m pyspark.daemon"
ES = "/usr/bin/java -Xms512m -m org.elasticsearch.server/org.elasticsearch.bootstrap.Elasticsearch"
KAFKA = "/usr/bin/java -Xms512m -cp libs/* kafka.Kafka server.properties"


@pytest.mark.parametrize(
    ("cmdline", "thread", "pid", "expected"),
    [
        (JVM, "C2 CompilerThre", 10, "app JVM jit"),
        (JVM, "G1 Conc", 10, "app JVM gc"),
        (JVM, "GC Thread", 10, "app JVM gc"),
        (JVM, "Executor task l", 10, "app JVM tasks"),
        (JVM, "stream executio", 10, "app JVM micro-batch loop"),
        (JVM, "dag-scheduler-e", 10, "app JVM other"),
        (DRIVER, "writer", 11, "app driver (Python)"),  # names the app, but not the JVM
        (WORKER, "python", 12, "app Python workers"),
        (ES, "elasticsearch[e", 20, "elasticsearch"),
        (ES, "C2 CompilerThre", 20, "elasticsearch jit"),
        (KAFKA, "data-plane-kafk", 30, "kafka"),
        (DRIVER, "MainThread", 99, "producer (this process)"),  # whatever it runs, our own pid
    ],
)
def test_each_thread_counts_for_its_part(cmdline: str, thread: str, pid: int, expected: str) -> None:
    assert component(cmdline, thread, app_pid=10, pid=pid, own_pid=99) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "-5"], "--rate and --window-seconds must be > 0"),
        (["--windows", "0"], "--windows at least 1"),
        (["--window-seconds", "0"], "--rate and --window-seconds must be > 0"),
        (["--warmup", "-1"], "--warmup must be >= 0"),
    ],
)
def test_bad_arguments_are_refused_in_words(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)  # refused before any service is touched
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_driver_share_is_the_driver_parts_of_the_app_only():
    cpu = {
        "app driver (Python)": 1.0,
        "app JVM micro-batch loop": 1.0,
        "app JVM tasks": 6.0,
        "app Python workers": 2.0,
        "elasticsearch": 50.0,  # not the app's
    }
    assert driver_share(cpu) == pytest.approx(0.2)
    assert driver_share({"kafka": 3.0}) == 0.0
