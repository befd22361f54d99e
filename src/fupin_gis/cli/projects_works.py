"""``fupin-gis projects procure|contract|progress|pay|notice|accept|handover|finding``: the works and
the money of a project, each checked by the fund rules (exit 2 when a rule refuses)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fupin_gis.cli.projects import AsOpt, JsonOpt, OnOpt, context, emit, projects_app
from fupin_gis.errors import InvalidInput


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        if "=" not in item:
            raise InvalidInput(f"{option} {item}：应为 键=值", f"{option} {item}: KEY=VALUE", field=option)
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


@projects_app.command("procure")
def procure_cmd(
    ctx: typer.Context,
    code: str,
    kind: Annotated[str, typer.Option(help="works, goods or services")] = "works",
    method: Annotated[
        str, typer.Option(help="public_tender, invited_tender, competitive, inquiry, single_source, direct, self_build")
    ] = "public_tender",
    estimate: Annotated[str, typer.Option(help="估算 (元)")] = "0",
    announced: Annotated[str | None, typer.Option(help="公告日期")] = None,
    awarded: Annotated[str | None, typer.Option(help="中标日期")] = None,
    winner: Annotated[str | None, typer.Option(help="中标单位")] = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Record a procurement (after the pre-works notice; a tender above the threshold of the day)."""
    from fupin_gis.ledger.works import record_procurement

    led, who = context(ctx, as_json, actor)
    made = record_procurement(led, who, code, kind, method, estimate, announced, awarded, winner)
    emit({"procurement": made}, as_json, f"采购 / procurement {made}")


