"""``fupin-gis report``: any registered report (``fupin_gis.reports.registry``), in every format it has."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fupin_gis.cli.common import app, console, load_settings, open_catalog, open_engine
from fupin_gis.errors import NotFound
from fupin_gis.reports.build import REPORTS
from fupin_gis.reports.registry import ALL_FORMATS

if TYPE_CHECKING:
    ReportName = StrEnum
    ReportFormat = StrEnum
else:  # the choices the command offers: the registry's reports and formats
    ReportName = StrEnum("ReportName", {name.replace("-", "_"): name for name in REPORTS})
    ReportFormat = StrEnum("ReportFormat", {fmt: fmt for fmt in ALL_FORMATS})
HTML = ReportFormat("html")


@app.command("report")
def report_cmd(
    name: Annotated[ReportName, typer.Argument(help="which report")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="output format")] = HTML,
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
    """Write a report (``fupin_gis.reports.registry``): villages-lacking, summary, plan-vs-actual,
    households, changes (from a coverage snapshot); funds, plan-money, notice, assets, compliance
    (from the project ledger)."""
    from fupin_gis.reports.build import build_report
    from fupin_gis.reports.export import export
    from fupin_gis.reports.render import filename

    settings = load_settings()
    REPORTS[name.value].check_format(fmt.value)
    if name.value == "notice" and fmt.value == "pdf":  # the sheet frozen at posting, byte for byte
        from fupin_gis.ledger.report_assets import frozen_pdf

        nid, pdf = frozen_pdf(open_engine(), notice)
        if pdf is None:
            raise NotFound(f"公示 {nid} 没有冻结的 PDF", f"notice {nid} has no frozen PDF", notice=nid)
        path = output or Path(f"notice-{nid}.pdf")
        path.write_bytes(pdf)
        typer.echo(f"{path}  (公示 notice {nid}, sha256 {hashlib.sha256(pdf).hexdigest()})")
        return
    with console.status("生成报表 / building the report…"):
        report = build_report(open_engine(), open_catalog(), name.value, run, township, rule, since, notice)
        path = output or Path(filename(report, fmt.value))
        export(open_engine(), report, fmt.value, path, settings.web_dir / "templates", "system")
    rows = len(report.sections[0].rows)
    typer.echo(f"{path}  ({report.zh}, 运行 run {report.run['run_id']}, {rows:,} 行 rows)")
