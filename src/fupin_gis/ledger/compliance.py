"""The compliance list: what the records show against the rules as configured today — notices
missing or too short for what has happened, payments without their evidence or above the cap,
findings past their deadline, contracts and procurements without a tender above the threshold.
The rules refuse such actions when they are made; these come from imports, older rule versions
and the demo, and are listed, not hidden."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.disclosure import UNITS
from fupin_gis.ledger.fields import today
from fupin_gis.ledger.money import wan
from fupin_gis.ledger.payments import EVIDENCE, cap
from fupin_gis.ledger.state import PAYMENT_KINDS, Project, load
from fupin_gis.ledger.works import TENDERS

KINDS = {
    "notice": ("公示缺失或不足", "notice missing or too short"),
    "evidence": ("支付凭证不全", "payment without its evidence"),
    "cap": ("支付超过进度上限", "payments above the progress cap"),
    "finding": ("审计问题逾期未整改", "finding past its deadline"),
    "tender": ("达到限额未招标", "no tender above the threshold"),
}


def _happened(p: Project) -> dict[str, date]:
    """The first date each action that waits for a notice happened on."""
    out: dict[str, date] = {}

    def first(key: str, day: date | None) -> None:
        if day is not None and (key not in out or day < out[key]):
            out[key] = day

    for x in p.procurements:
        first("procurement", x["announced_on"])
    for c in p.contracts:
        first("contract", c["signed_on"])
    for r in p.progress:
        if Decimal(r["certified_pct"]) > 0:
            first("works", r["reported_on"])
    for a in p.acceptances:
        first("acceptance", a["accepted_on"])
    for a in p.assets:
        first("handover", a["handed_on"])
    for pay in p.payments:
        if pay.kind == "direct":
            first("direct", pay.requested_on)
    return out


def project_problems(led: Ledger, p: Project, day: date) -> list[dict[str, Any]]:
    """The problems of one project."""
    out: list[dict[str, Any]] = []
    base = {"project": p.code, "name": p.record["name"], "township": p.record.get("township_code")}
    happened = _happened(p)
    for kind, spec in led.rules.rules.disclosure.kinds.items():
        due = [happened[a] for a in spec.required_before if a in happened]
        if not due:
            continue
        when = min(due)
        mine = [n for n in p.notices if n["kind"] == kind]
        good = [n for n in mine if n["days"] >= spec.min_days and n["end_on"] < when]
        if good:
            continue
        unit = UNITS[spec.day_unit][0]
        if not mine:
            zh, en = (
                f"“{spec.label}”未发布（{when} 已开始相应工作）",
                f"no '{spec.en}' (the work it precedes began {when})",
            )
        else:
            n = max(mine, key=lambda x: x["days"])
            zh = f"“{spec.label}”（公示 {n['id']}）{n['days']} {unit}，规定 {spec.min_days} {unit}，{n['end_on']} 结束，相应工作 {when}"
            en = f"'{spec.en}' (notice {n['id']}) ran {n['days']} days of {spec.min_days}, ended {n['end_on']}; the work began {when}"
        out.append(base | {"kind": "notice", "zh": zh, "en": en, "ref": kind})
    for n in p.notices:  # a notice below its kind's least period, whatever waits for it
        kind_of = led.rules.rules.disclosure.kinds.get(n["kind"])
        if kind_of is not None and n["days"] < kind_of.min_days:
            unit = UNITS[n["day_unit"]][0]
            out.append(
                base
                | {
                    "kind": "notice",
                    "zh": f"“{kind_of.label}”（公示 {n['id']}，{n['start_on']} 至 {n['end_on']}）仅 {n['days']} {unit}，规定不少于 {kind_of.min_days} {unit}",
                    "en": f"'{kind_of.en}' (notice {n['id']}) ran {n['days']} days, less than {kind_of.min_days}",
                    "ref": n["id"],
                }
            )
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    for x in p.live_payments():
        wanted = led.rules.rules.reimbursement.evidence.get(x.kind, [])
        missing = [k for k in wanted if not str(x.evidence.get(k) or "").strip()]
        if missing:
            names = "、".join(EVIDENCE.get(k, (k, k))[0] for k in missing)
            out.append(
                base
                | {
                    "kind": "evidence",
                    "zh": f"支付 {x.id}（{PAYMENT_KINDS[x.kind][0]} {wan(x.net)} 万元，{x.state(steps)}）缺少：{names}",
                    "en": f"payment {x.id} ({x.kind}, {wan(x.net)} 万元) lacks {', '.join(missing)}",
                    "ref": x.id,
                }
            )
    for c in p.contracts:
        limit = cap(led, p, c, day)
        if limit["paid"] > limit["cap"]:
            out.append(
                base
                | {
                    "kind": "cap",
                    "zh": f"合同 {c['code']} 已支付 {wan(limit['paid'])} 万元，超过按进度 {limit['certified_pct']}% 的上限 {wan(limit['cap'])} 万元",
                    "en": f"contract {c['code']}: {wan(limit['paid'])} 万元 paid, above the cap of {wan(limit['cap'])} 万元 at {limit['certified_pct']}%",
                    "ref": c["id"],
                }
            )
        threshold = led.rules.threshold_on(c["signed_on"])
        proc = next((x for x in p.procurements if x["id"] == c["procurement_id"]), None)
        if threshold and c["value"] >= threshold.works and (proc is None or proc["method"] not in TENDERS):
            out.append(
                base
                | {
                    "kind": "tender",
                    "zh": f"合同 {c['code']} {wan(c['value'])} 万元，达到招标限额 {wan(threshold.works)} 万元，未经招标",
                    "en": f"contract {c['code']} of {wan(c['value'])} 万元 reaches the {wan(threshold.works)} 万元 threshold without a tender",
                    "ref": c["id"],
                }
            )
    for proc in p.procurements:
        threshold = led.rules.threshold_on(proc["announced_on"])
        if threshold and proc["estimate_yuan"] >= getattr(threshold, proc["kind"]) and proc["method"] not in TENDERS:
            out.append(
                base
                | {
                    "kind": "tender",
                    "zh": f"采购 {proc['id']} 估算 {wan(proc['estimate_yuan'])} 万元，达到限额，采购方式 {proc['method']}",
                    "en": f"procurement {proc['id']} estimated at {wan(proc['estimate_yuan'])} 万元 reaches the threshold; method {proc['method']}",
                    "ref": proc["id"],
                }
            )
    for f in p.open_findings():
        if f["due_on"] is not None and f["due_on"] < day:
            out.append(
                base
                | {
                    "kind": "finding",
                    "zh": f"审计问题 {f['id']}（{f['description']}）整改期限 {f['due_on']} 已过，状态：{f['status']}",
                    "en": f"finding {f['id']} was due {f['due_on']}; it is {f['status']}",
                    "ref": f["id"],
                }
            )
    return out


def problems(conn: Connection, led: Ledger, day: date | None = None) -> list[dict[str, Any]]:
    """Every problem of every project the connection's scope sees, by project code."""
    day = day or today(led.rules)
    codes = conn.execute(
        text("SELECT code FROM ledger_projects_now WHERE status NOT IN ('draft', 'cancelled') ORDER BY code")
    ).scalars()
    out: list[dict[str, Any]] = []
    for code in list(codes):
        out += project_problems(led, load(conn, code), day)
    return out
