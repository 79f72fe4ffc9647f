"""Replay quarantined records after a fix of the contract: those now valid count, exactly once.

``assess`` re-validates the quarantined records of a range (params ``start``/``end``: ISO 8601
times of arrival or offsets) and of some reasons (param ``reasons``; empty: all) with the current
contract and ``validation.*`` bounds, and logs per reason how many are now valid and how many
still fail and why. With ``dry_run`` (the default) that is all. Otherwise ``replay`` runs the
``reprocess`` DAG from the earliest offset: a new version of the results re-validates the topic's
history under the current contract, so each record now valid lands in the window of its own event
time and in its customer's totals, once; records past the topic's retention come back from the
quarantine as a backfilled file. Records set aside by the state (duplicates, late events) stay.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

DAG_ID = "quarantine_replay"


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["platform", "quarantine", "contract", "reprocess"],
    default_args={"owner": "platform", "retries": 1},
    params={
        "start": Param(
            "", type="string", description="from (inclusive): an ISO 8601 time or an offset; empty: all"
        ),
        "end": Param(
            "", type="string", description="to (exclusive): an ISO 8601 time or an offset; empty: all"
        ),
        "reasons": Param([], type="array", description="quarantine reasons to replay; empty: every reason"),
        "dry_run": Param(True, type="boolean", description="only report what the current contract says"),
    },
    doc_md=__doc__,
)
def quarantine_replay():
    @task
    def assess(params: dict | None = None) -> dict:
        from streaming_platform.orchestration import replay  # task-time import

        params = params or {}
        selection = replay.Selection(params["start"], params["end"], tuple(params["reasons"]))
        outcome = replay.assess(selection)
        backfill = "" if params["dry_run"] else replay.write_backfill(outcome)
        return {"replayable": outcome.replayable, "backfill": backfill}

    @task.short_circuit
    def replay_wanted(outcome: dict, params: dict | None = None) -> bool:
        if (params or {}).get("dry_run"):
            print("dry run: nothing replayed (trigger again with dry_run off to replay)")
            return False
        if not outcome["replayable"]:
            print("no selected record is valid under the current contract: nothing to replay")
            return False
        return True

    replay = TriggerDagRunOperator(
        task_id="replay",
        trigger_dag_id="reprocess",
        conf={"start": "earliest", "backfill": "{{ ti.xcom_pull(task_ids='assess')['backfill'] }}"},
        wait_for_completion=True,
        poke_interval=30,
        retries=0,  # a second reprocess run would start another version
    )
    replay_wanted(assess()) >> replay


quarantine_replay()
