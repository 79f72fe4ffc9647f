"""``PlatformGXValidateOperator``: the GX provider's ``GXValidateDataFrameOperator`` for our indices.

The provider's operator is used for what it does well (pandas data source + whole-dataframe batch
definition per task, ``run_validation_definition``), built when the task **runs**. Five things
differ, each for a reason:

* the DAG file stays light: importing the provider imports Great Expectations (~3 s), and the
  DAG processor re-parses every DAG file every 30 s — so nothing of GX is imported at parse time;
* the frame is read from Elasticsearch when the task runs (the provider calls
  ``configure_dataframe`` in ``__init__``);
* the GX context is file-backed at ``$PLATFORM_HOME/gx`` (the provider offers ephemeral or cloud),
  so results accumulate and Data Docs are built to ``$PLATFORM_HOME/gx/data_docs``;
* the task fails only when a **critical** expectation fails (``meta.critical``) and names each one;
  the others are logged as warnings. Every outcome is indexed into ``es.index.quality``;
* with nothing to validate (no data yet) the task is skipped and says so, instead of failing
  every expectation on an empty frame.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from streaming_platform import config, quality

_NO_DATA = (
    "the pipeline has written nothing yet. Start it (DAG streaming_app) and send events "
    "(DAG demo_load), then run data_quality again."
)
_EMPTY = {"quarantine": "no record has been quarantined so far (every record was valid)."}


class CriticalExpectationsFailed(RuntimeError):
    """A critical expectation failed; the message lists each with what was observed."""


class PlatformGXValidateOperator(BaseOperator):
    """Validate one Elasticsearch index (as a pandas frame) against ``expectations/<suite>.json``."""

    def __init__(self, *, suite: str, **kwargs: Any) -> None:
        if suite not in quality.FRAMES:
            raise ValueError(f"unknown suite {suite!r}; known: {', '.join(quality.FRAMES)}")
        kwargs.setdefault("task_id", f"validate_{suite}")
        super().__init__(**kwargs)
        self.suite = suite

    def _suite(self, gx_context: Any) -> Any:
        # add_or_update: idempotent on the file-backed context (a plain add fails the second time).
        return gx_context.suites.add_or_update(quality.build_suite(self.suite))

    def execute(self, context: Any) -> dict[str, Any]:
        from great_expectations_provider.common.gx_context_actions import run_validation_definition
        from great_expectations_provider.operators.validate_dataframe import GXValidateDataFrameOperator

        from streaming_platform.orchestration.hooks import es_client

        settings = config.load()
        es = es_client()
        frame = quality.FRAMES[self.suite](es, settings)
        if frame.empty:  # GX would fail every expectation with "observed None": say what it means
            raise AirflowSkipException(f"nothing to validate: {_EMPTY.get(self.suite, _NO_DATA)}")
        self.log.info(
            "validating %d rows of %s against expectations/%s.json", len(frame), self.suite, self.suite
        )
        # The provider's operator for its pandas batch definition; the rest is called directly.
        provider = GXValidateDataFrameOperator(
            task_id=self.task_id, configure_dataframe=lambda: frame, configure_expectations=self._suite
        )
        gx_context = quality.file_context(settings)
        result = run_validation_definition(
            task_id=self.task_id,
            expect=self._suite(gx_context),
            batch_definition=provider._get_pandas_batch_definition(gx_context),
            result_format="SUMMARY",
            batch_parameters={"dataframe": frame},
            gx_context=gx_context,
        )
        docs = gx_context.build_data_docs(site_names=[quality.SITE_NAME])
        docs_url = docs.get(quality.SITE_NAME, "")
        outcome = quality.summarize(self.suite, result, len(frame))
        run_id = context["run_id"] if context and "run_id" in context else "manual"
        doc_id = quality.index_outcome(es, settings, outcome, str(run_id), docs_url)
        self._log_outcome(outcome, docs_url, doc_id, settings)
        if outcome.failed_critical:
            raise CriticalExpectationsFailed(
                f"{len(outcome.failed_critical)} critical expectation(s) of suite {self.suite!r} failed: "
                + "; ".join(outcome.failed_critical)
            )
        return result.describe_dict()

    def _log_outcome(self, outcome: quality.Outcome, docs_url: str, doc_id: str, settings: Any) -> None:
        passed = outcome.evaluated - len(outcome.failed)
        self.log.info("suite %s: %d of %d expectations passed", outcome.suite, passed, outcome.evaluated)
        for text in outcome.failed:
            level = "CRITICAL" if text in outcome.failed_critical else "warning"
            self.log.warning("%s: %s", level, text)
        self.log.info(
            "result indexed as %s/%s; Data Docs: %s", settings["es.index.quality"], doc_id, docs_url
        )
