"""Service clients built from the Airflow connections (not from the settings directly).

A DAG task talks to Kafka and Elasticsearch through the providers' hooks, so an operator who
points ``kafka_default`` or ``elasticsearch_default`` elsewhere (UI, env, secrets backend)
changes what every DAG uses. ``ElasticsearchPythonHook`` takes hosts rather than a conn id, so
:func:`es_hook` builds its hosts and basic auth from the ``elasticsearch_default`` connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streaming_platform.connections import ES_CONN_ID, KAFKA_CONN_ID

if TYPE_CHECKING:  # pragma: no cover
    from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchPythonHook
    from elasticsearch import Elasticsearch


def es_url_and_auth(conn_id: str = ES_CONN_ID) -> tuple[str, tuple[str, str] | None]:
    """The Elasticsearch URL and (user, password) of Airflow connection ``conn_id``."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    scheme = conn.schema or "http"  # ElasticsearchSQLHook's convention: the scheme is in `schema`
    url = f"{scheme}://{conn.host}:{conn.port or 9200}"
    auth = (conn.login, conn.password or "") if conn.login else None
    return url, auth


def es_hook(conn_id: str = ES_CONN_ID) -> ElasticsearchPythonHook:
    from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchPythonHook

    url, auth = es_url_and_auth(conn_id)
    args: dict[str, Any] = {"request_timeout": 30}
    if auth:
        args["basic_auth"] = auth
    return ElasticsearchPythonHook(hosts=[url], es_conn_args=args)


def es_client(conn_id: str = ES_CONN_ID) -> Elasticsearch:
    return es_hook(conn_id).get_conn


def kafka_admin(conn_id: str = KAFKA_CONN_ID) -> Any:
    """The confluent-kafka ``AdminClient`` of ``KafkaAdminClientHook``."""
    from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook

    return KafkaAdminClientHook(kafka_config_id=conn_id).get_conn


def kafka_bootstrap(conn_id: str = KAFKA_CONN_ID) -> str:
    from airflow.sdk import BaseHook

    return str(BaseHook.get_connection(conn_id).extra_dejson["bootstrap.servers"])
