"""``/api/ledger/…``: the project library as XLSX (export, and import with a dry run), the projects
as OC4IDS JSON and spending as a Fiscal Data Package (CSV and descriptor)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from fupin_gis.api.deps import EngineDep, PrincipalDep
from fupin_gis.api.routes.projects import LedgerDep, answer
from fupin_gis.ledger import publish
from fupin_gis.ledger.exchange import export_xlsx, import_xlsx

router = APIRouter(tags=["projects"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/api/ledger/export.xlsx",
    response_model=None,
    response_class=FileResponse,
    responses={200: {"content": {XLSX: {}}, "description": "the library sheet"}},
)
def export(engine: EngineDep, led: LedgerDep) -> FileResponse:
    """The library in the national 项目库 layout (the projects the account sees)."""
    tmp = tempfile.TemporaryDirectory(prefix="fupin-ledger-")
    path = Path(tmp.name) / "projects.xlsx"
    with engine.connect() as conn:
        export_xlsx(conn, led, path)
    headers = {"Content-Disposition": 'attachment; filename="projects.xlsx"'}
    return FileResponse(path, media_type=XLSX, headers=headers, background=BackgroundTask(tmp.cleanup))


@router.post("/api/ledger/import")
def upload(
    led: LedgerDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="the library sheet (XLSX)")],
    dry_run: Annotated[bool, Query(description="check only: write nothing")] = False,
) -> Response:
    """Import the sheet: all or nothing, problems by row and column (422 when there are any)."""
    with tempfile.TemporaryDirectory(prefix="fupin-ledger-") as tmp:
        path = Path(tmp) / Path(file.filename or "projects.xlsx").name
        path.write_bytes(file.file.read())
        report = import_xlsx(led, principal, path, dry_run)
    return answer(report.to_dict(), 422 if report.problems else 200)


@router.get("/api/ledger/oc4ids.json")
def oc4ids(engine: EngineDep, led: LedgerDep) -> Response:
    """The projects as an OC4IDS project package, their features' geometry as locations."""
    with engine.connect() as conn:
        return Response(publish.oc4ids(conn, led), media_type="application/json")


@router.get(
    "/api/ledger/spending.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the Fiscal Data Package's CSV"}},
)
def spending(engine: EngineDep, led: LedgerDep) -> Response:
    """Spending as the CSV of a Fiscal Data Package (budget lines approved, payments executed, by village)."""
    with engine.connect() as conn:
        return Response(publish.spending(conn, led), media_type="text/csv; charset=utf-8")


@router.get("/api/ledger/datapackage.json")
def descriptor(led: LedgerDep) -> Response:
    """The Fiscal Data Package descriptor of ``spending.csv``."""
    return Response(json.dumps(publish.datapackage(led), ensure_ascii=False), media_type="application/json")
