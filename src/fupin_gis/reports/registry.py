"""The report registry: each report's name, labels, formats and builder, in one place.

The command line (``fupin-gis report NAME -f FORMAT``), the API (``/reports/{name}.{fmt}``,
``/api/reports``), the reports page and the OpenAPI document take their report names and formats
from here. To add a report, write a builder taking a :class:`ReportRequest` and returning a
``Report``, and register it with one call (the reports of this package are registered in
:mod:`fupin_gis.reports.build`; another package registers its own the same way, from a module
``build`` imports)::

    register(ReportKind("funds", "资金执行表", "Funds execution", "fupin_gis.ledger.reports:build", from_run=False))

The builder may be the function itself or ``"module:function"``, imported the first time the
report is built (so the command line starts without loading every report's libraries).

``from_run=False`` for a report not made from a coverage snapshot (the project ledger's);
``personal=True`` for one holding personal data (only roles that may see it get it over HTTP);
``formats`` lists the formats it may be written in (``TABLE_FORMATS`` unless it has geometry layers).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from fupin_gis.auth.scope import check_area
from fupin_gis.catalog import Catalog
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.reports.model import Report

# every format a report can be written in (render.FORMATS has their media types and suffixes)
ALL_FORMATS = ("html", "pdf", "xlsx", "csv", "gpkg", "shp")
TABLE_FORMATS = ("html", "pdf", "xlsx", "csv", "gpkg")  # without geometry layers: no Shapefile


@dataclass(frozen=True)
class ReportRequest:
    """What a builder is asked for: the report, the run (resolved for reports from a run), the area
    (a checked county or township code) and the options some reports take."""

    engine: Engine
    catalog: Catalog
    name: str
    run_id: int | None = None
    area: str | None = None
    rules: list[str] | None = None  # villages-lacking: the rules to list villages by
    since: int | None = None  # changes: the earlier run
    notice: int | None = None  # notice: which one


Builder = Callable[[ReportRequest], Report]


@dataclass(frozen=True)
class ReportKind:
    """A registered report."""

    name: str
    zh: str
    en: str
    build: Builder | str  # the builder, or "module:function" naming it
    formats: tuple[str, ...] = TABLE_FORMATS
    personal: bool = False
    from_run: bool = True  # made from a coverage snapshot (the newest unless one is asked for)
    options: tuple[str, ...] = field(default=())  # the ReportRequest options it reads, for the help texts

    def builder(self) -> Builder:
        """The builder (imported, if the registration named it)."""
        if not isinstance(self.build, str):
            return self.build
        module, _, function = self.build.partition(":")
        found: Builder = getattr(importlib.import_module(module), function)
        return found

    def check_format(self, fmt: str) -> str:
        """``fmt`` if this report can be written in it, else InvalidInput naming the ones it can."""
        if fmt not in self.formats:
            raise InvalidInput(
                f"报表 {self.name} 不能导出为 {fmt}：可选 {', '.join(self.formats)}",
                f"Report {self.name} cannot be written as {fmt}: choose from {', '.join(self.formats)}",
                field="format",
                value=fmt,
            )
        return fmt


REGISTRY: dict[str, ReportKind] = {}


def register(kind: ReportKind) -> ReportKind:
    """Add ``kind`` to the registry (a name registered twice is a programming error)."""
    if kind.name in REGISTRY:
        raise ValueError(f"report {kind.name} registered twice")
    unknown = set(kind.formats) - set(ALL_FORMATS)
    if unknown:
        raise ValueError(f"report {kind.name}: unknown formats {sorted(unknown)}")
    REGISTRY[kind.name] = kind
    return kind


def report_kind(name: str) -> ReportKind:
    """The registered report ``name``, or NotFound naming those there are."""
    kind = REGISTRY.get(name)
    if kind is None:
        raise NotFound(
            f"没有报表 “{name}”：可选 {', '.join(REGISTRY)}",
            f"No report '{name}': choose from {', '.join(REGISTRY)}",
            report=name,
        )
    return kind


def latest_run(engine: Engine) -> int:
    """The newest coverage run, or NotFound with what to do."""
    with engine.connect() as conn:
        run = conn.execute(text("SELECT max(id) FROM coverage_runs")).scalar_one()
    if run is None:
        raise NotFound(
            "还没有覆盖分析结果：先运行 fupin-gis coverage run",
            "No coverage run yet: run `fupin-gis coverage run` first",
        )
    return int(run)


def build_registered(
    engine: Engine,
    catalog: Catalog,
    name: str,
    run_id: int | None = None,
    area: str | None = None,
    rules: list[str] | None = None,
    since: int | None = None,
    notice: int | None = None,
) -> Report:
    """The report ``name`` (from run ``run_id``, default the newest, if it is made from a run) for an
    area (county or township code)."""
    kind = report_kind(name)
    area = check_area(area)
    if kind.from_run and run_id is None:
        run_id = latest_run(engine)
    request = ReportRequest(engine, catalog, name, run_id, area, rules, since, notice)
    report = kind.builder()(request)
    report.area = area
    return report
