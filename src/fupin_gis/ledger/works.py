"""Procurement (method, estimate, dates, winner) and contracts (value, advance %, retention %, and
modifications with their approval): after the pre-works notice has run, by tender above the
thresholds in force on the day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.ledger import disclosure
from fupin_gis.ledger.checks import Checks
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import LIBRARY, require, require_area
from fupin_gis.ledger.events import record
from fupin_gis.ledger.fields import not_after_today, parse_date, today
from fupin_gis.ledger.library import require_status, set_status
from fupin_gis.ledger.money import wan, yuan
from fupin_gis.ledger.sqlutil import acting
from fupin_gis.ledger.state import Project, load

METHODS = {
    "public_tender": ("公开招标", "Open tender"),
    "invited_tender": ("邀请招标", "Invited tender"),
    "competitive": ("竞争性谈判（磋商）", "Competitive negotiation"),
    "inquiry": ("询价", "Request for quotations"),
    "single_source": ("单一来源", "Single source"),
    "direct": ("直接委托", "Direct award"),
    "self_build": ("群众自建（以工代赈）", "Built by villagers"),
}
TENDERS = ("public_tender", "invited_tender")
KINDS = {"works": ("工程", "works"), "goods": ("货物", "goods"), "services": ("服务", "services")}


def _tender(led: Ledger, checks: Checks, kind: str, amount: Decimal, method: str | None, day: date) -> None:
    limit = led.rules.threshold_on(day)
    if limit is None:
        return
    threshold = Decimal(getattr(limit, kind))
    zh = METHODS.get(method or "", ("无采购记录", "no procurement"))
    checks.require(
        amount < threshold or method in TENDERS,
        "tender",
        f"{KINDS[kind][0]}估算 {wan(amount)} 万元，达到 {day} 起施行的招标限额 {wan(threshold)} 万元（{limit.source}），"
        f"采购方式为“{zh[0]}”：须公开或邀请招标",
        f"{kind} estimated at {wan(amount)} 万元 reach the tender threshold of {wan(threshold)} 万元 in force on {day} "
        f"({limit.source}); the method is '{zh[1]}': an open or invited tender is required",
        {"threshold": threshold, "from": limit.from_, "kind": kind},
        amount=amount,
        method=method,
    )


def _contracts_total(checks: Checks, p: Project, after: Decimal) -> None:
    checks.require(
        after <= p.total,
        "contracts_within_total",
        f"合同金额合计将为 {wan(after)} 万元，超过项目总投资 {wan(p.total)} 万元",
        f"contracts would add up to {wan(after)} 万元, above the project's total of {wan(p.total)} 万元",
        "Σ 合同 ≤ 项目总投资 / contracts ≤ total",
        contracts=after,
        total=p.total,
    )


def _start(conn: Connection, p: Project, day: date, event: int) -> None:
    if p.status == "library":
        set_status(conn, p.code, "implementing", day, event)


def record_procurement(
    led: Ledger,
    who: Principal,
    code: str,
    kind: str,
    method: str,
    estimate: Any,
    announced_on: Any,
    awarded_on: Any = None,
    winner: str | None = None,
) -> int:
    """A procurement of the project; returns its id."""
    require(who, LIBRARY, "library")
    if kind not in KINDS or method not in METHODS:
        raise InvalidInput(
            f"采购类别或方式无效：{', '.join(KINDS)}；{', '.join(METHODS)}",
            f"unknown kind or method: {', '.join(KINDS)}; {', '.join(METHODS)}",
            field="method",
        )
    amount = yuan(estimate, "estimate")
    start = not_after_today(parse_date(announced_on, "announced_on") or today(led.rules), led.rules, "announced_on")
    award = parse_date(awarded_on, "awarded_on")
    if award is not None and award < start:
        raise InvalidInput("中标日期早于公告日期", "the award is dated before the announcement", field="awarded_on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        checks = led.checks()
        require_status(p, checks, ("library", "implementing"), ("采购", "procure"))
        disclosure.require_notices(led, checks, p, "procurement", start)
        _tender(led, checks, kind, amount, method, start)
        payload = {"kind": kind, "method": method, "estimate": amount, "announced_on": start, "winner": winner}
        event = record(conn, who, "procurement", code, payload, checks, entity="procurement")
        pid = conn.execute(
            text(
                "INSERT INTO ledger_procurements (project_code, kind, method, estimate_yuan, announced_on, awarded_on, "
                "winner, event_id) VALUES (:c, :k, :m, :a, :s, :w, :n, :e) RETURNING id"
            ),
            {"c": code, "k": kind, "m": method, "a": amount, "s": start, "w": award, "n": winner, "e": event},
        ).scalar_one()
        _start(conn, p, start, event)
    return int(pid)


def sign_contract(
    led: Ledger,
    who: Principal,
    code: str,
    contract_code: str,
    contractor: str,
    value: Any,
    advance_share: Any,
    retention_share: Any,
    signed_on: Any,
    procurement_id: int | None = None,
) -> int:
    """A contract of the project; returns its id."""
    require(who, LIBRARY, "library")
    amount = yuan(value, "value")
    if amount <= 0 or not contractor or not contract_code:
        raise InvalidInput(
            "合同须有编号、承包方和金额", "a contract needs a code, a contractor and a value", field="value"
        )
    advance, retention = Decimal(str(advance_share)), Decimal(str(retention_share))
    if not (0 <= advance <= 1 and 0 <= retention <= 1):
        raise InvalidInput(
            "预付与质保金比例在 0 与 1 之间", "advance and retention are shares between 0 and 1", field="advance"
        )
    day = not_after_today(parse_date(signed_on, "signed_on") or today(led.rules), led.rules, "signed_on")
    rule = led.rules.rules.reimbursement
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        if conn.execute(text("SELECT 1 FROM ledger_contracts WHERE code = :c"), {"c": contract_code}).first():
            raise InvalidInput(f"合同 {contract_code} 已存在", f"contract {contract_code} exists", field="contract")
        procurement = next((x for x in p.procurements if x["id"] == procurement_id), None)
        if procurement_id is not None and procurement is None:
            raise NotFound(
                f"项目 {code} 没有采购 {procurement_id}", f"project {code} has no procurement {procurement_id}"
            )
        checks = led.checks()
        require_status(p, checks, ("library", "implementing"), ("签订合同", "sign a contract"))
        disclosure.require_notices(led, checks, p, "contract", day)
        checks.require(
            advance <= rule.advance_max,
            "payment_cap",
            f"合同预付比例 {advance:.0%} 超过规定的 {rule.advance_max:.0%}",
            f"the contract's advance of {advance:.0%} exceeds the configured {rule.advance_max:.0%}",
            {"advance_max": rule.advance_max},
            advance=advance,
        )
        _tender(
            led,
            checks,
            procurement["kind"] if procurement else "works",
            amount,
            procurement["method"] if procurement else None,
            day,
        )
        _contracts_total(checks, p, sum((c["value"] for c in p.contracts), Decimal(0)) + amount)
        payload = {
            "contract": contract_code,
            "contractor": contractor,
            "value": amount,
            "advance": advance,
            "retention": retention,
        }
        event = record(conn, who, "contract", code, payload, checks, entity="contract")
        cid = conn.execute(
            text(
                "INSERT INTO ledger_contracts (code, project_code, procurement_id, contractor, value_yuan, advance_share, "
                "retention_share, signed_on, event_id) VALUES (:k, :c, :p, :w, :v, :a, :r, :d, :e) RETURNING id"
            ),
            {
                "k": contract_code,
                "c": code,
                "p": procurement_id,
                "w": contractor,
                "v": amount,
                "a": advance,
                "r": retention,
                "d": day,
                "e": event,
            },
        ).scalar_one()
        _start(conn, p, day, event)
    return int(cid)


def change_contract(
    led: Ledger,
    who: Principal,
    code: str,
    contract_id: int,
    delta: Any,
    approval_ref: str,
    approved_by: str,
    reason: str,
    on: Any = None,
) -> int:
    """A modification of a contract's value, with its approval (文号, approver) and reason."""
    require(who, LIBRARY, "library")
    amount = yuan(delta, "delta")
    if not (approval_ref and approved_by and reason):
        raise InvalidInput(
            "合同变更须有批准文号、批准人和理由",
            "a change needs an approval reference, an approver and a reason",
            field="approval_ref",
        )
    day = not_after_today(parse_date(on, "on") or today(led.rules), led.rules, "on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        contract = p.contract(contract_id)
        if contract is None:
            raise NotFound(f"项目 {code} 没有合同 {contract_id}", f"project {code} has no contract {contract_id}")
        checks = led.checks()
        require_status(p, checks, ("library", "implementing", "accepted"), ("变更合同", "change a contract"))
        paid = sum((x.net for x in p.live_payments() if x.contract_id == contract_id), Decimal(0))
        checks.require(
            contract["value"] + amount >= paid,
            "payment_cap",
            f"变更后合同金额 {wan(contract['value'] + amount)} 万元，低于已支付的 {wan(paid)} 万元",
            f"the changed value of {wan(contract['value'] + amount)} 万元 is below the {wan(paid)} 万元 paid",
            "合同金额 ≥ 已支付 / value ≥ paid",
            value=contract["value"] + amount,
            paid=paid,
        )
        _contracts_total(checks, p, sum((c["value"] for c in p.contracts), Decimal(0)) + amount)
        payload = {"contract": contract_id, "delta": amount, "approval_ref": approval_ref, "approved_by": approved_by}
        event = record(conn, who, "contract_change", code, payload, checks, reason, "contract")
        return int(
            conn.execute(
                text(
                    "INSERT INTO ledger_contract_changes (contract_id, delta_yuan, approval_ref, approved_by, on_date, reason, "
                    "event_id) VALUES (:c, :d, :r, :b, :o, :why, :e) RETURNING id"
                ),
                {
                    "c": contract_id,
                    "d": amount,
                    "r": approval_ref,
                    "b": approved_by,
                    "o": day,
                    "why": reason,
                    "e": event,
                },
            ).scalar_one()
        )
