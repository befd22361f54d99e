"""Payments (报账/拨付): one budget line each, capped by certified progress (4:5:1), each kind
with its evidence and what it waits for, approved step by step by other people than the requester
(township → department → finance, as configured), corrected only by reversal."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import Forbidden, InvalidInput, NotFound
from fupin_gis.ledger import disclosure
from fupin_gis.ledger.checks import Checks
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import require, require_area
from fupin_gis.ledger.events import record
from fupin_gis.ledger.fields import not_after_today, parse_date, today
from fupin_gis.ledger.library import require_status
from fupin_gis.ledger.money import wan, yuan
from fupin_gis.ledger.reconcile import line_balance
from fupin_gis.ledger.sqlutil import acting, dumps
from fupin_gis.ledger.state import PAYMENT_KINDS, Payment, Project, load

CONTRACT_KINDS = ("advance", "progress", "final", "retention")
EVIDENCE = {
    "contract": ("合同", "contract"),
    "voucher": ("记账凭证", "voucher"),
    "invoice": ("发票", "invoice"),
    "progress_certificate": ("进度认定书", "progress certificate"),
    "acceptance_certificate": ("验收报告", "acceptance report"),
    "guarantee_certificate": ("质保期满证明", "end-of-guarantee certificate"),
    "beneficiary_list": ("到户补助花名册（公示后）", "beneficiary list (after its notice)"),
}


def cap(led: Ledger, p: Project, contract: dict[str, Any], on: date) -> dict[str, Any]:
    """What may be paid on ``contract`` in all by ``on``: its phase and the cap, with the figures."""
    rule = led.rules.rules.reimbursement
    value = Decimal(contract["value"])
    advance = min(Decimal(contract["advance_share"]), rule.advance_max)
    certified = p.certified_pct / 100
    passed = p.passed_acceptance()
    defects = [f for f in p.open_findings() if f["defect"]]
    if passed is not None:
        free = passed["accepted_on"] + timedelta(days=rule.guarantee_days)
        if on >= free and not defects:
            phase, limit = "after_guarantee", value
        else:
            phase, limit = "after_acceptance", value * (1 - Decimal(contract["retention_share"]))
    elif certified == 0:
        phase, limit = "before_progress", value * advance
    else:
        phase, limit = "until_acceptance", min(value * advance + value * certified, value * rule.before_acceptance_max)
    paid = sum((x.net for x in p.live_payments() if x.contract_id == contract["id"]), Decimal(0))
    return {
        "contract": contract["id"],
        "value": value,
        "advance": advance,
        "certified_pct": p.certified_pct,
        "phase": phase,
        "cap": limit.quantize(Decimal("0.01")),
        "paid": paid,
        "room": (limit - paid).quantize(Decimal("0.01")),
    }


PHASES = {
    "before_progress": ("尚无认定进度，最多支付预付款", "no certified progress yet: the advance at most"),
    "until_acceptance": (
        "验收前：预付款加认定进度，最多合同额的",
        "until acceptance: advance plus certified progress, at most",
    ),
    "after_acceptance": ("验收合格后：扣留质保金", "after acceptance: less the retention"),
    "after_guarantee": ("质保期满且无未整改缺陷：全额", "after the guarantee with no open defect: in full"),
}


def _cap_check(led: Ledger, checks: Checks, p: Project, contract: dict[str, Any], amount: Decimal, on: date) -> None:
    c = cap(led, p, contract, on)
    rule = led.rules.rules.reimbursement
    zh, en = PHASES[c["phase"]]
    ceiling = f" {rule.before_acceptance_max:.0%}" if c["phase"] == "until_acceptance" else ""
    after = c["paid"] + amount
    checks.require(
        after <= c["cap"],
        "payment_cap",
        f"合同 {contract['code']}（{wan(c['value'])} 万元）累计支付将为 {wan(after)} 万元（已付 {wan(c['paid'])}，本次 {wan(amount)}），"
        f"超过上限 {wan(c['cap'])} 万元；认定进度 {c['certified_pct']}%，预付 {c['advance']:.0%}；{zh}{ceiling}",
        f"contract {contract['code']} ({wan(c['value'])} 万元) would reach {wan(after)} 万元 paid ({wan(c['paid'])} paid, "
        f"{wan(amount)} asked), above its cap of {wan(c['cap'])} 万元; certified progress {c['certified_pct']}%, "
        f"advance {c['advance']:.0%}; {en}{ceiling}",
        {
            "advance_max": rule.advance_max,
            "before_acceptance_max": rule.before_acceptance_max,
            "guarantee_days": rule.guarantee_days,
            "retention": contract["retention_share"],
        },
        **c,
        requested=amount,
    )


def _kind_check(led: Ledger, checks: Checks, p: Project, kind: str, on: date) -> None:
    rule = led.rules.rules.reimbursement
    passed = p.passed_acceptance()
    needs = {
        "progress": (p.certified_pct > 0, "尚无认定进度", "no certified progress yet"),
        "final": (passed is not None, "尾款须在验收合格之后", "the final payment follows a passed acceptance"),
    }
    if kind == "retention":
        free = passed["accepted_on"] + timedelta(days=rule.guarantee_days) if passed else None
        defects = [f["id"] for f in p.open_findings() if f["defect"]]
        needs["retention"] = (
            free is not None and on >= free and not defects,
            f"质保金须在验收合格 {rule.guarantee_days} 天后（{free or '未验收'}）且无未整改缺陷（{defects or '无'}）",
            f"the retention waits {rule.guarantee_days} days after a passed acceptance ({free or 'not accepted'}) "
            f"with no open defect ({defects or 'none'})",
        )
    if kind in needs:
        ok, zh, en = needs[kind]
        label = PAYMENT_KINDS[kind]
        checks.require(ok, "payment_kind", f"{label[0]}：{zh}", f"{label[1]}: {en}", kind, on=on)
    if kind == "direct":
        disclosure.require_notices(led, checks, p, "direct", on)


def _evidence(led: Ledger, checks: Checks, kind: str, evidence: dict[str, str]) -> None:
    wanted = led.rules.rules.reimbursement.evidence.get(kind, [])
    missing = [k for k in wanted if not str(evidence.get(k) or "").strip()]
    checks.require(
        not missing,
        "evidence",
        f"{PAYMENT_KINDS[kind][0]}缺少凭证：{'、'.join(EVIDENCE.get(k, (k, k))[0] for k in missing)}",
        f"the {PAYMENT_KINDS[kind][1].lower()} lacks evidence: {', '.join(EVIDENCE.get(k, (k, k))[1] for k in missing)}",
        {kind: wanted},
        missing=missing,
    )


def request_payment(
    led: Ledger,
    who: Principal,
    code: str,
    line_id: int,
    amount: Any,
    kind: str,
    contract_id: int | None = None,
    voucher: str | None = None,
    evidence: dict[str, str] | None = None,
    on: Any = None,
) -> int:
    """Ask for a payment from one budget line of the project; returns its id (pending approval)."""
    rule = led.rules.rules.reimbursement
    require(who, rule.requesters, "request")
    if kind not in PAYMENT_KINDS:
        raise InvalidInput(
            f"支付类型 “{kind}” 无效：{', '.join(PAYMENT_KINDS)}", f"unknown kind '{kind}'", field="kind"
        )
    value = yuan(amount)
    if value <= 0:
        raise InvalidInput(
            "支付金额须大于零（更正请冲销）", "the amount must be positive (reverse to correct)", field="amount"
        )
    day = not_after_today(parse_date(on, "on") or today(led.rules), led.rules, "on")
    docs = {k: str(v) for k, v in (evidence or {}).items() if v} | ({"voucher": voucher} if voucher else {})
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        checks = led.checks()
        require_status(p, checks, ("implementing", "accepted", "handed_over"), ("支付", "pay"))
        line = p.line(line_id)
        other = (
            None
            if line
            else conn.execute(
                text("SELECT project_code FROM ledger_budget_lines WHERE id = :i"), {"i": line_id}
            ).scalar_one_or_none()
        )
        checks.require(
            line is not None,
            "one_line",
            f"资金来源 {line_id} 不属于项目 {code}" + (f"（属于 {other}）：不得串用" if other else "：不存在"),
            f"budget line {line_id} is not one of project {code}'s"
            + (f" (it is {other}'s): no cross-charging" if other else ""),
            "一笔支付对应本项目一条资金来源 / one line of the project",
            line=line_id,
            line_project=other,
        )
        assert line is not None
        line_balance(led, checks, p, line, line["amount"] - value)
        if kind in CONTRACT_KINDS:
            contract = p.contract(contract_id) if contract_id is not None else None
            if contract is None:
                raise InvalidInput(
                    f"{PAYMENT_KINDS[kind][0]}须指明本项目的合同",
                    f"a {kind} payment names a contract of the project",
                    field="contract",
                )
            _kind_check(led, checks, p, kind, day)
            _cap_check(led, checks, p, contract, value, day)
        else:
            if contract_id is not None:
                raise InvalidInput(
                    "到户直补不经合同", "direct payments go to households, not through a contract", field="contract"
                )
            _kind_check(led, checks, p, kind, day)
        _evidence(led, checks, kind, docs)
        payload = {"line": line_id, "amount": value, "kind": kind, "contract": contract_id, "evidence": docs}
        event = record(conn, who, "payment_request", code, payload, checks, entity="payment")
        return int(
            conn.execute(
                text(
                    "INSERT INTO ledger_payments (project_code, contract_id, line_id, kind, amount_yuan, voucher, evidence, "
                    "requested_by, requested_on, event_id) VALUES (:c, :k, :l, :t, :a, :v, CAST(:ev AS jsonb), :u, :d, :e) "
                    "RETURNING id"
                ),
                {
                    "c": code,
                    "k": contract_id,
                    "l": line_id,
                    "t": kind,
                    "a": value,
                    "v": voucher,
                    "ev": dumps(docs),
                    "u": who.username,
                    "d": day,
                    "e": event,
                },
            ).scalar_one()
        )


def _payment(p: Project, payment_id: int) -> Payment:
    found = next((x for x in p.payments if x.id == payment_id), None)
    if found is None:
        raise NotFound(f"项目 {p.code} 没有支付 {payment_id}", f"project {p.code} has no payment {payment_id}")
    return found


def next_step(led: Ledger, payment: Payment) -> str | None:
    """The approval step a payment waits for (None: approved, rejected or reversed)."""
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    if payment.state(steps) != "pending":
        return None
    done = {a["step"] for a in payment.approvals}
    return next(s for s in steps if s not in done)


def approve_payment(
    led: Ledger,
    who: Principal,
    code: str,
    payment_id: int,
    decision: str = "approve",
    note: str | None = None,
    on: Any = None,
) -> str:
    """Approve (or reject) the step a payment waits for, as ``who``; returns the payment's new state."""
    if decision not in ("approve", "reject"):
        raise InvalidInput("审批结论为 approve 或 reject", "decision: approve or reject", field="decision")
    day = not_after_today(parse_date(on, "on") or today(led.rules), led.rules, "on")
    steps = {s.key: s for s in led.rules.rules.reimbursement.steps}
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        payment = _payment(p, payment_id)
        step = next_step(led, payment)
        checks = led.checks()
        checks.require(
            step is not None,
            "approval_steps",
            f"支付 {payment_id} 已{'拒绝' if payment.rejected else '审批完毕或已冲销'}，无待审步骤",
            f"payment {payment_id} waits for no approval ({payment.state(list(steps))})",
            list(steps),
            state=payment.state(list(steps)),
        )
        assert step is not None
        spec = steps[step]
        require(who, spec.roles, "approve")
        if who.username == payment.requested_by or any(a["approved_by"] == who.username for a in payment.approvals):
            raise Forbidden(
                f"职责分离：{who.username} 已申请或审批过支付 {payment_id}，不能再审批“{spec.label}”",
                f"separation of duties: {who.username} requested or approved payment {payment_id} already "
                f"and cannot approve the '{spec.en}' step",
                payment=payment_id,
                step=step,
            )
        if decision == "approve" and step == list(steps)[-1]:  # the money moves: check the caps as they stand now
            line = p.line(payment.line_id)
            assert line is not None
            line_balance(led, checks, p, line, line["amount"])
            if payment.contract_id is not None:
                contract = p.contract(payment.contract_id)
                assert contract is not None
                others = Project(**{**p.__dict__, "payments": [x for x in p.payments if x.id != payment_id]})
                _cap_check(led, checks, others, contract, payment.net, day)
        payload = {"payment": payment_id, "step": step, "decision": decision}
        event = record(conn, who, "payment_" + decision, code, payload, checks, note, "payment")
        conn.execute(
            text(
                "INSERT INTO ledger_approvals (payment_id, step, decision, approved_by, role, on_date, note, event_id) "
                "VALUES (:p, :s, :d, :u, :r, :o, :n, :e)"
            ),
            {
                "p": payment_id,
                "s": step,
                "d": decision,
                "u": who.username,
                "r": who.role,
                "o": day,
                "n": note,
                "e": event,
            },
        )
        payment.approvals.append({"step": step, "decision": decision, "approved_by": who.username})
        return payment.state(list(steps))


