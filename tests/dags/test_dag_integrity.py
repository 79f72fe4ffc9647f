"""DAG integrity: every file in ``dags/`` imports cleanly and follows the platform's DAG rules.

In the style of the Astronomer project template's ``test_dag_example.py``: one parametrized
test per DAG file. The rules: no import errors, at least one DAG per file, no cycles, tags set,
``default_args`` with an owner and retries, ``catchup=False``, a timezone-aware UTC start date
(``pendulum.datetime(..., tz="UTC")``), the module docstring as ``doc_md``, the id in a
``DAG_ID`` constant, DAG ids unique across files.
Helper modules that are not DAGs belong in ``src/`` (or in ``dags/`` files starting with ``_``).
An empty ``dags/`` fails instead of passing vacuously.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streaming_platform.runtime.airflow import DAGS_FOLDER

DAG_FILES = sorted(p for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_"))
NO_DAG_FILES = pytest.param(None, id="no-dag-files")


def _load(path: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(path), safe_mode=False)


@pytest.mark.parametrize("path", DAG_FILES or [NO_DAG_FILES], ids=lambda p: p.name if p else None)
def test_dag_file(path: Path | None, airflow_db: Path) -> None:
    assert path is not None, f"no DAG file (*.py) in {DAGS_FOLDER}"
    bag = _load(path)

    assert not bag.import_errors, f"{path.name} failed to import:\n" + "\n".join(bag.import_errors.values())
    assert bag.dags, f"{path.name} defines no DAG (helpers go to src/ or a dags/_*.py file)"
    for dag_id, dag in bag.dags.items():
        dag.check_cycle()  # raises AirflowDagCycleException
        assert dag.tags, f"{dag_id}: set tags=[...]"
        default_args = dag.default_args or {}
        assert default_args.get("owner"), f"{dag_id}: set default_args['owner']"
        assert "retries" in default_args, f"{dag_id}: set default_args['retries']"
        assert dag.catchup is False, f"{dag_id}: set catchup=False"
        assert dag.tasks, f"{dag_id}: has no task"
        start = dag.start_date
        assert start is not None and start.utcoffset() is not None, f"{dag_id}: start_date needs tz='UTC'"
        assert start.utcoffset().total_seconds() == 0, f"{dag_id}: start_date must be in UTC"
        assert dag.doc_md and dag.doc_md.strip(), f"{dag_id}: doc_md=__doc__ (the module docstring)"
        assert f'DAG_ID = "{dag_id}"' in path.read_text(), f"{dag_id}: declare DAG_ID = {dag_id!r}"


def test_dag_ids_are_unique(airflow_db: Path) -> None:
    assert DAG_FILES, f"no DAG file (*.py) in {DAGS_FOLDER}"
    seen: dict[str, str] = {}
    for path in DAG_FILES:
        for dag_id in _load(path).dags:
            assert dag_id not in seen, f"DAG id {dag_id!r} in both {seen[dag_id]} and {path.name}"
            seen[dag_id] = path.name


# Imported by tasks when they run, never by a DAG file: the DAG processor re-parses every file
# every 30 s, and each of these takes seconds to import.
HEAVY_MODULES = ("great_expectations", "pyspark")


# One interpreter imports Airflow once, then forks a child per DAG file: each file is parsed on
# a fresh copy of that interpreter (what the file itself imports is all that differs).
PARSE_EACH = f"""
import json, os, runpy, sys
import airflow.sdk
heavy = lambda: [m for m in {HEAVY_MODULES!r} if m in sys.modules]
assert not heavy(), heavy()
for path in sys.argv[1:]:
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        runpy.run_path(path)
        os.write(w, json.dumps(heavy()).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as pipe:
        found = pipe.read()
    _, status = os.wait()
    print("HEAVY " + json.dumps([path, json.loads(found) if found else None, status]))
"""


@pytest.fixture(scope="module")
def parse_time_imports() -> dict[str, tuple[list[str] | None, int]]:
    """DAG file → (heavy modules loaded once it was parsed, or None if it failed; exit status)."""
    argv = [sys.executable, "-c", PARSE_EACH, *map(str, DAG_FILES)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line[len("HEAVY ") :]) for line in out.splitlines() if line.startswith("HEAVY ")]
    return {path: (heavy, status) for path, heavy, status in rows}


@pytest.mark.parametrize("path", DAG_FILES or [NO_DAG_FILES], ids=lambda p: p.name if p else None)
def test_dag_file_leaves_heavy_imports_to_its_tasks(path: Path | None, parse_time_imports) -> None:
    assert path is not None, f"no DAG file (*.py) in {DAGS_FOLDER}"
    heavy, status = parse_time_imports[str(path)]
    assert status == 0 and heavy is not None, f"{path.name} did not parse (exit status {status})"
    assert heavy == [], f"{path.name} imports {', '.join(heavy)} at parse time"


def test_streaming_app_starts_a_new_run_once_its_retries_are_spent(airflow_db: Path) -> None:
    """No lifetime budget: the failed stream triggers this DAG again (queued behind the failed
    run, one run at a time); a graceful stop or a catch-up run does not."""
    dag = _load(DAGS_FOLDER / "streaming_app.py").dags["streaming_app"]
    restart = dag.get_task("restart")
    assert restart.trigger_dag_id == dag.dag_id
    assert restart.upstream_task_ids == {"continuous"}
    assert dag.get_task("continuous").trigger_rule == "one_failed"
    assert dag.get_task("continuous").upstream_task_ids == {"run_stream"}
    assert dag.max_active_runs == 1
    assert dag.get_task("run_stream").retries > 0 and dag.get_task("run_stream").max_retry_delay
