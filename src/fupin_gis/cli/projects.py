"""``fupin-gis projects``: the project library — list, show, add, amend, lines, features, drafts,
approval into the library, close — each ``--json``; exit 0 done, 2 refused by a rule (or bad
input), 1 other error. ``--as NAME`` acts as that account (its role and scope; default: the system)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fupin_gis.auth.accounts import SYSTEM, Principal
from fupin_gis.cli.common import errors_as_json, load_settings, open_catalog, open_engine
from fupin_gis.errors import InvalidInput, NotFound

projects_app = typer.Typer(help="项目库与资金 / projects and funds (the seven fund rules).", no_args_is_help=True)

AsOpt = Annotated[str | None, typer.Option("--as", help="act as this account (its role and scope)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print only JSON (errors too)")]
OnOpt = Annotated[str | None, typer.Option("--on", help="the date it happened (YYYY-MM-DD; default today)")]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return str(value)


def emit(result: Any, as_json: bool, line: str) -> None:
    """Print the result as JSON, or one line for people."""
    typer.echo(json.dumps(result, ensure_ascii=False, default=_plain) if as_json else line)


def context(ctx: typer.Context, as_json: bool, actor: str | None) -> tuple[Any, Principal]:
    """The ledger and who acts (``--as``: an existing, enabled account)."""
    from sqlalchemy import text

    from fupin_gis.ledger.context import open_ledger

    if as_json:
        errors_as_json(ctx)
    settings = load_settings()
    engine = open_engine()
    led = open_ledger(engine, open_catalog(), settings)
    if actor is None:
        return led, SYSTEM
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT username, role, scope FROM users WHERE username = :u AND NOT disabled"), {"u": actor}
        ).first()
    if row is None:
        raise NotFound(f"没有可用的账号 {actor}", f"No active account {actor}", user=actor)
    return led, Principal(row.username, row.role, row.scope)


def _indicators(values: list[str] | None) -> list[dict[str, str]] | None:
    if not values:
        return None
    out = []
    for v in values:
        bits = v.replace("：", ":").split(":")
        out.append(
            {"name": bits[0], "target": bits[1] if len(bits) > 1 else "", "unit": bits[2] if len(bits) > 2 else ""}
        )
    return out


@projects_app.command("list")
def list_cmd(
    ctx: typer.Context,
    township: Annotated[str | None, typer.Option(help="township (9 digits) or county (6)")] = None,
    category: Annotated[str | None, typer.Option(help="infrastructure, industry, social, household_env")] = None,
    status: Annotated[
        str | None, typer.Option(help="draft, library, implementing, accepted, handed_over, closed")
    ] = None,
    year: Annotated[int | None, typer.Option(help="tranche year")] = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """The project library (as the account sees it)."""
    from fupin_gis.ledger.views import list_projects

    led, who = context(ctx, as_json, actor)
    with who.scoped(led.engine).connect() as conn:
        rows = list_projects(conn, led, township, category, status, year)
    if as_json:
        emit(rows, True, "")
        return
    table = Table("编号 code", "名称 name", "类别", "乡镇", "状态 status", "总投资(万元)", "进度%")
    for r in rows:
        table.add_row(
            r["code"],
            r["name"],
            r["category_label"],
            r["township"],
            r["status_label"],
            r["total_wan"],
            str(r["certified"] or ""),
        )
    Console().print(table)


@projects_app.command("show")
def show_cmd(ctx: typer.Context, code: str, as_json: JsonOpt = False, actor: AsOpt = None) -> None:
    """One project in full: lines, contracts against their caps, progress, payments, notices, acceptance, assets."""
    from fupin_gis.ledger.money import wan
    from fupin_gis.ledger.views import show

    led, who = context(ctx, as_json, actor)
    with who.scoped(led.engine).connect() as conn:
        p = show(conn, led, code)
    if as_json:
        emit(p, True, "")
        return
    console = Console()
    console.print(
        f"[bold]{code} {p['record']['name']}[/bold] · {p['status_label'][0]} · 总投资 {wan(p['total'])} 万元 · 已拨付 {wan(p['paid'])} 万元"
    )
    m = p["measured"]
    if m:
        console.print(
            f"实测 measured: {m['measured']:.3f} / {m['planned']:.3f} {m['unit']} ({m['pct']}%) · 认定 certified {p['certified_pct']}%"
        )
    for c in p["contracts"]:
        console.print(
            f"合同 {c['code']} {c['contractor']} {wan(c['value'])} 万元: 上限 cap {wan(c['cap']['cap'])}, 已付 paid {wan(c['cap']['paid'])}"
        )
    for x in p["payments"]:
        console.print(f"支付 {x['id']} {x['kind_label']} {wan(x['net'])} 万元 · {x['state']} {x['next_step'] or ''}")
    for n in p["notices"]:
        console.print(f"公示 {n['id']} {n['label']} {n['start_on']}–{n['end_on']} ({n['days']}天) {n['state']}")
    console.print("下一步 next: " + ", ".join(p["actions"]))


@projects_app.command("add")
def add_cmd(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="项目名称")] = None,
    code: Annotated[str | None, typer.Option(help="项目编号 (default: XM-<year>-<n>)")] = None,
    category: Annotated[str | None, typer.Option(help="项目类别")] = None,
    subtype: Annotated[str | None, typer.Option(help="项目子类 (plans/fund-rules.toml)")] = None,
    nature: Annotated[str | None, typer.Option(help="建设性质: new, rebuild, renovate, expand, repair …")] = None,
    village: Annotated[list[str] | None, typer.Option(help="建设地点: village code (repeatable)")] = None,
    content: Annotated[str | None, typer.Option(help="建设内容及规模")] = None,
    quantity: Annotated[str | None, typer.Option(help="规模数量")] = None,
    department: Annotated[str | None, typer.Option(help="主管部门")] = None,
    implementer: Annotated[str | None, typer.Option(help="实施单位")] = None,
    responsible: Annotated[str | None, typer.Option(help="责任人")] = None,
    start: Annotated[str | None, typer.Option(help="计划开工 YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="计划完工 YYYY-MM-DD")] = None,
    indicator: Annotated[list[str] | None, typer.Option(help="绩效目标 名称:目标:单位 (repeatable)")] = None,
    benefit: Annotated[str | None, typer.Option(help="带贫减贫机制")] = None,
    total: Annotated[str | None, typer.Option(help="项目总投资 (元)")] = None,
    parent: Annotated[str | None, typer.Option(help="所属项目编号 (a sub-project)")] = None,
    from_file: Annotated[Path | None, typer.Option("--from", help="the record as a JSON file")] = None,
    reason: Annotated[str | None, typer.Option(help="why")] = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Add a project to the library as a draft (储备)."""
    from fupin_gis.ledger.library import add_project

    led, who = context(ctx, as_json, actor)
    data: dict[str, Any] = json.loads(from_file.read_text("utf-8")) if from_file else {}
    options = {
        "name": name, "code": code, "category": category, "subtype": subtype, "nature": nature, "villages": village,
        "content": content, "quantity": quantity, "department": department, "implementer": implementer,
        "responsible": responsible, "start_planned": start, "end_planned": end, "indicators": _indicators(indicator),
        "benefit_mechanism": benefit, "total_yuan": total, "parent_code": parent,
    }  # fmt: skip
    data |= {k: v for k, v in options.items() if v is not None}
    made = add_project(led, who, data, reason)
    emit({"code": made}, as_json, f"项目 {made} 已加入项目库（储备） / added as a draft")


