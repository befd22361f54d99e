"""Audit findings (审计问题): recorded by auditors after each work (or ``none``, audited with no
finding), with an amount, a deadline and a status that moves open → rectifying → resolved by
appended updates; an open finding blocks closing, an open defect blocks the retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import FINDINGS, LIBRARY, require, require_area
from fupin_gis.ledger.events import record
from fupin_gis.ledger.fields import not_after_today, parse_date, today
from fupin_gis.ledger.money import yuan
from fupin_gis.ledger.sqlutil import acting
from fupin_gis.ledger.state import load

KINDS = {
    "none": ("审计无问题", "audited: no finding"),
    "misappropriation": ("挪用、挤占资金", "funds diverted"),
    "overpayment": ("超进度、超合同支付", "paid beyond progress or contract"),
    "quality": ("工程质量缺陷", "quality defect"),
    "procedure": ("程序不规范（公示、招标、报批）", "procedure (notice, tender, approval)"),
    "documents": ("报账资料不全", "incomplete documents"),
    "other": ("其他", "other"),
}
STATUSES = {"open": ("待整改", "open"), "rectifying": ("整改中", "being rectified"), "resolved": ("已整改", "resolved")}


def record_finding(
    led: Ledger,
    who: Principal,
    code: str,
    kind: str,
    description: str,
    amount: Any = None,
    found_on: Any = None,
    due_on: Any = None,
    defect: bool | None = None,
) -> int:
    """An audit finding on the project; returns its id (``none`` is an audit with nothing found)."""
    require(who, FINDINGS, "finding")
    if kind not in KINDS:
        raise InvalidInput(
            f"问题类型 “{kind}” 无效：{', '.join(KINDS)}", f"unknown finding type '{kind}'", field="kind"
        )
    if not description:
        raise InvalidInput("审计问题须有说明", "a finding needs a description", field="description")
    day = not_after_today(parse_date(found_on, "found_on") or today(led.rules), led.rules, "found_on")
    due = parse_date(due_on, "due_on") or (
        None if kind == "none" else day + timedelta(days=led.rules.rules.audit.rectify_days)
    )
    value = yuan(amount, "amount") if amount not in (None, "") else None
    is_defect = kind == "quality" if defect is None else bool(defect)
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        payload = {"kind": kind, "amount": value, "found_on": day, "due_on": due, "defect": is_defect}
        event = record(conn, who, "finding", code, payload, None, description, "finding")
        fid = conn.execute(
            text(
                "INSERT INTO ledger_findings (project_code, kind, amount_yuan, found_on, due_on, description, found_by, "
                "defect, event_id) VALUES (:c, :k, :a, :d, :due, :t, :u, :df, :e) RETURNING id"
            ),
            {
                "c": code,
                "k": kind,
                "a": value,
                "d": day,
                "due": due,
                "t": description,
                "u": who.username,
                "df": is_defect,
                "e": event,
            },
        ).scalar_one()
        status = "resolved" if kind == "none" else "open"
        conn.execute(
            text("INSERT INTO ledger_finding_updates (finding_id, status, on_date, event_id) VALUES (:f, :s, :d, :e)"),
            {"f": fid, "s": status, "d": day, "e": event},
        )
    return int(fid)


def update_finding(
    led: Ledger, who: Principal, code: str, finding_id: int, status: str, note: str, on: Any = None
) -> None:
    """Move a finding on: planners report it ``rectifying``; auditors confirm it ``resolved``."""
    if status not in STATUSES:
        raise InvalidInput(f"状态 “{status}” 无效：{', '.join(STATUSES)}", f"unknown status '{status}'", field="status")
    require(who, FINDINGS if status == "resolved" else FINDINGS + LIBRARY, "finding")
    if not note:
        raise InvalidInput("须说明整改情况", "say what was done", field="note")
    day = not_after_today(parse_date(on, "on") or today(led.rules), led.rules, "on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        if not any(f["id"] == finding_id for f in p.findings):
            raise NotFound(f"项目 {code} 没有审计问题 {finding_id}", f"project {code} has no finding {finding_id}")
        event = record(
            conn,
            who,
            "finding_update",
            code,
            {"finding": finding_id, "status": status, "on": day},
            None,
            note,
            "finding",
        )
        conn.execute(
            text(
                "INSERT INTO ledger_finding_updates (finding_id, status, on_date, note, event_id) VALUES (:f, :s, :d, :n, :e)"
            ),
            {"f": finding_id, "s": status, "d": day, "n": note, "e": event},
        )
