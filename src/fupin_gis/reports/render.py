"""Write a report as HTML, PDF (HTML printed by headless Chromium), Excel, CSV, GeoPackage or zipped Shapefile."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pyogrio
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill

from fupin_gis.errors import InvalidInput, ReportFailed
from fupin_gis.reports.model import Column, Report, Section, cell
from fupin_gis.reports.registry import ALL_FORMATS
from fupin_gis.resources import render_template


class Format(NamedTuple):
    """A report format: the media type it is served as, the suffix of its file."""

    media: str
    suffix: str


FORMATS = {
    "html": Format("text/html; charset=utf-8", ".html"),
    "pdf": Format("application/pdf", ".pdf"),
    "xlsx": Format("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "csv": Format("text/csv; charset=utf-8", ".csv"),
    "gpkg": Format("application/geopackage+sqlite3", ".gpkg"),
    "shp": Format("application/zip", ".shp.zip"),
}
assert tuple(FORMATS) == ALL_FORMATS  # the registry's list, with media types and suffixes
NUMBER_FORMATS = {"int": "#,##0", "num1": "#,##0.0", "num2": "#,##0.00", "pct": "0.0%"}


def check_format(fmt: str) -> str:
    """The format, checked."""
    if fmt not in FORMATS:
        raise InvalidInput(
            f"不支持的报表格式 “{fmt}”：可选 {', '.join(FORMATS)}",
            f"Unsupported report format '{fmt}': choose from {', '.join(FORMATS)}",
            field="format",
            value=fmt,
        )
    return fmt


def filename(report: Report, fmt: str) -> str:
    """A download name: report, run (or the tag a report not made from a run gives), format."""
    tag = report.run.get("tag") or f"run{report.run['run_id']}"
    return f"{report.name}-{tag}{FORMATS[fmt].suffix}"


def csv_lines(report: Report) -> Iterator[str]:
    """The report's main table as CSV lines: UTF-8 with a BOM (Excel opens it), Chinese headers."""
    section = report.sections[0]
    buf = io.StringIO()
    writer = csv.writer(buf)
    yield "\ufeff"
    writer.writerow([c.zh for c in section.columns])
    for k, row in enumerate(section.rows):
        writer.writerow([_raw(v, c) for c, v in section.cells(row)])
        if k % 2000 == 1999:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _raw(value: Any, column: Column) -> Any:
    if value is None:
        return ""
    if column.kind == "bool":
        return "是" if value else "否"
    return value


def write_xlsx(report: Report, path: Path) -> None:
    """One sheet per section (Chinese headers, frozen header row, number formats) and a sheet about the run."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    about = book.create_sheet("说明")
    about.column_dimensions["A"].width = 48
    about.column_dimensions["B"].width = 60
    title = WriteOnlyCell(about, f"{report.zh} / {report.en}")
    title.font = Font(bold=True, size=14)
    about.append([title])
    for label, value in [*report.about, *report.headline, ("生成时间 / Generated", _now())]:
        about.append([label, value])
    for section in report.sections:
        sheet = book.create_sheet(_sheet_name(section, book.sheetnames))
        sheet.freeze_panes = "A2"
        for k, col in enumerate(section.columns):
            sheet.column_dimensions[_letter(k)].width = max(10, min(40, len(col.zh) * 2 + 2))
        header = []
        for col in section.columns:
            c = WriteOnlyCell(sheet, col.zh)
            c.font, c.fill, c.alignment = bold, fill, Alignment(wrap_text=True, vertical="center")
            header.append(c)
        sheet.append(header)
        for row in section.rows:
            out = []
            for col, value in section.cells(row):
                c = WriteOnlyCell(sheet, _raw(value, col) if col.kind == "bool" else value)
                if col.kind in NUMBER_FORMATS:
                    c.number_format = NUMBER_FORMATS[col.kind]
                out.append(c)
            sheet.append(out)
    book.save(path)


def _letter(k: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(k + 1)


def _sheet_name(section: Section, taken: list[str]) -> str:
    name = "".join(ch for ch in section.zh if ch not in "[]:*?/\\")[:31] or section.key
    return name if name not in taken else f"{name[:28]}_{len(taken)}"


def _now() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")


def html(report: Report, templates: Path, for_print: bool = False) -> str:
    """The report as one self-contained HTML document (inline styles and figures; no external link)."""
    check_printable(report, "pdf" if for_print else "html")
    from fupin_gis.reports.figures import embed  # matplotlib: only when a report is printed

    figures = [(chart.caption, embed(chart)) for chart in report.figures]
    return render_template(
        templates, "report.html", report=report, figures=figures, cell=cell, generated=_now(), for_print=for_print
    )


def chromium_binary() -> str:
    """The Chromium to print with."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise ReportFailed(
        "找不到 Chromium，无法生成 PDF：请运行 make setup", "Chromium not found, cannot print the PDF: run `make setup`"
    )


