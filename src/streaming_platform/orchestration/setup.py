"""Bodies of the platform_setup DAG's tasks: topics and index templates, reported in words.

Both steps are idempotent (they compare what exists with the configuration), so the DAG is safe
to re-run; the log says per object whether it was created, already existed or was changed.
"""

from __future__ import annotations

import logging
from typing import Any

from streaming_platform import config, kibana_objects
from streaming_platform.es_indices import app_indices, ensure_templates
from streaming_platform.orchestration.hooks import es_client, kafka_admin
from streaming_platform.topics import ensure_topics

log = logging.getLogger(__name__)


def _say(what: str, names: list[str] | dict[str, list[str]], verb: str) -> None:
    if not names:
        return
    if isinstance(names, dict):
        for name, changes in names.items():
            log.info("%s %s %s: %s", what, name, verb, "; ".join(changes))
    else:
        log.info("%s %s: %s", what, verb, ", ".join(names))


def create_topics() -> dict[str, Any]:
    """Create the events and dead-letter topics through ``KafkaAdminClientHook``."""
    settings = config.load()
    report = ensure_topics(settings, kafka_admin())
    _say("Kafka topic(s)", report.created, "created")
    _say("Kafka topic(s)", report.existing, "already existed, unchanged")
    _say("Kafka topic", report.changed, "changed")
    return report.as_dict()


def put_index_templates() -> dict[str, Any]:
    """Put the index templates through ``ElasticsearchPythonHook``'s client; create the indices."""
    settings = config.load()
    report = ensure_templates(es_client(), settings)  # refuses an incompatible contract, naming why
    _say("event contract", report.contract, "installed")
    _say("index template(s)", report.created, "created")
    _say("index template(s)", report.unchanged, "already existed, unchanged")
    _say("index template(s)", report.updated, "changed (mappings or settings updated)")
    _say("index(es)", report.indices_created, "created")
    _say("index(es)", report.indices_updated, "already existed, took the changed template's settings")
    done = report.indices_created + report.indices_updated
    _say("index(es)", [i for i in app_indices(settings) if i not in done], "already existed")
    return report.as_dict()


def render_kibana_objects() -> str:
    """Write the Kibana saved objects for the configured contract; the import reads them."""
    settings = config.load()
    path = kibana_objects.render(settings)
    log.info("Kibana saved objects for contract %s written to %s", settings["contract.path"], path)
    return str(path)