@projects_app.command("amend")
def amend_cmd(
    ctx: typer.Context,
    code: str,
    set_: Annotated[list[str], typer.Option("--set", help="FIELD=VALUE (repeatable; villages comma-separated)")],
    reason: Annotated[str | None, typer.Option(help="why (required once in the library)")] = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """A new revision of the project's record."""
    from fupin_gis.ledger.library import amend_project

    led, who = context(ctx, as_json, actor)
    changes: dict[str, Any] = {}
    for item in set_:
        if "=" not in item:
            raise InvalidInput(f"--set {item}：应为 字段=值", f"--set {item}: FIELD=VALUE", field="set")
        key, value = item.split("=", 1)
        changes[key.strip()] = value
    revision = amend_project(led, who, code, changes, reason)
    emit({"code": code, "revision": revision}, as_json, f"项目 {code} 第 {revision} 版 / revision {revision}")


@projects_app.command("line")
def line_cmd(
    ctx: typer.Context,
    code: str,
    source: Annotated[str | None, typer.Option(help="资金来源 (central, provincial, county, sector …)")] = None,
    year: Annotated[int | None, typer.Option(help="年度")] = None,
    amount: Annotated[str | None, typer.Option(help="金额 (元)")] = None,
    reverse: Annotated[
        int | None, typer.Option(help="reverse this line instead (with --reason, --amount for a part)")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="why")] = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """A budget line by funding source and year, or the reversal of one."""
    from fupin_gis.ledger.library import add_line, reverse_line

    led, who = context(ctx, as_json, actor)
    if reverse is not None:
        made = reverse_line(led, who, code, reverse, reason or "", amount)
        emit({"line": made, "reverses": reverse}, as_json, f"冲销 / reversed line {reverse}: {made}")
        return
    if source is None or year is None or amount is None:
        raise InvalidInput("须给出 --source、--year、--amount", "give --source, --year and --amount", field="source")
    made = add_line(led, who, code, source, year, amount, note=reason)
    emit({"line": made}, as_json, f"资金来源 / budget line {made}")


@projects_app.command("link")
def link_cmd(
    ctx: typer.Context,
    code: str,
    layer: Annotated[str, typer.Option(help="registry layer (roads, water_points …)")],
    feature: Annotated[list[int], typer.Option(help="feature id (repeatable)")],
    role: Annotated[str, typer.Option(help="planned, as_built or served")] = "planned",
    unlink: Annotated[bool, typer.Option(help="remove the links instead")] = False,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Link registry features to the project (its planned works, what it built, what it serves)."""
    from fupin_gis.ledger.library import link_features

    led, who = context(ctx, as_json, actor)
    event = link_features(led, who, code, layer, feature, role, unlink)
    emit({"event": event}, as_json, f"{len(feature)} 个要素 / features {'unlinked' if unlink else 'linked'}")


@projects_app.command("approve")
def approve_cmd(
    ctx: typer.Context,
    code: str,
    payment: Annotated[
        int | None, typer.Option(help="approve this payment's next step (else: the project into the library)")
    ] = None,
    reject: Annotated[bool, typer.Option(help="reject the payment")] = False,
    note: Annotated[str | None, typer.Option(help="note")] = None,
    on: OnOpt = None,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Approve a draft into the library (入库), or the step a payment waits for."""
    from fupin_gis.ledger.fields import parse_date
    from fupin_gis.ledger.library import enter_library
    from fupin_gis.ledger.payments import approve_payment

    led, who = context(ctx, as_json, actor)
    if payment is None:
        enter_library(led, who, code, parse_date(on, "on"))
        emit({"code": code, "status": "library"}, as_json, f"项目 {code} 已入库 / in the library")
        return
    state = approve_payment(led, who, code, payment, "reject" if reject else "approve", note, on)
    emit({"payment": payment, "state": state}, as_json, f"支付 {payment}: {state}")


@projects_app.command("draft")
def draft_cmd(
    ctx: typer.Context,
    run: Annotated[int, typer.Option("--run", help="coverage run whose gaps become draft projects")],
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Draft projects (储备) from a coverage run's joint harden plan and water gaps, by township."""
    from fupin_gis.ledger.drafts import draft_from_run

    led, who = context(ctx, as_json, actor)
    made = draft_from_run(led, who, run)
    if as_json:
        emit(made, True, "")
        return
    for d in made:
        what = f"{d['km']} km" if d["kind"] == "road" else f"{d['wells']} 口井 wells"
        typer.echo(f"{d['code']}  {d['township']}  {what}  估算 {d['estimate_wan']} 万元")


@projects_app.command("close")
def close_cmd(
    ctx: typer.Context,
    code: str,
    on: OnOpt = None,
    reason: Annotated[str | None, typer.Option(help="why")] = None,
    cancel: Annotated[bool, typer.Option(help="cancel (撤销) a project nothing was paid for, instead")] = False,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Close a project (accepted, handed over, audited, no open finding), or cancel one."""
    from fupin_gis.ledger.fields import parse_date
    from fupin_gis.ledger.library import cancel_project, close_project

    led, who = context(ctx, as_json, actor)
    if cancel:
        cancel_project(led, who, code, reason or "", parse_date(on, "on"))
    else:
        close_project(led, who, code, parse_date(on, "on"), reason)
    status = "cancelled" if cancel else "closed"
    emit({"code": code, "status": status}, as_json, f"项目 {code}: {status}")


@projects_app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the library as XLSX in the national 项目库 layout")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check only: write nothing")] = False,
    as_json: JsonOpt = False,
    actor: AsOpt = None,
) -> None:
    """Import the library sheet: all or nothing; problems by row and column (exit 2)."""
    from fupin_gis.ledger.exchange import import_xlsx

    led, who = context(ctx, as_json, actor)
    report = import_xlsx(led, who, file, dry_run)
    result = report.to_dict()
    if as_json:
        emit(result, True, "")
    else:
        for p in report.problems:
            typer.echo(f"第 {p['row']} 行 row, {p['column'] or '—'}: {p['zh']} / {p['en']}")
        typer.echo(
            f"新增 added {len(report.added)}, 修改 changed {len(report.changed)}, 未变 unchanged {report.unchanged}"
            + ("（试运行 dry run）" if dry_run else "")
        )
    if report.problems:
        raise typer.Exit(2)


@projects_app.command("export")
def export_cmd(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")] = Path("projects.xlsx"),
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="xlsx (项目库), oc4ids (JSON) or fdp (spending CSV)")
    ] = "xlsx",
    actor: AsOpt = None,
) -> None:
    """Export the library (XLSX), the projects as OC4IDS JSON, or spending as a Fiscal Data Package."""
    from fupin_gis.ledger import publish
    from fupin_gis.ledger.exchange import export_xlsx

    led, who = context(ctx, False, actor)
    with who.scoped(led.engine).connect() as conn:
        if fmt == "xlsx":
            n = export_xlsx(conn, led, output)
            typer.echo(f"{output}  ({n} 个项目 projects)")
        elif fmt == "oc4ids":
            output.write_text(publish.oc4ids(conn, led), "utf-8")
            typer.echo(f"{output}  (OC4IDS)")
        elif fmt == "fdp":
            output.write_text(publish.spending(conn, led), "utf-8")
            descriptor = output.with_name(output.stem + ".datapackage.json")
            descriptor.write_text(
                json.dumps(publish.datapackage(led, output.name), ensure_ascii=False, indent=1), "utf-8"
            )
            typer.echo(f"{output}, {descriptor}  (Fiscal Data Package)")
        else:
            raise InvalidInput(
                f"格式 “{fmt}” 无效：xlsx、oc4ids、fdp", f"unknown format '{fmt}': xlsx, oc4ids, fdp", field="format"
            )