def write_pdf(report: Report, path: Path, templates: Path) -> None:
    """A4 PDF: the print version of the HTML, printed by headless Chromium (Noto CJK fonts)."""
    print_pdf(html(report, templates, for_print=True), path)


def print_pdf(document: str, path: Path) -> None:
    """Print a self-contained HTML document to a PDF at ``path`` with headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="fupin-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(document, "utf-8")
        out = Path(tmp) / "report.pdf"
        cmd = [
            chromium_binary(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-pdf-header-footer",
            f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0 or not out.exists():
            raise ReportFailed(
                f"Chromium 生成 PDF 失败：{proc.stderr[-500:]}",
                f"Chromium failed to print the PDF: {proc.stderr[-500:]}",
            )
        shutil.move(out, path)


def write_gpkg(report: Report, path: Path) -> None:
    """Geometry layers (villages, road gaps …) and every section and the run description as tables."""
    path.unlink(missing_ok=True)
    for name, layer in (report.layers() if report.layers else {}).items():
        pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG")
    for section in report.sections:
        pyogrio.write_dataframe(section.frame(), path, layer=f"table_{section.key}", driver="GPKG")
    about = pd.DataFrame(report.about, columns=["item", "value"])
    pyogrio.write_dataframe(about, path, layer="about", driver="GPKG")


def write_shp_zip(report: Report, path: Path) -> None:
    """The geometry layers as Shapefiles (UTF-8 with a .cpg, short ASCII field names) in one zip."""
    layers = report.layers() if report.layers else {}
    if not layers:
        raise InvalidInput(
            f"报表 {report.name} 没有图形，不能导出 Shapefile：请用 xlsx、csv 或 gpkg",
            f"Report {report.name} has no geometry to export as Shapefile: use xlsx, csv or gpkg",
            field="format",
            value="shp",
        )
    with (
        tempfile.TemporaryDirectory(prefix="fupin-shp-") as tmp,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
    ):
        for name, layer in layers.items():
            target = Path(tmp) / f"{name}.shp"
            pyogrio.write_dataframe(layer, target, driver="ESRI Shapefile", encoding="UTF-8")
            for part in sorted(Path(tmp).glob(f"{name}.*")):
                zf.write(part, part.name)


# A printed table longer than this (the household list of a county) is refused in HTML and PDF:
# tens of thousands of rows made a 50 MB PDF in a minute that nobody reads; the XLSX and CSV hold it.
PRINTED_ROWS_MAX = 3000


def check_printable(report: Report, fmt: str) -> None:
    """Refuse HTML or PDF of a report whose main table is longer than a printout should be."""
    rows = len(report.sections[0].rows) if report.sections else 0
    if fmt in ("html", "pdf") and rows > PRINTED_ROWS_MAX:
        raise InvalidInput(
            f"{report.zh}有 {rows:,} 行，超过可打印的 {PRINTED_ROWS_MAX:,} 行：请下载 XLSX 或 CSV，或选一个乡镇",
            f"{report.en} has {rows:,} rows, more than the {PRINTED_ROWS_MAX:,} a printout holds: download XLSX or CSV, or choose one township",
            field="format",
            value=fmt,
            rows=rows,
        )


def write(report: Report, fmt: str, path: Path, templates: Path) -> Path:
    """Write ``report`` in ``fmt`` to ``path``."""
    check_format(fmt)
    if fmt == "html":
        path.write_text(html(report, templates), "utf-8")
    elif fmt == "pdf":
        write_pdf(report, path, templates)
    elif fmt == "xlsx":
        write_xlsx(report, path)
    elif fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as f:
            for chunk in csv_lines(report):
                f.write(chunk)
    elif fmt == "gpkg":
        write_gpkg(report, path)
    else:
        write_shp_zip(report, path)
    return path
