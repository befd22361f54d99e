"""``fupin-gis report``: reports from a coverage snapshot, in every format."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fupin_gis.cli.common import app, console, load_settings, open_catalog, open_engine


class ReportName(StrEnum):
    """The reports (see ``fupin_gis.reports.build.REPORTS``)."""

    villages_lacking = "villages-lacking"
    summary = "summary"
    plan_vs_actual = "plan-vs-actual"
    households = "households"
    changes = "changes"


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
) -> None:
    """Write a report from a coverage snapshot: villages-lacking, summary, plan-vs-actual, households, changes."""
    from fupin_gis.reports.build import build_report
    from fupin_gis.reports.render import filename, write

    settings = load_settings()
    with console.status("生成报表 / building the report…"):
        report = build_report(open_engine(), open_catalog(), name.value, run, township, rule, since)
        path = output or Path(filename(report, fmt.value))
        write(report, fmt.value, path, settings.web_dir / "templates")
    rows = len(report.sections[0].rows)
    typer.echo(f"{path}  ({report.zh}, 运行 run {report.run['run_id']}, {rows:,} 行 rows)")
