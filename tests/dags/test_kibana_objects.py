"""Kibana saved objects: static checks of the NDJSON and the import operator's HTTP contract.

Kibana cannot run on this machine, so the import is exercised against a local HTTP server that
checks the request exactly as Kibana's API documents it (``POST /api/saved_objects/_import`` with
``overwrite=true``, a ``kbn-xsrf`` header, basic auth, a multipart/form-data body whose part
``file`` holds the NDJSON). The real import runs only under docker-compose.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from streaming_platform import config, contract, es_indices, kibana_objects
from streaming_platform.runtime.airflow import PLUGINS_FOLDER

NDJSON = config.REPO_ROOT / "kibana" / "saved_objects.ndjson"
SETTINGS = config.load(env={}, overrides={})  # the default index names the objects are built for


def _objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in NDJSON.read_text().splitlines() if line.strip()]


def _by_id() -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["type"], o["id"]): o for o in _objects()}


# --------------------------------------------------------------------------- static checks


def test_every_line_is_one_saved_object() -> None:
    lines = NDJSON.read_text().splitlines()
    assert lines, f"{NDJSON} is empty"
    for n, line in enumerate(lines, 1):
        obj = json.loads(line)  # raises on invalid JSON, naming the line in the traceback
        assert isinstance(obj, dict), f"line {n} is not an object"
        assert {"type", "id", "attributes", "references"} <= obj.keys(), f"line {n}: {sorted(obj)}"
        assert obj["attributes"].get("title"), f"line {n}: no title"
    ids = [(o["type"], o["id"]) for o in _objects()]
    assert len(ids) == len(set(ids)), "duplicate (type, id)"


def test_the_expected_objects_are_shipped() -> None:
    kinds = [o["type"] for o in _objects()]
    assert kinds.count("dashboard") == 1
    assert kinds.count("lens") >= 6
    assert set(kinds) == {"index-pattern", "lens", "dashboard"}, "no legacy visualization objects"
    titles = {o["attributes"]["title"] for o in _objects() if o["type"] == "index-pattern"}
    assert titles == set(es_indices.mappings(SETTINGS)), "one data view per index the app writes"


def test_every_object_carries_kibana_8_19_migration_versions() -> None:
    for obj in _objects():
        assert obj.get("coreMigrationVersion") == kibana_objects.CORE_MIGRATION_VERSION, obj["id"]
        expected = kibana_objects.TYPE_MIGRATION_VERSIONS[obj["type"]]
        assert obj.get("typeMigrationVersion") == expected, obj["id"]
        assert "migrationVersion" not in obj, f"{obj['id']}: the pre-8.8 field"


def test_references_resolve() -> None:
    known = _by_id()
    for obj in _objects():
        names = [ref["name"] for ref in obj["references"]]
        assert len(names) == len(set(names)), f"{obj['id']}: duplicate reference names"
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, f"{obj['id']} references missing {ref}"


def _field(mapping: dict[str, Any], field: str) -> dict[str, Any] | None:
    node: dict[str, Any] = {"properties": mapping}
    for part in field.split("."):
        node = (node.get("properties") or {}).get(part) or {}
    return node or None


def _field_type(mapping: dict[str, Any], field: str) -> str | None:
    node = _field(mapping, field)
    return None if node is None else node.get("type", "object")


def test_data_views_time_fields_are_dates() -> None:
    for obj in _objects():
        if obj["type"] == "index-pattern":
            mapping = es_indices.mappings(SETTINGS)[obj["attributes"]["title"]]
            assert _field_type(mapping, obj["attributes"]["timeFieldName"]) == "date", obj["id"]


def _lens_problems(
    obj: dict[str, Any], objects: list[dict[str, Any]], settings: config.Settings
) -> list[str]:
    """What is wrong with one Lens object: its layers' data views, columns and their fields, and
    the visualization's column ids. Empty when all is right."""
    problems = []
    mappings = es_indices.mappings(settings)
    titles = {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
    refs = {r["name"]: r for r in obj["references"]}
    layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    if not layers:
        problems.append("no layer")
    columns: dict[str, dict[str, Any]] = {}
    for layer_id, layer in layers.items():
        ref = refs.get(f"indexpattern-datasource-layer-{layer_id}")
        if ref is None or ref["type"] != "index-pattern" or ref["id"] not in titles:
            problems.append(f"layer {layer_id}: no data view reference")
            continue
        mapping = mappings[titles[ref["id"]]]
        if layer["columnOrder"] != list(layer["columns"]):
            problems.append(f"layer {layer_id}: columnOrder {layer['columnOrder']} != columns")
        for cid, col in layer["columns"].items():
            columns[cid] = col
            op, field = col["operationType"], col["sourceField"]
            if op == "count" and field == kibana_objects.RECORDS:
                continue
            node = _field(mapping, field)
            allowed = kibana_objects.OPERATION_FIELD_TYPES.get(op)
            if allowed is None:
                problems.append(f"{cid}: unknown operation {op}")
            elif node is None:
                problems.append(f"{cid}: {field} is not in the mapping of {titles[ref['id']]}")
            elif node.get("type") not in allowed or node.get("doc_values") is False:
                problems.append(f"{cid}: {field} ({node.get('type')}) is not aggregatable by {op}")
            order = col.get("params", {}).get("orderBy", {})
            if order.get("type") == "column" and order.get("columnId") not in layer["columns"]:
                problems.append(f"{cid}: ordered by a missing column {order.get('columnId')}")
    vis = obj["attributes"]["state"]["visualization"]
    vis_layers = vis.get("layers", [vis])
    used: list[str] = []
    for lyr in vis_layers:
        if lyr.get("layerId") not in layers:
            problems.append(f"visualization layer {lyr.get('layerId')} is not a datasource layer")
        for key in ("xAccessor", "splitAccessor"):
            used += [lyr[key]] if key in lyr else []
        for key in ("accessors", "primaryGroups", "metrics"):
            used += lyr.get(key, [])
        used += [c["columnId"] for c in lyr.get("columns", [])]
    problems += [f"visualization uses a missing column {c}" for c in used if c not in columns]
    problems += [f"column {c} is shown nowhere" for c in columns if c not in used]
    return problems


def test_lens_columns_are_fields_the_indices_aggregate() -> None:
    lenses = [o for o in _objects() if o["type"] == "lens"]
    assert {o["attributes"]["visualizationType"] for o in lenses} >= {"lnsXY", "lnsDatatable", "lnsPie"}
    for obj in lenses:
        assert _lens_problems(obj, _objects(), SETTINGS) == [], obj["id"]


def test_the_lens_check_catches_a_wrong_field() -> None:
    """The check above can fail: a text field, a missing one, an unshown column."""
    objects = _objects()
    [revenue] = [o for o in objects if o["id"] == "lens-category-revenue"]
    state = revenue["attributes"]["state"]
    columns = state["datasourceStates"]["formBased"]["layers"]["layer"]["columns"]
    columns["revenue"]["sourceField"] = "product_category"  # a keyword: no sum
    columns["time"]["sourceField"] = "no_such_field"
    state["visualization"]["layers"][0]["accessors"] = []
    problems = _lens_problems(revenue, objects, SETTINGS)
    assert any("product_category (keyword) is not aggregatable by sum" in p for p in problems), problems
    assert any("no_such_field is not in the mapping" in p for p in problems), problems
    assert "column revenue is shown nowhere" in problems, problems


def test_dashboard_panels_match_references() -> None:
    dash = next(o for o in _objects() if o["type"] == "dashboard")
    panels = json.loads(dash["attributes"]["panelsJSON"])
    names = {r["name"] for r in dash["references"]}
    assert len(panels) == len(dash["references"]) >= 6
    for panel in panels:
        assert panel["type"] == "lens", panel
        assert panel["panelRefName"] == f"panel_{panel['panelIndex']}", panel
        assert panel["gridData"]["i"] == panel["panelIndex"], panel
        assert f"{panel['panelIndex']}:{panel['panelRefName']}" in names, panel
    assert {r["id"] for r in dash["references"]} == {o["id"] for o in _objects() if o["type"] == "lens"}
    assert {r["type"] for r in dash["references"]} == {"lens"}


def test_the_committed_objects_are_the_generator_s_for_the_shipped_contract() -> None:
    assert kibana_objects.dumps(kibana_objects.build(SETTINGS)) == NDJSON.read_text(), (
        "run .venv/bin/python -m streaming_platform.kibana_objects"
    )


def test_objects_for_another_contract_name_its_types_and_categories(tmp_path: Path) -> None:
    """A contract with a new event type and category: labels and series follow, fields exist."""
    doc = yaml.safe_load(Path(contract.load().source).read_text())
    doc["version"] += 1
    doc["event_types"]["wishlist"] = {"field": "wishlists", "label": "Wishlisted"}
    doc["categories"]["values"].append("garden")
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    settings = config.load(
        env={"PLATFORM_CONTRACT_PATH": str(path), "PLATFORM_HOME": str(tmp_path)}, overrides={}
    )
    objects = kibana_objects.read(kibana_objects.render(settings))
    views = {o["id"]: json.loads(o["attributes"].get("fieldAttrs", "{}")) for o in objects}
    assert views["dv-pipeline-metrics"]["wishlists"] == {"customLabel": "Wishlisted"}
    assert "events_by_category.garden" in views["dv-customer-activity"]
    mappings = es_indices.mappings(settings)
    assert _field_type(mappings["customer-activity"], "events_by_category.garden") == "long"
    [events] = [o for o in objects if o["id"] == kibana_objects.EVENTS_VISUALIZATION]
    columns = events["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer"]["columns"]
    assert columns["type-wishlist"]["sourceField"] == "wishlists"
    assert columns["type-wishlist"]["label"] == "Wishlisted"
    for obj in objects:
        if obj["type"] == "lens":
            assert _lens_problems(obj, objects, settings) == [], obj["id"]


# --------------------------------------------------------------------------- HTTP contract


class FakeKibana(BaseHTTPRequestHandler):
    """Answers like Kibana's import API when the request is exactly right; records every request."""

    requests: list[dict[str, Any]] = []  # noqa: RUF012 - replaced per server in the fixture
    answer: tuple[int, dict[str, Any]] = (200, {})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        status, payload = self.answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def kibana(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeKibana]]:
    handler = type(
        "Handler", (FakeKibana,), {"requests": [], "answer": (200, {"success": True, "successCount": 11})}
    )
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.server_port,
        "schema": "http",
        "login": "elastic",
        "password": "s3cret",
    }
    monkeypatch.setenv("AIRFLOW_CONN_KIBANA_DEFAULT", json.dumps(conn))
    yield handler
    server.shutdown()
    server.server_close()


