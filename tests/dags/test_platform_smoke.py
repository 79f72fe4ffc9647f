"""Run the platform_smoke DAG in-process with ``dag.test()`` (no scheduler, no services)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from streaming_platform.runtime.airflow import DAGS_FOLDER


def test_platform_smoke_succeeds(airflow_db: Path) -> None:
    spec = importlib.util.spec_from_file_location("platform_smoke", DAGS_FOLDER / "platform_smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.platform_smoke()  # the decorated function returns the DAG

    run = dag.test()

    assert run.state == "success", run
