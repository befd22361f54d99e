"""Pages of the project ledger: ``/projects`` (the library, filtered, with each project's state,
its next actions and the compliance list), ``/projects/{code}`` (its map, money, notices, forms
for each action) and, without sign-in, ``/gongshi/{village}``: the village's notices, running
and archived, with their frozen PDFs — never personal data (beneficiaries as counts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from fupin_gis.api.deps import EngineDep, PrincipalDep, SettingsDep
from fupin_gis.api.routes.projects import LedgerDep
from fupin_gis.errors import NotFound
from fupin_gis.ledger import compliance, notices
from fupin_gis.ledger.assets import CLASSES, OWNER_LEVELS
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import FINDINGS, LIBRARY, PROGRESS
from fupin_gis.ledger.fields import NATURES, today
from fupin_gis.ledger.money import wan
from fupin_gis.ledger.notices import CHANNELS, LEVELS
from fupin_gis.ledger.sheet import html as sheet_html
from fupin_gis.ledger.sheet import loads
from fupin_gis.ledger.sqlutil import ident
from fupin_gis.ledger.state import PAYMENT_KINDS, STATUS_LABELS
from fupin_gis.ledger.views import ACTIONS, list_projects, show
from fupin_gis.resources import render_template
from fupin_gis.settings import Settings

router = APIRouter(tags=["pages"])


def _page(settings: Settings, name: str, request: Request, **values: Any) -> HTMLResponse:
    english = request.query_params.get("lang") == "en"
    return HTMLResponse(render_template(settings.web_dir / "templates", name, wan=wan, english=english, **values))


@router.get("/projects", response_class=HTMLResponse)
def library_page(
    request: Request,
    engine: EngineDep,
    led: LedgerDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    township: Annotated[str | None, Query()] = None,
    category: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
    year: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """The project library with filters, each project's state and next actions, and the compliance list."""
    chosen = int(year) if year and year.isdigit() else None
    with engine.connect() as conn:
        rows = list_projects(conn, led, township or None, category or None, status or None, chosen)
        towns = conn.execute(text("SELECT code, name FROM townships ORDER BY code")).all()
        problems = compliance.problems(conn, led)
    return _page(
        settings,
        "projects.html",
        request,
        rows=rows,
        towns=towns,
        categories=led.rules.categories,
        statuses=STATUS_LABELS,
        actions=ACTIONS,
        problems=problems,
        kinds=compliance.KINDS,
        chosen={"township": township or "", "category": category or "", "status": status or "", "year": year or ""},
        can_add=principal.role in LIBRARY,
    )


def _features(conn: Any, led: Ledger, view: dict[str, Any]) -> dict[str, Any]:
    features = []
    layers: dict[str, list[int]] = {}
    for f in view["features"]:
        if f["linked"]:
            layers.setdefault(f["layer"], []).append(f["feature_id"])
    for layer, ids in layers.items():
        rows = conn.execute(
            text(f"SELECT id, ST_AsGeoJSON(geom, 7)::jsonb AS g FROM {ident(layer)} WHERE id = ANY(:i)"), {"i": ids}
        )
        features += [
            {
                "type": "Feature",
                "properties": {"layer": layer, "id": r.id, "label": led.catalog.layer(layer).label},
                "geometry": r.g,
            }
            for r in rows
            if r.g
        ]
    rows = conn.execute(
        text("SELECT code, name, ST_AsGeoJSON(geom, 6)::jsonb AS g FROM villages WHERE code = ANY(:c)"),
        {"c": list(view["record"]["villages"])},
    )
    villages = [{"type": "Feature", "properties": {"code": r.code, "name": r.name}, "geometry": r.g} for r in rows]
    return {
        "works": {"type": "FeatureCollection", "features": features},
        "villages": {"type": "FeatureCollection", "features": villages},
    }


@router.get("/projects/{code}", response_class=HTMLResponse)
def project_page(
    code: str, request: Request, engine: EngineDep, led: LedgerDep, settings: SettingsDep, principal: PrincipalDep
) -> HTMLResponse:
    """One project: its map, money against the caps, notices, acceptance, findings, assets, and the forms."""
    with engine.connect() as conn:
        view = show(conn, led, code)
        shapes = _features(conn, led, view)
    role = principal.role
    allowed = {
        "library": role in LIBRARY,
        "progress": role in PROGRESS,
        "request": role in led.rules.rules.reimbursement.requesters,
        "approve": any(role in s.roles for s in led.rules.rules.reimbursement.steps),
        "finding": role in FINDINGS,
    }
    return _page(
        settings,
        "project.html",
        request,
        p=view,
        shapes=shapes,
        allowed=allowed,
        actions=ACTIONS,
        rules=led.rules,
        kinds=PAYMENT_KINDS,
        natures=NATURES,
        classes=CLASSES,
        owner_levels=OWNER_LEVELS,
        levels=LEVELS,
        channels=CHANNELS,
        today=today(led.rules),
        user=principal.username,
    )


@router.get("/projects/notices/{notice}", response_class=HTMLResponse)
def notice_sheet(notice: int, engine: EngineDep, settings: SettingsDep, principal: PrincipalDep) -> HTMLResponse:
    """A notice's sheet as HTML (from its frozen content)."""
    with engine.connect() as conn:
        row = notices.notice(conn, notice)
    return HTMLResponse(sheet_html(loads(row["content"]), settings.web_dir / "templates"))


@router.get("/gongshi/{village}", response_class=HTMLResponse)
def public_notices(village: str, request: Request, led: LedgerDep, settings: SettingsDep) -> HTMLResponse:
    """The public disclosure page of a village (no sign-in): notices running and archived."""
    with led.engine.connect() as conn:
        found = notices.village_notices(conn, led, village)
    return _page(settings, "gongshi.html", request, v=found)


@router.get("/gongshi/notices/{notice}.pdf")
def public_pdf(notice: int, led: LedgerDep) -> Response:
    """A notice's frozen sheet, public (it holds no personal data)."""
    with led.engine.connect() as conn:
        row = notices.notice(conn, notice)
    if row["pdf"] is None:
        raise NotFound(f"公示 {notice} 没有冻结的 PDF", f"notice {notice} has no frozen PDF", notice=notice)
    return Response(bytes(row["pdf"]), media_type="application/pdf", headers={"X-Content-SHA256": row["pdf_sha256"]})