def reverse_payment(led: Ledger, who: Principal, code: str, payment_id: int, reason: str, on: Any = None) -> int:
    """Reverse a payment (a negative payment pointing at it): finance corrects, never edits."""
    require(who, ("finance", "admin"), "approve")
    if not reason:
        raise InvalidInput("冲销须说明理由", "a reversal needs a reason", field="reason")
    day = not_after_today(parse_date(on, "on") or today(led.rules), led.rules, "on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        payment = _payment(p, payment_id)
        if payment.net <= 0 or payment.rejected:
            raise InvalidInput(
                f"支付 {payment_id} 无可冲销金额", f"payment {payment_id} has nothing to reverse", field="payment"
            )
        event = record(
            conn, who, "payment_reverse", code, {"payment": payment_id, "amount": -payment.net}, None, reason, "payment"
        )
        return int(
            conn.execute(
                text(
                    "INSERT INTO ledger_payments (project_code, contract_id, line_id, kind, amount_yuan, voucher, requested_by, "
                    "requested_on, reverses, event_id) VALUES (:c, :k, :l, :t, :a, :v, :u, :d, :r, :e) RETURNING id"
                ),
                {
                    "c": code,
                    "k": payment.contract_id,
                    "l": payment.line_id,
                    "t": payment.kind,
                    "a": -payment.net,
                    "v": payment.voucher,
                    "u": who.username,
                    "d": day,
                    "r": payment_id,
                    "e": event,
                },
            ).scalar_one()
        )
