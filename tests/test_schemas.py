"""The routes that return records declare their response models (api/schemas.py): the OpenAPI
document describes what comes back, and what comes back is that (the fuzz test checks every answer
against the document; here each route once, with its wire format kept)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Engine, text

from fupin_gis.api import schemas
from fupin_gis.catalog import Catalog
from fupin_gis.coverage.snapshots import create_run
from fupin_gis.main import create_app
from fupin_gis.settings import CoverageSettings, Settings


@pytest.fixture(scope="module")
def client(base_settings: Settings, import_engine: Engine, catalog: Catalog) -> Iterator[TestClient]:
    create_run(import_engine, CoverageSettings(), catalog)
    url = import_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(base_settings.model_copy(update={"database_url": url}))) as c:
        yield c


def _declared(document: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    responses = document["paths"][path][method]["responses"]
    ok = responses.get("200") or responses["201"]
    schema: dict[str, Any] = ok["content"]["application/json"]["schema"]
    return schema


@pytest.mark.parametrize(
    ("path", "model", "many"),
    [
        ("/api/imports", "BatchSummary", True),
        ("/api/imports/{batch}", "Batch", False),
        ("/api/coverage/runs", "RunSummary", True),
        ("/api/coverage/runs/{run_id}", "Run", False),
        ("/api/coverage/runs/{run_id}/villages/{code}", "RunVillage", False),
        ("/api/coverage/diff", "RunDiff", False),
        ("/api/villages/{code}", "Village", False),
        ("/api/search", "SearchHit", True),
        ("/api/reports", "ReportList", False),
        ("/api/reports/{name}", "ReportOut", False),
    ],
)
def test_the_document_names_the_model(client: TestClient, path: str, model: str, many: bool) -> None:
    schema = _declared(client.get("/openapi.json").json(), path)
    ref = schema["items"]["$ref"] if many else schema["$ref"]
    assert ref == f"#/components/schemas/{model}"


def _check(answer: Any, model: type[BaseModel] | Any) -> Any:
    assert answer.status_code in (200, 201), answer.text
    body = answer.json()
    TypeAdapter(model).validate_python(body)
    return body


def test_every_record_route_answers_its_model(client: TestClient, import_engine: Engine, catalog: Catalog) -> None:
    with import_engine.connect() as conn:
        batch, village, run = conn.execute(
            text(
                "SELECT (SELECT max(id) FROM batches), (SELECT min(code) FROM villages), "
                "(SELECT max(id) FROM coverage_runs)"
            )
        ).one()
    batches = _check(client.get("/api/imports"), list[schemas.BatchSummary])
    assert batches and batches[0]["created_at"].endswith("+00:00")  # the wire format kept
    _check(client.get(f"/api/imports/{batch}"), schemas.Batch)
    _check(client.get("/api/coverage/runs"), list[schemas.RunSummary])
    body = _check(client.get(f"/api/coverage/runs/{run}"), schemas.Run)
    assert body["villages"] and body["harden_plan"]["segments"]
    _check(client.get(f"/api/coverage/runs/{run}/villages/{village}"), schemas.RunVillage)
    diff = _check(client.get("/api/coverage/diff", params={"a": run, "b": run}), schemas.RunDiff)
    assert diff["from"] == diff["to"] == run and diff["changes"] == []
    _check(client.get(f"/api/villages/{village}"), schemas.Village)
    _check(client.get("/api/search", params={"q": village[:9]}), list[schemas.SearchHit])
    posted = _check(client.post("/api/coverage/runs"), schemas.Run)
    assert posted["run_id"] > run
    listed = _check(client.get("/api/reports"), schemas.ReportList)
    for entry in listed["reports"]:
        if entry["name"] in ("villages-lacking", "summary", "plan-vs-actual", "changes"):
            _check(client.get(f"/api/reports/{entry['name']}"), schemas.ReportOut)
    undone = _check(client.delete(f"/api/imports/{batch}"), schemas.Rollback)
    assert undone["batch"] == batch
