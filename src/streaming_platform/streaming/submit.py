"""How the app is launched: its ``spark-submit`` command line, Spark conf and environment.

Kept apart from :mod:`.app` (the query) so launchers (Airflow's workers, the CLI, tests and
benches) build the command without importing pyspark, pandas or the Elasticsearch client.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streaming_platform import config
from streaming_platform.config import REPO_ROOT, Settings
from streaming_platform.streaming import APP_NAME, ENTRY_POINT

STATE_JAR = REPO_ROOT / "jvm" / "state" / "target" / "platform-state.jar"


def spark_jars() -> list[Path]:
    """The Kafka connector's jars and the state processors' jar (built by ``make jars``)."""
    lib = REPO_ROOT / "jvm" / "spark" / "target" / "lib"
    jars = sorted(lib.glob("*.jar"))
    if not jars or not STATE_JAR.exists():
        raise RuntimeError(f"no Spark jars in {lib} or no {STATE_JAR.name}: run `make jars`")
    return [*jars, STATE_JAR]


def python_executable() -> str:
    """The venv's interpreter (workers must import streaming_platform, orjson, pyarrow)."""
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def submit_conf(settings: Settings) -> dict[str, str]:
    """Spark configuration of the app; also what the Airflow DAG passes to SparkSubmitOperator."""
    py = python_executable()
    conf = {
        "spark.master": settings["spark.master"],
        "spark.app.name": APP_NAME,
        "spark.jars": ",".join(str(j) for j in spark_jars()),
        "spark.driver.memory": settings["spark.driver.memory"],
        "spark.sql.shuffle.partitions": str(settings["spark.shuffle.partitions"]),
        "spark.ui.port": str(settings["spark.ui.port"]),
        "spark.driver.host": settings["bind.host"],
        "spark.driver.bindAddress": settings["bind.host"],
        "spark.pyspark.python": py,
        "spark.pyspark.driver.python": py,
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        # Arrow batches to the Python workers: bigger than the 10k default, fewer round trips.
        "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
        # Python workers stay up between micro-batches (no fork + import per task).
        "spark.python.worker.reuse": "true",
        # The state store: RocksDB (off-heap, spills to disk), its changes logged per batch.
        "spark.sql.streaming.stateStore.providerClass": (
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
        ),
        "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
        # Processing-time processors would ask for a batch at every trigger, data or not (and an
        # availableNow run would never end): batches run for data only; an idle app writes the
        # customers waiting for their turn itself (StreamApp.write_waiting_customers).
        "spark.sql.streaming.noDataMicroBatches.enabled": "false",
    }
    if settings["spark.java.options"]:
        conf["spark.driver.extraJavaOptions"] = settings["spark.java.options"]
        conf["spark.executor.extraJavaOptions"] = settings["spark.java.options"]
    return conf


def submit_env(settings: Settings) -> dict[str, str]:
    """Environment of spark-submit (and the Python workers it starts)."""
    env = {
        "PYSPARK_PYTHON": python_executable(),
        "PYSPARK_DRIVER_PYTHON": python_executable(),
        "SPARK_LOCAL_IP": settings["bind.host"],
    }
    # The app reads the same settings as whoever launched it.
    env.update({o.env: str(settings[o.name]) for o in config.OPTIONS if settings.source(o.name) != "default"})
    return env


def submit_command(settings: Settings, app_args: list[str] | None = None) -> list[str]:
    """A complete ``spark-submit`` command line for the app."""
    spark_submit = str(Path(python_executable()).parent / "spark-submit")
    conf = submit_conf(settings)
    cmd = [spark_submit, "--master", conf.pop("spark.master"), "--name", conf.pop("spark.app.name")]
    cmd += ["--jars", conf.pop("spark.jars"), "--driver-memory", conf.pop("spark.driver.memory")]
    for k, v in conf.items():
        cmd += ["--conf", f"{k}={v}"]
    return [*cmd, str(ENTRY_POINT), *(app_args or [])]