def _operator(**kwargs: Any) -> Any:
    if str(PLUGINS_FOLDER) not in sys.path:  # Airflow puts plugins/ on sys.path; plain pytest does not
        sys.path.insert(0, str(PLUGINS_FOLDER))
    from kibana_import import KibanaImportSavedObjectsOperator

    return KibanaImportSavedObjectsOperator(task_id="import", ndjson_path=str(NDJSON), **kwargs)


def _multipart_parts(content_type: str, body: bytes) -> list[Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    assert message.is_multipart()
    return list(message.iter_parts())


def test_import_request_is_what_kibana_documents(kibana: type[FakeKibana], airflow_db: Path) -> None:
    answer = _operator().execute(context={})

    assert answer == {"success": True, "successCount": 11}
    [req] = kibana.requests
    url = urlsplit(req["path"])
    assert url.path == "/api/saved_objects/_import"
    assert parse_qs(url.query) == {"overwrite": ["true"]}
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["kbn-xsrf"] == "true"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"elastic:s3cret").decode()
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    [part] = _multipart_parts(headers["content-type"], req["body"])
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "saved_objects.ndjson"
    assert part.get_payload(decode=True) == NDJSON.read_bytes()


def test_import_into_a_space_uses_the_space_path(kibana: type[FakeKibana], airflow_db: Path) -> None:
    _operator(space="analytics").execute(context={})

    assert urlsplit(kibana.requests[0]["path"]).path == "/s/analytics/api/saved_objects/_import"


