"""``/api/projects/{code}/…``: procurement, contracts, progress, payments and their approvals,
notices (and their frozen PDFs), acceptance, hand-over and audit findings. Each is checked by the
fund rules in the core: a refusal is 409 ``rule_refused`` naming the rule, its value and the
figures; a role or scope that may not act is 403."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, Field

from fupin_gis.api.deps import EngineDep, PrincipalDep
from fupin_gis.api.routes.projects import LedgerDep, answer
from fupin_gis.errors import NotFound
from fupin_gis.ledger import acceptance, assets, audit, notices, payments, progress, works
from fupin_gis.ledger.state import load

router = APIRouter(tags=["projects"])


class Procurement(BaseModel):
    """A procurement."""

    kind: str = Field("works", description="works, goods, services")
    method: str = Field(
        description="public_tender, invited_tender, competitive, inquiry, single_source, direct, self_build"
    )
    estimate: str = Field(description="估算 (元)")
    announced_on: date | None = None
    awarded_on: date | None = None
    winner: str | None = None


class Contract(BaseModel):
    """A contract."""

    number: str = Field(description="合同编号")
    contractor: str
    value: str = Field(description="元")
    advance_share: str = Field("0.4", description="预付比例")
    retention_share: str = Field("0.05", description="质保金比例")
    signed_on: date | None = None
    procurement: int | None = None


class ContractChange(BaseModel):
    """A change of a contract's value, with its approval."""

    delta: str
    approval_ref: str
    approved_by: str
    reason: str
    on: date | None = None


class Progress(BaseModel):
    """A progress report (the certified % defaults to the registry's measure)."""

    on: date | None = None
    certified: str | None = None
    reason: str | None = None
    certifier: str | None = None
    photos: list[list[float]] | None = Field(None, description="[[lon, lat], …]")


class PaymentRequest(BaseModel):
    """A payment from one budget line."""

    line: int
    amount: str
    kind: str = Field("progress", description="advance, progress, final, retention, direct")
    contract: int | None = None
    voucher: str | None = None
    evidence: dict[str, str] = Field(default_factory=dict, description="evidence kind → document number")
    on: date | None = None


class Decision(BaseModel):
    """An approval step's decision."""

    decision: str = Field("approve", description="approve or reject")
    note: str | None = None
    on: date | None = None


class PaymentReversal(BaseModel):
    """A payment's reversal."""

    reason: str
    on: date | None = None


class Notice(BaseModel):
    """A public notice."""

    kind: str = Field("plan", description="plan, funds, beneficiary, completion")
    start: date | None = None
    end: date
    level: str = "village"
    channel: str = "board"
    day_unit: str | None = None
    villages: list[str] | None = None


class Objection(BaseModel):
    """An objection received during a notice."""

    summary: str
    received_on: date | None = None
    resolution: str | None = None


class Acceptance(BaseModel):
    """An acceptance."""

    team: list[str]
    on: date | None = None
    result: str = "pass"
    kind: str = "completion"
    rectify_by: date | None = None
    rerun_coverage: bool | None = None


class Handover(BaseModel):
    """Hand-over to the asset register."""

    asset_class: str
    owner: str
    owner_level: str = "village"
    maintainer_unit: str
    maintainer_person: str
    on: date | None = None
    confirmed_on: date | None = None
    certificate: str | None = None


class Finding(BaseModel):
    """An audit finding."""

    kind: str = "none"
    description: str
    amount: str | None = None
    found_on: date | None = None
    due_on: date | None = None
    defect: bool | None = None


class FindingUpdate(BaseModel):
    """A finding moved on."""

    status: str = Field(description="rectifying or resolved")
    note: str
    on: date | None = None


Code = Annotated[str, Path(description="项目编号")]


