"""Run DAGs of ``dags/`` with ``dag.test()`` in this process, each outcome written as JSON.

    python tests/cluster/run_dag.py <dag_id> <result.json> [<conf as JSON>]   one run
    python tests/cluster/run_dag.py -                                          runs read from stdin

With ``-``, each stdin line is ``{"dag_id": …, "result": <path>, "conf": {…}}``; the runs are
done one after the other in this one process, which pays Airflow's start-up (imports, the
in-process execution API dag.test() serves its tasks from: 10-20 s) once. Airflow, its metadata
database included, is configured by the environment the caller passes: Airflow reads it once
per process. Retries are off: ``dag.test()`` would sit out each retry delay, and a run that
needs one is a finding here, not a success.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from streaming_platform.runtime.airflow import DAGS_FOLDER


def _value(state: object) -> str | None:
    return getattr(state, "value", state)  # Airflow's states are str enums


def run(dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(f"dagfile_{dag_id}", DAGS_FOLDER / f"{dag_id}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = getattr(module, dag_id)()
    for task in dag.tasks:
        task.retries = 0
    dag_run = dag.test(run_conf=conf)
    return {
        "dag_id": dag_id,
        "run_id": dag_run.run_id,
        "state": _value(dag_run.state),
        "tasks": {ti.task_id: _value(ti.state) for ti in dag_run.get_task_instances()},
    }


def _write(path: str, result: dict[str, Any]) -> None:
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)  # whole or absent: the caller polls for it


def main(argv: list[str]) -> int:
    if argv != ["-"]:
        dag_id, result_path, *conf = argv
        _write(result_path, run(dag_id, json.loads(conf[0]) if conf else None))
        return 0
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = run(request["dag_id"], request.get("conf"))
        except Exception:  # noqa: BLE001 - reported to the caller, the next run may still go
            result = {"dag_id": request["dag_id"], "state": "error", "error": traceback.format_exc()}
        print(f"=== {request['dag_id']}: {result['state']}", flush=True)
        _write(request["result"], result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
