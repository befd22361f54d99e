"""``/api/projects``: the project library as JSON — list, show, add, amend, lines, features, entry
into the library, drafts, close — with the money as text to the fen (never a float). Reads run
under row-level security; writes are checked by the ledger's core (roles, scope, fund rules)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from fupin_gis.api.deps import CatalogDep, EngineDep, PrincipalDep, SettingsDep, SystemEngineDep
from fupin_gis.ledger import compliance, drafts, library
from fupin_gis.ledger.config import FundRules, load_rules
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.events import events
from fupin_gis.ledger.state import load
from fupin_gis.ledger.views import list_projects, show
from fupin_gis.ledger.villages import by_village

router = APIRouter(tags=["projects"])


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    raise TypeError(type(value).__name__)


def answer(value: Any, status: int = 200) -> Response:
    """JSON with money as text (``"1234567.89"``) and ISO dates."""
    return Response(
        json.dumps(value, ensure_ascii=False, default=_plain), status_code=status, media_type="application/json"
    )


def rules_of(request: Request, settings: SettingsDep, catalog: CatalogDep) -> FundRules:
    """The fund rules, read once per app (checked against the catalog)."""
    cached = getattr(request.app.state, "fund_rules", None)
    if cached is None:
        cached = request.app.state.fund_rules = load_rules(settings.ledger.rules_file, catalog)
    return cached


RulesDep = Annotated[FundRules, Depends(rules_of)]


def get_ledger(system: SystemEngineDep, catalog: CatalogDep, settings: SettingsDep, rules: RulesDep) -> Ledger:
    """The ledger on the owner's engine: its core checks the asking account's role and scope itself."""
    return Ledger(system, catalog, rules, settings)


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


class ProjectRecord(BaseModel):
    """A 项目库 record (every field optional here; entry into the library needs them all)."""

    code: str | None = Field(None, description="项目编号 (default: XM-<year>-<n>)")
    name: str | None = Field(None, description="项目名称")
    parent_code: str | None = Field(None, description="所属项目 (a sub-project)")
    programme: str | None = None
    tranche: str | None = None
    category: str | None = Field(None, description="infrastructure, industry, social, household_env")
    subtype: str | None = Field(None, description="项目子类 (plans/fund-rules.toml)")
    nature: str | None = Field(
        None, description="建设性质: new, rebuild, renovate, expand, repair, purchase, support, training"
    )
    villages: list[str] | None = Field(None, description="建设地点: 12-digit village codes")
    content: str | None = Field(None, description="建设内容及规模")
    quantity: Decimal | None = None
    unit: str | None = None
    department: str | None = Field(None, description="主管部门")
    implementer: str | None = Field(None, description="实施单位")
    responsible: str | None = Field(None, description="责任人")
    start_planned: date | None = None
    end_planned: date | None = None
    indicators: list[dict[str, str]] | None = Field(None, description="绩效目标: [{name, target, unit}]")
    benefit_mechanism: str | None = Field(None, description="带贫减贫机制")
    beneficiaries: dict[str, int] | None = Field(
        None, description="households, people, poor_households, poor_people (counts)"
    )
    total_yuan: str | None = Field(None, description="项目总投资 (元, text: exact to the fen)")


class NewProject(ProjectRecord):
    """A project to add, and why."""

    reason: str | None = None


class Amendment(BaseModel):
    """Changes to a project's record."""

    changes: ProjectRecord
    reason: str | None = Field(None, description="required once the project is in the library")


class Line(BaseModel):
    """A budget line by funding source and year."""

    source: str = Field(description="资金来源 key of plans/fund-rules.toml")
    year: int
    amount: str = Field(description="元, text")
    note: str | None = None


class Reversal(BaseModel):
    """A reversal: why, and (for a part) how much."""

    reason: str
    amount: str | None = None


class Links(BaseModel):
    """Registry features a project builds."""

    layer: str
    ids: list[int]
    role: str = Field("planned", description="planned, as_built or served")
    unlink: bool = False


class OnDay(BaseModel):
    """A date it happened on (default today) and a note."""

    on: date | None = None
    reason: str | None = None


def _record(body: ProjectRecord) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True, exclude={"reason"})