@projects_app.command("contract")
def contract_cmd(
    ctx: typer.Context,
    code: str,
    number: Annotated[str, typer.Option("--number", help="合同编号")],
    contractor: Annotated[str, typer.Option(help="承包方")],
    value: Annotated[str, typer.Option(help="合同金额 (元)")],
    advance: Annotated[str, typer.Option(help="预付比例 (0.4 = 40 %)")] = "0.4",
    retention: Annotated[str, typer.Option(help="质保金比例")] = "0.05",
    signed: Annotated[str | None, typer.Option(help="签订日期")] = None,
    procurement: Annotated[int | None, typer.Option(help="the procurement it came from")] = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Record a contract (value, advance %, retention %)."""
    from fupin_gis.ledger.works import sign_contract

    led, who = context(ctx, as_json, actor)
    made = sign_contract(led, who, code, number, contractor, value, advance, retention, signed, procurement)
    emit({"contract": made}, as_json, f"合同 / contract {made}")


@projects_app.command("progress")
def progress_cmd(
    ctx: typer.Context,
    code: str,
    on: OnOpt = None,
    certified: Annotated[str | None, typer.Option(help="认定进度 % (default: the registry's measure)")] = None,
    reason: Annotated[str | None, typer.Option(help="why the certified figure differs from the measure")] = None,
    certifier: Annotated[str | None, typer.Option(help="认定人")] = None,
    photo: Annotated[list[str] | None, typer.Option(help="photo position LON,LAT (repeatable)")] = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """File a progress report: the registry measures the works; the certified % defaults to it."""
    from fupin_gis.ledger.fields import parse_date
    from fupin_gis.ledger.progress import report_progress

    led, who = context(ctx, as_json, actor)
    photos = [p.split(",") for p in photo or []]
    made = report_progress(led, who, code, parse_date(on, "on"), certified, reason, certifier, photos)
    emit({"progress": made}, as_json, f"进度报告 / progress report {made}")


@projects_app.command("pay")
def pay_cmd(
    ctx: typer.Context,
    code: str,
    line: Annotated[int | None, typer.Option(help="the budget line it is paid from")] = None,
    amount: Annotated[str | None, typer.Option(help="金额 (元)")] = None,
    kind: Annotated[str, typer.Option(help="advance, progress, final, retention, direct")] = "progress",
    contract: Annotated[int | None, typer.Option(help="contract id (all kinds but direct)")] = None,
    voucher: Annotated[str | None, typer.Option(help="记账凭证号")] = None,
    evidence: Annotated[list[str] | None, typer.Option(help="KIND=document number (repeatable)")] = None,
    reverse: Annotated[int | None, typer.Option(help="reverse this payment instead (finance, with --reason)")] = None,
    reason: Annotated[str | None, typer.Option(help="why")] = None,
    on: OnOpt = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Request a payment (报账) from one budget line, capped by certified progress; or reverse one."""
    from fupin_gis.ledger.payments import request_payment, reverse_payment

    led, who = context(ctx, as_json, actor)
    if reverse is not None:
        made = reverse_payment(led, who, code, reverse, reason or "", on)
        emit({"payment": made, "reverses": reverse}, as_json, f"冲销 / reversed payment {reverse}")
        return
    if line is None or amount is None:
        raise InvalidInput("须给出 --line 与 --amount", "give --line and --amount", field="line")
    made = request_payment(led, who, code, line, amount, kind, contract, voucher, _pairs(evidence, "--evidence"), on)
    emit({"payment": made, "state": "pending"}, as_json, f"支付申请 / payment {made} (待审批 pending)")


@projects_app.command("notice")
def notice_cmd(
    ctx: typer.Context,
    code: str,
    kind: Annotated[str, typer.Option(help="plan, funds, beneficiary, completion")] = "plan",
    start: Annotated[str | None, typer.Option(help="公示开始")] = None,
    end: Annotated[str | None, typer.Option(help="公示结束")] = None,
    level: Annotated[str, typer.Option(help="county, township, village")] = "village",
    channel: Annotated[str, typer.Option(help="board, web, newspaper, tv, wechat")] = "board",
    unit: Annotated[str | None, typer.Option(help="calendar or working days (default: the kind's)")] = None,
    village: Annotated[list[str] | None, typer.Option(help="村 (default: the project's)")] = None,
    objection: Annotated[int | None, typer.Option(help="record an objection to this notice instead")] = None,
    summary: Annotated[str | None, typer.Option(help="the objection")] = None,
    resolution: Annotated[str | None, typer.Option(help="how it was answered")] = None,
    sheet: Annotated[Path | None, typer.Option("--sheet", help="also write the frozen PDF sheet here")] = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Post a public notice (公示): its content and printed sheet frozen with their SHA-256."""
    from fupin_gis.ledger.notices import notice, post_notice, record_objection

    led, who = context(ctx, as_json, actor)
    if objection is not None:
        made = record_objection(led, who, code, objection, summary or "", None, resolution)
        emit({"objection": made}, as_json, f"异议 / objection {made}")
        return
    nid = post_notice(led, who, code, kind, start, end, level, channel, unit, village)
    with who.scoped(led.engine).connect() as conn:
        row = notice(conn, nid)
    if sheet is not None and row["pdf"] is not None:
        sheet.write_bytes(row["pdf"])
    result = {
        "notice": nid,
        "days": row["days"],
        "pdf_sha256": row["pdf_sha256"],
        "content_sha256": row["content_sha256"],
    }
    emit(
        result,
        as_json,
        f"公示 / notice {nid}: {row['start_on']}–{row['end_on']} ({row['days']} 天) sha256 {row['pdf_sha256']}",
    )


@projects_app.command("accept")
def accept_cmd(
    ctx: typer.Context,
    code: str,
    team: Annotated[list[str], typer.Option(help="验收组成员 (repeatable)")],
    on: OnOpt = None,
    result: Annotated[str, typer.Option(help="pass, fail or rectify")] = "pass",
    kind: Annotated[str, typer.Option(help="completion, annual or final")] = "completion",
    rectify_by: Annotated[str | None, typer.Option(help="整改期限 (result rectify)")] = None,
    coverage: Annotated[bool, typer.Option(help="rerun the coverage rules and record the project's effects")] = True,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Record an acceptance (验收): the registry's measure on the day, and (pass) what it changed."""
    from fupin_gis.ledger.acceptance import accept

    led, who = context(ctx, as_json, actor)
    made = accept(led, who, code, team, on, result, kind, rectify_by, None, coverage)
    with who.scoped(led.engine).connect() as conn:
        from sqlalchemy import text

        effects = conn.execute(text("SELECT effects FROM ledger_acceptances WHERE id = :i"), {"i": made}).scalar_one()
    newly = effects.get("villages_newly_connected", []) if effects else []
    emit(
        {"acceptance": made, "effects": effects}, as_json, f"验收 / acceptance {made}: {result}; 新通硬化路的村 {newly}"
    )


@projects_app.command("handover")
def handover_cmd(
    ctx: typer.Context,
    code: str,
    asset_class: Annotated[str, typer.Option("--class", help="operating, public_welfare, household")],
    owner: Annotated[str, typer.Option(help="确权主体")],
    unit: Annotated[str, typer.Option(help="管护单位")],
    person: Annotated[str, typer.Option(help="管护责任人")],
    owner_level: Annotated[str, typer.Option(help="county, township, village, household, other")] = "village",
    certificate: Annotated[str | None, typer.Option(help="确权证书号")] = None,
    confirmed: Annotated[str | None, typer.Option(help="确权日期")] = None,
    on: OnOpt = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Hand the project's works over to the asset register (after acceptance and its notice)."""
    from fupin_gis.ledger.assets import handover

    led, who = context(ctx, as_json, actor)
    made = handover(led, who, code, asset_class, owner, owner_level, unit, person, on, confirmed, certificate)
    emit({"assets": made}, as_json, f"移交资产 / handed over {len(made)} features")


@projects_app.command("finding")
def finding_cmd(
    ctx: typer.Context,
    code: str,
    kind: Annotated[
        str, typer.Option(help="none, misappropriation, overpayment, quality, procedure, documents, other")
    ] = "none",
    description: Annotated[str | None, typer.Option(help="说明")] = None,
    amount: Annotated[str | None, typer.Option(help="涉及金额 (元)")] = None,
    due: Annotated[str | None, typer.Option(help="整改期限")] = None,
    update: Annotated[int | None, typer.Option(help="move this finding on instead (--status, --note)")] = None,
    status: Annotated[str | None, typer.Option(help="rectifying or resolved")] = None,
    note: Annotated[str | None, typer.Option(help="what was done")] = None,
    on: OnOpt = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Record an audit finding (auditors; ``none``: audited, nothing found), or move one on."""
    from fupin_gis.ledger.audit import record_finding, update_finding

    led, who = context(ctx, as_json, actor)
    if update is not None:
        update_finding(led, who, code, update, status or "", note or "", on)
        emit({"finding": update, "status": status}, as_json, f"审计问题 {update}: {status}")
        return
    made = record_finding(
        led, who, code, kind, description or ("审计无问题" if kind == "none" else ""), amount, on, due
    )
    emit({"finding": made}, as_json, f"审计 / finding {made}")
