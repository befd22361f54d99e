"""``/reports``: the reports page and downloads; ``/api/reports``: the same as JSON."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from sqlalchemy import text
from starlette.background import BackgroundTask

from fupin_gis.api.deps import CatalogDep, EngineDep, PrincipalDep, SettingsDep, SystemEngineDep
from fupin_gis.api.schemas import ReportList, ReportOut
from fupin_gis.auth.accounts import RUNNERS
from fupin_gis.coverage.completeness import completeness
from fupin_gis.coverage.snapshots import data_changed_since
from fupin_gis.coverage.verdicts import RULES
from fupin_gis.errors import Forbidden
from fupin_gis.reports.build import REPORTS, build_report
from fupin_gis.reports.export import export, exporting
from fupin_gis.reports.model import Report
from fupin_gis.reports.registry import report_kind
from fupin_gis.reports.render import FORMATS, check_format, csv_lines, filename, html
from fupin_gis.resources import render_template

router = APIRouter(tags=["reports"])


def requested_report(
    name: str,
    engine: EngineDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
    run: Annotated[int | None, Query(description="coverage run (default: the newest)")] = None,
    township: Annotated[str | None, Query(description="6-digit county or 9-digit township code")] = None,
    rule: Annotated[list[str] | None, Query(description="villages-lacking: rules to list villages by")] = None,
    since: Annotated[int | None, Query(description="changes: the earlier run (default: the one before)")] = None,
) -> Report:
    """The report a request names, built as the asking account sees the data."""
    kind = report_kind(name)
    if kind.personal and not principal.personal:
        # Household rows are personal data: only roles allowed to see it may have them (row-level
        # security hides the rows too; this says why instead of answering an empty list).
        raise Forbidden(
            f"{kind.zh}含个人信息：角色 {principal.role} 无权查看",
            f"{kind.en} is personal data: role {principal.role} may not see it",
            report=name,
        )
    return build_report(engine, catalog, name, run, township, rule, since)


def requested_format(name: str, fmt: str) -> str:
    """The format a download asks for, checked for the report before it is built."""
    return report_kind(name).check_format(check_format(fmt))


ReportDep = Annotated[Report, Depends(requested_report)]


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    engine: EngineDep, settings: SettingsDep, principal: PrincipalDep, catalog: CatalogDep
) -> HTMLResponse:
    """The reports page: pick a run, an area and a rule, then download in any format; below, how
    complete the fields are that the rules read (the caller's features)."""
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT id, created_at, data_version FROM coverage_runs ORDER BY id DESC LIMIT 50")
        ).all()
        towns = conn.execute(text("SELECT code, name FROM townships ORDER BY code")).all()
        changed = data_changed_since(conn, runs[0].id) if runs else 0
        complete = completeness(conn, catalog, settings.coverage)
    page = render_template(
        settings.web_dir / "templates",
        "reports.html",
        reports=REPORTS,
        may_see_personal=principal.personal,
        rules=RULES,
        runs=runs,
        towns=towns,
        changed=changed,
        can_run=principal.role in RUNNERS,
        completeness=complete,
    )
    return HTMLResponse(page)


@router.get("/reports/{name}.{fmt}", response_model=None)
def download(
    fmt: Annotated[str, Depends(requested_format)],  # checked before the report is built
    system: SystemEngineDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    report: ReportDep,
) -> HTMLResponse | StreamingResponse | FileResponse:
    """A report in one format (``html`` opens in the browser; the rest download). The export is
    audited by the reports' core (``reports.export``), as from the command line."""
    templates = settings.web_dir / "templates"
    attachment = {"Content-Disposition": f'attachment; filename="{filename(report, fmt)}"'}
    if fmt == "html":
        with exporting(system, report, fmt, principal.username):
            page = html(report, templates)
        return HTMLResponse(page)
    if fmt == "csv":
        with exporting(system, report, fmt, principal.username):  # recorded as the stream starts
            lines = csv_lines(report)
        return StreamingResponse(
            (chunk.encode("utf-8") for chunk in lines), media_type=FORMATS["csv"].media, headers=attachment
        )
    tmp = tempfile.TemporaryDirectory(prefix="fupin-report-")
    try:
        path = export(system, report, fmt, Path(tmp.name) / filename(report, fmt), templates, principal.username)
    except BaseException:
        tmp.cleanup()
        raise
    return FileResponse(path, media_type=FORMATS[fmt].media, headers=attachment, background=BackgroundTask(tmp.cleanup))


@router.get("/api/reports", response_model=ReportList)
def list_reports() -> Any:
    """The reports, formats and rules."""
    return {
        "reports": [
            {"name": k.name, "label": k.zh, "label_en": k.en, "personal": k.personal, "formats": list(k.formats)}
            for k in REPORTS.values()
        ],
        "formats": list(FORMATS),
        "rules": [{"key": k, "label": r.zh, "label_en": r.en} for k, r in RULES.items()],
    }


@router.get("/api/reports/{name}", response_model=ReportOut)
def report_json(report: ReportDep) -> Any:
    """A report's tables as JSON: the run it comes from, and each section's columns and rows."""
    return jsonable_encoder(
        {
            "report": report.name,
            "label": report.zh,
            "run_id": report.run["run_id"],
            "about": [{"item": k, "value": v} for k, v in report.about],
            "headline": [{"item": k, "value": v} for k, v in report.headline],
            "sections": [
                {
                    "key": s.key,
                    "label": s.zh,
                    "columns": [{"key": c.key, "label": c.zh, "label_en": c.en, "kind": c.kind} for c in s.columns],
                    "rows": s.rows,
                }
                for s in report.sections
            ],
        }
    )
