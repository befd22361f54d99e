"""A project as the ledger knows it now: its current library record and status, and the facts
recorded for it (lines, procurement, contracts, progress, payments, notices, acceptance, findings,
assets, features), each net of its reversals. Read in one place, for the checks and for display."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from fupin_gis.errors import NotFound

STATUS_LABELS = {
    "draft": ("储备", "Draft"),
    "library": ("已入库", "In the library"),
    "implementing": ("实施中", "Under way"),
    "accepted": ("已验收", "Accepted"),
    "handed_over": ("已移交", "Handed over"),
    "closed": ("已关闭", "Closed"),
    "cancelled": ("已撤销", "Cancelled"),
}
PAYMENT_KINDS = {
    "advance": ("预拨款", "Advance"),
    "progress": ("进度款", "Progress payment"),
    "final": ("尾款", "Final payment"),
    "retention": ("质保金", "Retention"),
    "direct": ("到户直补", "Direct to households"),
}
ZERO = Decimal("0.00")


@dataclass
class Payment:
    """A payment request, its approvals and reversals."""

    id: int
    kind: str
    amount: Decimal
    line_id: int
    contract_id: int | None
    voucher: str | None
    evidence: dict[str, str]
    requested_by: str
    requested_on: date
    approvals: list[dict[str, Any]] = field(default_factory=list)
    reversed: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        """What the payment amounts to after its reversals."""
        return self.amount + self.reversed

    @property
    def rejected(self) -> bool:
        """A step refused it: it is dead."""
        return any(a["decision"] == "reject" for a in self.approvals)

    def state(self, steps: list[str]) -> str:
        """pending / approved / rejected / reversed."""
        if self.rejected:
            return "rejected"
        if self.net == 0:
            return "reversed"
        done = {a["step"] for a in self.approvals if a["decision"] == "approve"}
        return "approved" if all(s in done for s in steps) else "pending"


@dataclass
class Project:
    """One project: the record of its newest revision and everything recorded for it."""

    code: str
    record: dict[str, Any]
    status: str
    status_on: date | None
    lines: list[dict[str, Any]]
    procurements: list[dict[str, Any]]
    contracts: list[dict[str, Any]]
    progress: list[dict[str, Any]]
    payments: list[Payment]
    notices: list[dict[str, Any]]
    acceptances: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    assets: list[dict[str, Any]]
    features: list[dict[str, Any]]
    children: list[dict[str, Any]]

    @property
    def total(self) -> Decimal:
        """The project's total investment (项目总投资)."""
        return Decimal(self.record["total_yuan"])

    @property
    def lines_total(self) -> Decimal:
        """The budget lines' sum, net of reversals."""
        return sum((ln["amount"] for ln in self.lines), ZERO)

    @property
    def children_total(self) -> Decimal:
        """What its sub-projects (not cancelled) hold: a project's money is its own lines plus them."""
        return sum((Decimal(c["total_yuan"]) for c in self.children if c["status"] != "cancelled"), ZERO)

    @property
    def funded(self) -> Decimal:
        """Its own budget lines plus its sub-projects' totals."""
        return self.lines_total + self.children_total

    @property
    def certified_pct(self) -> Decimal:
        """The newest certified progress (0 before any report)."""
        return Decimal(self.progress[-1]["certified_pct"]) if self.progress else Decimal(0)

    def passed_acceptance(self) -> dict[str, Any] | None:
        """The latest acceptance if it passed."""
        done = [a for a in self.acceptances if a["kind"] in ("completion", "final")]
        return done[-1] if done and done[-1]["result"] == "pass" else None

    def line(self, line_id: int) -> dict[str, Any] | None:
        """A budget line of this project by id."""
        return next((ln for ln in self.lines if ln["id"] == line_id), None)

    def contract(self, contract_id: int) -> dict[str, Any] | None:
        """A contract of this project by id."""
        return next((c for c in self.contracts if c["id"] == contract_id), None)

    def live_payments(self) -> list[Payment]:
        """Payments that count against caps: requested or approved, not rejected, net of reversals."""
        return [p for p in self.payments if not p.rejected and p.net != 0]

    def open_findings(self) -> list[dict[str, Any]]:
        """Audit findings not yet resolved."""
        return [f for f in self.findings if f["status"] != "resolved" and f["kind"] != "none"]


def _rows(conn: Connection, sql: str, code: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(text(sql), {"c": code}).mappings()]


