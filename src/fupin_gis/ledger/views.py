"""What the command line, the API and the pages show: the library as a list (filtered), one project
in full (money against caps, notices with their state, the measure from the registry, the split by
village, the events), and the actions its state allows next."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.disclosure import notice_state
from fupin_gis.ledger.events import events
from fupin_gis.ledger.fields import today
from fupin_gis.ledger.money import wan
from fupin_gis.ledger.payments import cap, next_step
from fupin_gis.ledger.progress import measure
from fupin_gis.ledger.state import PAYMENT_KINDS, STATUS_LABELS, Project, load
from fupin_gis.ledger.villages import by_village

ACTIONS: dict[str, tuple[str, str]] = {
    "amend": ("修改", "amend"),
    "line": ("增加资金来源", "add a budget line"),
    "link": ("关联登记要素", "link registry features"),
    "enter": ("批准入库", "approve into the library"),
    "notice": ("发布公示", "post a notice"),
    "procure": ("登记采购", "record procurement"),
    "contract": ("登记合同", "record a contract"),
    "progress": ("报告进度", "report progress"),
    "pay": ("申请报账", "request a payment"),
    "approve": ("审批支付", "approve a payment"),
    "accept": ("验收", "accept"),
    "handover": ("移交资产", "hand over the assets"),
    "finding": ("登记审计", "record an audit"),
    "close": ("关闭项目", "close"),
    "cancel": ("撤销", "cancel"),
}
BY_STATUS = {
    "draft": ["amend", "line", "link", "enter", "cancel"],
    "library": ["amend", "line", "link", "notice", "procure", "contract", "progress", "cancel"],
    "implementing": [
        "amend",
        "line",
        "link",
        "notice",
        "procure",
        "contract",
        "progress",
        "pay",
        "approve",
        "accept",
        "finding",
    ],
    "accepted": ["notice", "pay", "approve", "handover", "finding", "close"],
    "handed_over": ["pay", "approve", "finding", "close"],
    "closed": [],
    "cancelled": [],
}


def next_actions(led: Ledger, p: Project) -> list[str]:
    """The actions the project's stage allows (the rules still judge each one when it is made)."""
    actions = list(BY_STATUS.get(p.status, []))
    if "approve" in actions and not any(next_step(led, x) for x in p.payments):
        actions.remove("approve")
    return actions


def paid(led: Ledger, p: Project) -> Decimal:
    """Approved payments, net of reversals."""
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    return sum((x.net for x in p.payments if x.state(steps) == "approved"), Decimal(0))


def list_projects(
    conn: Connection,
    led: Ledger,
    township: str | None = None,
    category: str | None = None,
    status: str | None = None,
    year: int | None = None,
) -> list[dict[str, Any]]:
    """The library as the connection's scope sees it, filtered; one row a project with its money."""
    rows = conn.execute(
        text(
            "SELECT p.code, p.name, p.parent_code, p.category, p.subtype, p.township_code, p.villages, p.total_yuan, "
            "p.status, p.status_on, t.year, "
            "(SELECT coalesce(sum(l.amount_yuan), 0) FROM ledger_budget_lines l WHERE l.project_code = p.code) AS lines, "
            "(SELECT certified_pct FROM ledger_progress g WHERE g.project_code = p.code ORDER BY g.id DESC LIMIT 1) AS certified "
            "FROM ledger_projects_now p LEFT JOIN ledger_tranches t ON t.code = p.tranche "
            "WHERE (CAST(:t AS text) IS NULL OR p.township_code LIKE :t || '%' OR EXISTS (SELECT 1 FROM unnest(p.villages) v WHERE v LIKE :t || '%')) "
            "AND (CAST(:c AS text) IS NULL OR p.category = :c) AND (CAST(:s AS text) IS NULL OR p.status = :s) "
            "AND (CAST(:y AS integer) IS NULL OR t.year = :y OR extract(year FROM p.start_planned) = :y) ORDER BY p.code"
        ),
        {"t": township, "c": category, "s": status, "y": year},
    ).mappings()
    names: dict[str, str] = dict(conn.execute(text("SELECT code, name FROM townships")).all())
    out = []
    for r in rows:
        row = dict(r)
        row["status_label"] = STATUS_LABELS[row["status"] or "draft"][0]
        row["category_label"] = led.rules.categories[row["category"]].label if row["category"] else ""
        row["township"] = names.get((row["township_code"] or "")[:9], "")
        row["total_wan"] = wan(row["total_yuan"])
        row["actions"] = BY_STATUS.get(row["status"] or "draft", [])
        out.append(row)
    return out


def show(conn: Connection, led: Ledger, code: str, day: date | None = None) -> dict[str, Any]:
    """One project in full."""
    day = day or today(led.rules)
    p = load(conn, code)
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    contracts = [c | {"cap": cap(led, p, c, day)} for c in p.contracts]
    payments = [
        {
            "id": x.id,
            "kind": x.kind,
            "kind_label": PAYMENT_KINDS[x.kind][0],
            "amount": x.amount,
            "net": x.net,
            "line_id": x.line_id,
            "contract_id": x.contract_id,
            "voucher": x.voucher,
            "evidence": x.evidence,
            "requested_by": x.requested_by,
            "requested_on": x.requested_on,
            "state": x.state(steps),
            "next_step": next_step(led, x),
            "approvals": x.approvals,
        }
        for x in p.payments
    ]
    notices = [
        n | {"state": notice_state(n, led, day), "label": led.rules.rules.disclosure.kinds[n["kind"]].label}
        for n in p.notices
    ]
    names: dict[str, str] = dict(
        conn.execute(
            text("SELECT code, name FROM villages WHERE code = ANY(:c)"), {"c": list(p.record["villages"])}
        ).all()
    )
    return {
        "code": p.code,
        "record": p.record,
        "status": p.status,
        "status_label": STATUS_LABELS[p.status],
        "villages": [{"code": v, "name": names.get(v, "")} for v in p.record["villages"]],
        "category_label": led.rules.categories[p.record["category"]].label if p.record.get("category") else "",
        "subtype_label": led.rules.subtypes[p.record["subtype"]].label
        if p.record.get("subtype") in led.rules.subtypes
        else "",
        "total": p.total,
        "lines": [ln | {"label": led.rules.sources[ln["source"]].label} for ln in p.lines],
        "lines_total": p.lines_total,
        "paid": paid(led, p),
        "procurements": p.procurements,
        "contracts": contracts,
        "progress": p.progress,
        "certified_pct": p.certified_pct,
        "measured": measure(conn, led, p),
        "payments": payments,
        "notices": notices,
        "acceptances": p.acceptances,
        "findings": p.findings,
        "assets": p.assets,
        "features": p.features,
        "children": p.children,
        "by_village": by_village(conn, led, p),
        "actions": next_actions(led, p),
        "events": events(conn, code, 200),
    }
