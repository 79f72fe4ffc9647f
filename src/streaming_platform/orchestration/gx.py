"""``PlatformGXValidateOperator``: one GX suite on one Elasticsearch index, with GX's own API.

Great Expectations' public API does the work (:func:`streaming_platform.quality.validate`: pandas
data source, whole-dataframe batch definition, validation definition, checkpoint with an
``UpdateDataDocsAction``) on a file-backed context at ``$PLATFORM_HOME/gx``. The GX provider's
``GXValidateDataFrameOperator`` is not used: its context is ephemeral or GX Cloud only (results
and Data Docs could not accumulate under the state folder), it fails on any failed expectation
(GX's ``severity`` is ignored), and no release of it installs alongside Airflow 3.3.2 (see
requirements/base.in). What this operator adds, each for a reason:

* the DAG file stays light: GX (~3 s to import) is imported when the task runs, not when the
  DAG processor re-parses the file every 30 s;
* the frame is read from Elasticsearch when the task runs;
* the task fails only when an expectation of severity ``critical`` fails and names each one;
  ``warning`` / ``info`` failures are logged as such. Every outcome is indexed into
  ``es.index.quality``;
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

    def execute(self, context: Any) -> dict[str, Any]:
        from streaming_platform.orchestration.hooks import es_client

        settings = config.load()
        es = es_client()
        frame = quality.FRAMES[self.suite](es, settings)
        if frame.empty:  # GX would fail every expectation with "observed None": say what it means
            raise AirflowSkipException(f"nothing to validate: {_EMPTY.get(self.suite, _NO_DATA)}")
        self.log.info(
            "validating %d rows of %s against expectations/%s.json", len(frame), self.suite, self.suite
        )
        gx_context = quality.file_context(settings)
        result, docs_url = quality.validate(gx_context, self.task_id, self.suite, frame)
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