def load(conn: Connection, code: str) -> Project:
    """The project ``code`` (as the connection's scope sees it), or NotFound."""
    rec = conn.execute(text("SELECT * FROM ledger_projects_now WHERE code = :c"), {"c": code}).mappings().first()
    if rec is None:
        raise NotFound(f"没有项目 {code}", f"No project {code}", project=code)
    record = dict(rec)
    lines = _rows(
        conn,
        "SELECT l.id, l.source, l.year, l.derived, l.note, l.amount_yuan + coalesce((SELECT sum(r.amount_yuan) "
        "FROM ledger_budget_lines r WHERE r.reverses = l.id), 0) AS amount, l.amount_yuan AS original "
        "FROM ledger_budget_lines l WHERE l.project_code = :c AND l.reverses IS NULL ORDER BY l.id",
        code,
    )
    contracts = _rows(
        conn,
        "SELECT c.*, c.value_yuan + coalesce((SELECT sum(x.delta_yuan) FROM ledger_contract_changes x "
        "WHERE x.contract_id = c.id), 0) AS value, (SELECT count(*) FROM ledger_contract_changes x "
        "WHERE x.contract_id = c.id) AS changes FROM ledger_contracts c WHERE c.project_code = :c ORDER BY c.id",
        code,
    )
    raw = _rows(conn, "SELECT * FROM ledger_payments WHERE project_code = :c ORDER BY id", code)
    approvals = _rows(
        conn,
        "SELECT a.* FROM ledger_approvals a JOIN ledger_payments p ON p.id = a.payment_id "
        "WHERE p.project_code = :c ORDER BY a.id",
        code,
    )
    payments = {
        r["id"]: Payment(
            r["id"],
            r["kind"],
            r["amount_yuan"],
            r["line_id"],
            r["contract_id"],
            r["voucher"],
            r["evidence"],
            r["requested_by"],
            r["requested_on"],
        )
        for r in raw
        if r["reverses"] is None
    }
    for r in raw:
        if r["reverses"] is not None:
            payments[r["reverses"]].reversed += r["amount_yuan"]
    for a in approvals:
        payments[a["payment_id"]].approvals.append(a)
    findings = _rows(
        conn,
        "SELECT f.*, coalesce(u.status, 'open') AS status, u.on_date AS status_on, u.note AS status_note "
        "FROM ledger_findings f LEFT JOIN LATERAL (SELECT status, on_date, note FROM ledger_finding_updates x "
        "WHERE x.finding_id = f.id ORDER BY x.id DESC LIMIT 1) u ON true WHERE f.project_code = :c ORDER BY f.id",
        code,
    )
    return Project(
        code=code,
        record=record,
        status=record["status"] or "draft",
        status_on=record["status_on"],
        lines=lines,
        procurements=_rows(conn, "SELECT * FROM ledger_procurements WHERE project_code = :c ORDER BY id", code),
        contracts=contracts,
        progress=_rows(
            conn,
            "SELECT id, reported_on, measured, measured_pct, certified_pct, override_reason, certifier, reporter, "
            "ST_AsGeoJSON(photos)::jsonb AS photos FROM ledger_progress WHERE project_code = :c ORDER BY id",
            code,
        ),
        payments=list(payments.values()),
        notices=_rows(
            conn,
            "SELECT id, kind, level, channel, start_on, end_on, day_unit, days, villages, content_sha256, pdf_sha256, "
            "posted_by, (SELECT count(*) FROM ledger_objections o WHERE o.notice_id = n.id) AS objections "
            "FROM ledger_notices n WHERE project_code = :c ORDER BY id",
            code,
        ),
        acceptances=_rows(conn, "SELECT * FROM ledger_acceptances WHERE project_code = :c ORDER BY id", code),
        findings=findings,
        assets=_rows(conn, "SELECT * FROM ledger_assets WHERE project_code = :c ORDER BY id", code),
        features=_rows(
            conn,
            "SELECT DISTINCT ON (layer, feature_id, role) layer, feature_id, role, linked FROM ledger_project_features "
            "WHERE project_code = :c ORDER BY layer, feature_id, role, id DESC",
            code,
        ),
        children=_rows(
            conn,
            "SELECT code, name, total_yuan, status FROM ledger_projects_now WHERE parent_code = :c ORDER BY code",
            code,
        ),
    )


def fetch(engine: Engine, code: str) -> Project:
    """:func:`load` on a connection of its own."""
    with engine.connect() as conn:
        return load(conn, code)


def linked(project: Project, roles: tuple[str, ...] = ("planned", "as_built")) -> dict[str, list[int]]:
    """Feature ids by layer that the project builds (its links still in force)."""
    out: dict[str, list[int]] = {}
    for f in project.features:
        if f["linked"] and f["role"] in roles:
            out.setdefault(f["layer"], [])
            if f["feature_id"] not in out[f["layer"]]:
                out[f["layer"]].append(f["feature_id"])
    return out