@router.post("/api/projects/{code}/procurements", status_code=201)
def procure(code: Code, body: Procurement, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Record a procurement (after the pre-works notice; a tender above the threshold of its day)."""
    made = works.record_procurement(
        led, principal, code, body.kind, body.method, body.estimate, body.announced_on, body.awarded_on, body.winner
    )
    return answer({"procurement": made}, 201)


@router.post("/api/projects/{code}/contracts", status_code=201)
def contract(code: Code, body: Contract, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Record a contract."""
    made = works.sign_contract(
        led, principal, code, body.number, body.contractor, body.value, body.advance_share, body.retention_share,
        body.signed_on, body.procurement,
    )  # fmt: skip
    return answer({"contract": made}, 201)


@router.post("/api/projects/{code}/contracts/{contract}/changes", status_code=201)
def change(code: Code, contract: int, body: ContractChange, led: LedgerDep, principal: PrincipalDep) -> Response:
    """A change of a contract's value with its approval."""
    made = works.change_contract(
        led, principal, code, contract, body.delta, body.approval_ref, body.approved_by, body.reason, body.on
    )
    return answer({"change": made}, 201)


@router.post("/api/projects/{code}/progress", status_code=201)
def report(code: Code, body: Progress, led: LedgerDep, principal: PrincipalDep) -> Response:
    """File a progress report (engineers)."""
    made = progress.report_progress(
        led, principal, code, body.on, body.certified, body.reason, body.certifier, body.photos
    )
    return answer({"progress": made}, 201)


@router.get("/api/projects/{code}/measure")
def measure(code: Code, engine: EngineDep, led: LedgerDep, as_of: date | None = None) -> Response:
    """The registry's measure of the project's works at the end of ``as_of`` (default: now)."""
    with engine.connect() as conn:
        return answer(progress.measure_on(conn, led, load(conn, code), as_of))


@router.post("/api/projects/{code}/payments", status_code=201)
def pay(code: Code, body: PaymentRequest, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Request a payment (报账) from one line, capped by certified progress."""
    made = payments.request_payment(
        led, principal, code, body.line, body.amount, body.kind, body.contract, body.voucher, body.evidence, body.on
    )
    return answer({"payment": made, "state": "pending"}, 201)


@router.post("/api/projects/{code}/payments/{payment}/approve")
def approve(code: Code, payment: int, body: Decision, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Approve (or reject) the step the payment waits for; never by its requester."""
    state = payments.approve_payment(led, principal, code, payment, body.decision, body.note, body.on)
    return answer({"payment": payment, "state": state})


@router.post("/api/projects/{code}/payments/{payment}/reverse", status_code=201)
def reverse(code: Code, payment: int, body: PaymentReversal, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Reverse a payment (finance and admins)."""
    return answer({"payment": payments.reverse_payment(led, principal, code, payment, body.reason, body.on)}, 201)


@router.post("/api/projects/{code}/notices", status_code=201)
def post(code: Code, body: Notice, led: LedgerDep, principal: PrincipalDep, engine: EngineDep) -> Response:
    """Post a notice: its content and printed sheet frozen with their SHA-256."""
    nid = notices.post_notice(
        led, principal, code, body.kind, body.start, body.end, body.level, body.channel, body.day_unit, body.villages
    )
    with engine.connect() as conn:
        row = notices.notice(conn, nid)
    return answer(
        {"notice": nid, "days": row["days"], "pdf_sha256": row["pdf_sha256"], "content_sha256": row["content_sha256"]},
        201,
    )


@router.post("/api/projects/{code}/notices/{notice}/objections", status_code=201)
def objection(code: Code, notice: int, body: Objection, led: LedgerDep, principal: PrincipalDep) -> Response:
    """An objection received during the notice."""
    made = notices.record_objection(led, principal, code, notice, body.summary, body.received_on, body.resolution)
    return answer({"objection": made}, 201)


@router.post("/api/projects/{code}/acceptances", status_code=201)
def accept(code: Code, body: Acceptance, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Record an acceptance (a pass reruns the coverage rules and records the effects)."""
    made = acceptance.accept(
        led, principal, code, body.team, body.on, body.result, body.kind, body.rectify_by, None, body.rerun_coverage
    )
    return answer({"acceptance": made}, 201)


@router.post("/api/projects/{code}/handover", status_code=201)
def handover(code: Code, body: Handover, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Hand the works over to the asset register."""
    made = assets.handover(
        led, principal, code, body.asset_class, body.owner, body.owner_level, body.maintainer_unit,
        body.maintainer_person, body.on, body.confirmed_on, body.certificate,
    )  # fmt: skip
    return answer({"assets": made}, 201)


@router.post("/api/projects/{code}/findings", status_code=201)
def finding(code: Code, body: Finding, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Record an audit finding (auditors)."""
    made = audit.record_finding(
        led, principal, code, body.kind, body.description, body.amount, body.found_on, body.due_on, body.defect
    )
    return answer({"finding": made}, 201)


@router.post("/api/projects/{code}/findings/{finding}/updates", status_code=201)
def finding_update(code: Code, finding: int, body: FindingUpdate, led: LedgerDep, principal: PrincipalDep) -> Response:
    """Move a finding on (planners: rectifying; auditors: resolved)."""
    audit.update_finding(led, principal, code, finding, body.status, body.note, body.on)
    return answer({"finding": finding, "status": body.status}, 201)


@router.get("/api/notices/{notice}.pdf")
def notice_pdf(notice: int, engine: EngineDep) -> Response:
    """A notice's frozen sheet, byte for byte (its SHA-256 in the ``X-Content-SHA256`` header)."""
    with engine.connect() as conn:
        row = notices.notice(conn, notice)
    if row["pdf"] is None:
        raise NotFound(f"公示 {notice} 没有冻结的 PDF", f"notice {notice} has no frozen PDF", notice=notice)
    return Response(bytes(row["pdf"]), media_type="application/pdf", headers={"X-Content-SHA256": row["pdf_sha256"]})
