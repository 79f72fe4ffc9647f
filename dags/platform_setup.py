"""Provision the platform: Kafka topics, Elasticsearch index templates, Kibana saved objects.

Manual (``schedule=None``) and idempotent: re-running it changes only what differs from the
configuration, and each task's log says what it created, what already existed and what changed.
The first three tasks run side by side; the import follows the render.

1. ``create_topics``: the events and dead-letter topics with the configured partitions and
   retention (``KafkaAdminClientHook``; partitions only ever grow).
2. ``put_index_templates``: explicit, strict mappings for every index the streaming app writes
   (``ElasticsearchPythonHook``'s client), and the indices themselves.
   It first checks the configured event contract against the installed one (additive changes
   only; a breaking one fails the task, naming each field) and puts new fields on existing indices.
3. ``render_kibana_objects``: the Kibana saved objects (``streaming_platform.kibana_objects``) for
   the configured contract (type and category labels, per-type series), under the state folder.
4. ``import_kibana_objects``: those data views, Lens visualizations and the dashboard through Kibana's
   import API with ``overwrite=true``. Skipped (logged) when there is no ``kibana_default``
   connection, as in the embedded mode.

Lineage: the topics and the app's indices are the tasks' outlets (Assets), so a successful run
updates them and schedules ``data_quality``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from kibana_import import KibanaImportSavedObjectsOperator

from streaming_platform import config
from streaming_platform.connections import KIBANA_CONN_ID
from streaming_platform.orchestration import setup
from streaming_platform.orchestration.lineage import platform_assets

DAG_ID = "platform_setup"
SAVED_OBJECTS = config.load().home / "kibana" / "saved_objects.ndjson"  # kibana_objects.render
ASSETS = platform_assets()


@dag(
    dag_id=DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["platform", "setup", "kafka", "elasticsearch", "kibana"],
    default_args={"owner": "platform", "retries": 2, "retry_delay": timedelta(seconds=15)},
    doc_md=__doc__,
)
def platform_setup():
    @task(outlets=list(ASSETS.topics))
    def create_topics() -> dict:
        return setup.create_topics()

    @task(outlets=list(ASSETS.app_indices))
    def put_index_templates() -> dict:
        return setup.put_index_templates()

    @task
    def render_kibana_objects() -> str:
        return setup.render_kibana_objects()

    kibana = KibanaImportSavedObjectsOperator(
        task_id="import_kibana_objects",
        ndjson_path=str(SAVED_OBJECTS),
        kibana_conn_id=KIBANA_CONN_ID,
        retries=0,  # unreachable Kibana: fail at once, the message says why
    )
    # Independent of each other, so side by side (`make up` waits for the whole run).
    create_topics()
    put_index_templates()
    render_kibana_objects() >> kibana


platform_setup()
