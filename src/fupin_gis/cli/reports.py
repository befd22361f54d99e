"""``fupin-gis report``: reports from a coverage snapshot, in every format."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fupin_gis.cli.common import app, console, load_settings, open_catalog, open_engine
from fupin_gis.errors import NotFound


class ReportName(StrEnum):
    """The reports (see ``fupin_gis.reports.build.REPORTS``)."""

    villages_lacking = "villages-lacking"
    summary = "summary"
    plan_vs_actual = "plan-vs-actual"
    households = "households"
    changes = "changes"
    funds = "funds"
    plan_money = "plan-money"
    notice = "notice"
    assets = "assets"
    compliance = "compliance"


class ReportFormat(StrEnum):
    """The report formats."""

    html = "html"
    pdf = "pdf"
    xlsx = "xlsx"
    csv = "csv"
    gpkg = "gpkg"
    shp = "shp"


@app.command("report")
def report_cmd(
    name: Annotated[ReportName, typer.Argument(help="which report")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="output format")] = ReportFormat.html,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: NAME-runN.FORMAT)")
    ] = None,
    run: Annotated[int | None, typer.Option("--run", help="coverage run (default: the newest)")] = None,
    township: Annotated[
        str | None, typer.Option("--township", help="only this township (9-digit code) or county (6-digit)")
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="villages-lacking: only villages failing this rule (repeatable)")
    ] = None,
    since: Annotated[
        int | None, typer.Option("--since", help="changes: the earlier run (default: the one before)")
    ] = None,
    notice: Annotated[int | None, typer.Option("--notice", help="notice: which one (default: the newest)")] = None,
) -> None:
    """Write a report: villages-lacking, summary, plan-vs-actual, households, changes (from a coverage snapshot);
    funds, plan-money, notice, assets, compliance (from the project ledger)."""
    from fupin_gis.reports.build import build_report
    from fupin_gis.reports.render import filename, write

    settings = load_settings()
    if name == ReportName.notice and fmt == ReportFormat.pdf:  # the sheet frozen at posting, byte for byte
        from fupin_gis.ledger.report_assets import frozen_pdf

        nid, pdf = frozen_pdf(open_engine(), notice)
        if pdf is None:
            raise NotFound(f"公示 {nid} 没有冻结的 PDF", f"notice {nid} has no frozen PDF", notice=nid)
        path = output or Path(f"notice-{nid}.pdf")
        path.write_bytes(pdf)
        typer.echo(f"{path}  (公示 notice {nid}, sha256 {hashlib.sha256(pdf).hexdigest()})")
        return
    with console.status("生成报表 / building the report…"):
        if name == ReportName.notice:
            from fupin_gis.ledger.report_assets import ledger_report

            report = ledger_report(open_engine(), open_catalog(), name.value, None, notice)
        else:
            report = build_report(open_engine(), open_catalog(), name.value, run, township, rule, since)
        path = output or Path(filename(report, fmt.value))
        write(report, fmt.value, path, settings.web_dir / "templates")
    rows = len(report.sections[0].rows)
    typer.echo(f"{path}  ({report.zh}, 运行 run {report.run['run_id']}, {rows:,} 行 rows)")