@router.get("/api/projects")
def projects(
    engine: EngineDep,
    led: LedgerDep,
    township: Annotated[str | None, Query(description="9-digit township or 6-digit county code")] = None,
    category: Annotated[str | None, Query(description="project category")] = None,
    status: Annotated[
        str | None, Query(description="draft, library, implementing, accepted, handed_over, closed")
    ] = None,
    year: Annotated[int | None, Query(description="tranche year")] = None,
) -> Response:
    """The library as the account sees it."""
    with engine.connect() as conn:
        return answer(list_projects(conn, led, township, category, status, year))


@router.post("/api/projects", status_code=201)
def add(body: NewProject, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Add a project as a draft (储备): planners and admins."""
    return answer({"code": library.add_project(led, principal, _record(body), body.reason)}, 201)


@router.post("/api/projects/drafts", status_code=201)
def draft(led: LedgerDep, principal: PrincipalDep, run: Annotated[int, Query(description="coverage run")]) -> Response:
    """Draft projects from a coverage run's joint harden plan and water gaps."""
    return answer(drafts.draft_from_run(led, principal, run), 201)


@router.get("/api/ledger/compliance")
def compliance_list(engine: EngineDep, led: LedgerDep) -> Response:
    """Notices missing or too short, payments without evidence or above the cap, overdue findings, missing tenders."""
    with engine.connect() as conn:
        return answer(compliance.problems(conn, led))


@router.get("/api/projects/{code}")
def project(code: str, engine: EngineDep, led: LedgerDep) -> Response:
    """One project in full: money against caps, notices with their state, the measure, the split by village."""
    with engine.connect() as conn:
        return answer(show(conn, led, code))


@router.get("/api/projects/{code}/villages")
def villages(code: str, engine: EngineDep, led: LedgerDep) -> Response:
    """The project's money split by village (spatial join of its works), exact to the fen."""
    with engine.connect() as conn:
        return answer(by_village(conn, led, load(conn, code)))


@router.get("/api/projects/{code}/events")
def project_events(code: str, engine: EngineDep) -> Response:
    """The project's events, newest first (actor, time, reason, the checks applied)."""
    with engine.connect() as conn:
        return answer(events(conn, code))


@router.patch("/api/projects/{code}")
def amend(code: str, body: Amendment, led: LedgerDep, principal: PrincipalDep) -> Response:
    """A new revision of the record."""
    revision = library.amend_project(led, principal, code, body.changes.model_dump(exclude_unset=True), body.reason)
    return answer({"code": code, "revision": revision})


@router.post("/api/projects/{code}/enter")
def enter(code: str, body: OnDay, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Approve a draft into the library (入库): rule 1's fields, rule 2's totals."""
    library.enter_library(led, principal, code, body.on)
    return answer({"code": code, "status": "library"})


@router.post("/api/projects/{code}/lines", status_code=201)
def add_line(code: str, body: Line, led: LedgerDep, principal: PrincipalDep) -> Response:
    """A budget line by source and year."""
    return answer(
        {"line": library.add_line(led, principal, code, body.source, body.year, body.amount, note=body.note)}, 201
    )


@router.post("/api/projects/{code}/lines/{line}/reverse", status_code=201)
def reverse_line(code: str, line: int, body: Reversal, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Reverse a line (whole, or a part)."""
    return answer({"line": library.reverse_line(led, principal, code, line, body.reason, body.amount)}, 201)


@router.post("/api/projects/{code}/features")
def link(code: str, body: Links, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Link (or unlink) registry features."""
    event = library.link_features(led, principal, code, body.layer, body.ids, body.role, body.unlink)
    return answer({"event": event})


@router.post("/api/projects/{code}/close")
def close(code: str, body: OnDay, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Close: accepted, handed over, audited, no finding open."""
    library.close_project(led, principal, code, body.on, body.reason)
    return answer({"code": code, "status": "closed"})


@router.post("/api/projects/{code}/cancel")
def cancel(code: str, body: Reversal, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Cancel a project nothing was paid for."""
    library.cancel_project(led, principal, code, body.reason)
    return answer({"code": code, "status": "cancelled"})