def test_import_errors_fail_the_task(kibana: type[FakeKibana], airflow_db: Path) -> None:
    kibana.answer = (
        200,
        {
            "success": False,
            "successCount": 10,
            "errors": [{"type": "lens", "id": "lens-latency", "error": {"type": "missing_references"}}],
        },
    )
    with pytest.raises(RuntimeError, match="lens-latency: missing_references"):
        _operator().execute(context={})


def test_http_error_fails_the_task(kibana: type[FakeKibana], airflow_db: Path) -> None:
    kibana.answer = (401, {"statusCode": 401, "error": "Unauthorized"})
    with pytest.raises(RuntimeError, match="HTTP 401"):
        _operator().execute(context={})


def test_unreachable_kibana_fails(monkeypatch: pytest.MonkeyPatch, airflow_db: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http"}
    monkeypatch.setenv("AIRFLOW_CONN_KIBANA_DEFAULT", json.dumps(conn))
    with pytest.raises(RuntimeError, match="unreachable"):
        _operator(timeout=5).execute(context={})


def test_no_connection_skips(monkeypatch: pytest.MonkeyPatch, airflow_db: Path) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    monkeypatch.delenv("AIRFLOW_CONN_KIBANA_DEFAULT", raising=False)
    with pytest.raises(AirflowSkipException, match="no Airflow connection 'kibana_default'"):
        _operator().execute(context={})
