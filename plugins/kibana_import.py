"""``KibanaImportSavedObjectsOperator``: import an NDJSON file of saved objects into Kibana.

The request is Kibana's documented saved objects import API
(https://www.elastic.co/docs/api/doc/kibana/v8/operation/operation-importsavedobjectsdefault)::

    POST /api/saved_objects/_import?overwrite=true      (or /s/<space>/api/saved_objects/_import)
    kbn-xsrf: true
    Authorization: Basic ...                              (when the connection has a login)
    Content-Type: multipart/form-data; boundary=...       one part named "file" with the NDJSON

``overwrite=true`` makes the import idempotent: re-running replaces the objects by id. Kibana
answers 200 with ``{"success": bool, "successCount": n, "errors": [...]}``; ``success: false``
(e.g. a missing reference) fails the task with each error, as does any non-200 answer.

Connection ``kibana_default`` (conn type http: host, port, schema, login, password). Without that
connection the task logs why and is skipped (the embedded mode has no Kibana); with one that
cannot be reached the task fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook, BaseOperator

from streaming_platform.connections import KIBANA_CONN_ID

IMPORT_PATH = "/api/saved_objects/_import"


def import_url(conn: Any, space: str | None = None) -> str:
    scheme = conn.schema or "http"
    port = f":{conn.port}" if conn.port else ""
    prefix = f"/s/{space}" if space else ""
    return f"{scheme}://{conn.host}{port}{prefix}{IMPORT_PATH}"


class KibanaImportSavedObjectsOperator(BaseOperator):
    """Import ``ndjson_path`` through Kibana's saved objects API with ``overwrite=true``."""

    template_fields = ("ndjson_path", "space")

    def __init__(
        self,
        *,
        ndjson_path: str,
        kibana_conn_id: str = KIBANA_CONN_ID,
        space: str | None = None,
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ndjson_path = ndjson_path
        self.kibana_conn_id = kibana_conn_id
        self.space = space
        self.timeout = timeout

    def _connection(self) -> Any | None:
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            return BaseHook.get_connection(self.kibana_conn_id)
        except AirflowNotFoundException:
            return None

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        conn = self._connection()
        if conn is None:
            message = (
                f"skipped: no Airflow connection {self.kibana_conn_id!r} (no Kibana in this deployment; "
                "set PLATFORM_KIBANA_URL or define the connection to import the saved objects)"
            )
            self.log.info(message)
            raise AirflowSkipException(message)
        path = Path(self.ndjson_path)
        answer = self._post(conn, path)
        self._check(answer)
        self.log.info(
            "imported %s saved objects from %s into Kibana (overwrite: existing objects replaced)",
            answer.get("successCount", 0),
            path.name,
        )
        return answer

    def _post(self, conn: Any, path: Path) -> dict[str, Any]:
        import requests

        url = import_url(conn, self.space)
        auth = (conn.login, conn.password or "") if conn.login else None
        self.log.info("POST %s?overwrite=true (file %s, %d bytes)", url, path, path.stat().st_size)
        with path.open("rb") as fh:
            try:
                resp = requests.post(
                    url,
                    params={"overwrite": "true"},
                    headers={"kbn-xsrf": "true"},
                    files={"file": (path.name, fh, "application/ndjson")},
                    auth=auth,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise RuntimeError(f"Kibana at {url} is unreachable: {exc}") from exc
        if resp.status_code != 200:
            raise RuntimeError(
                f"Kibana import failed: HTTP {resp.status_code} from {url}: {resp.text[:2000]}"
            )
        return resp.json()

    @staticmethod
    def _check(answer: dict[str, Any]) -> None:
        if answer.get("success"):
            return
        lines = [
            f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')} {e.get('error', {})}"
            for e in answer.get("errors", [])
        ]
        raise RuntimeError(
            f"Kibana imported {answer.get('successCount', 0)} objects but reported errors:\n"
            + "\n".join(lines)
        )
