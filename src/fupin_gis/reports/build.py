"""Build any registered report. The registrations: the reports made from a coverage snapshot (a
module each in this package) and the project ledger's (from its facts, not from a run).

To add a report, register it here (or in a module imported here) with one call::

    register(ReportKind("name", "中文名", "English name", "package.module:build", formats, ...))

(see :mod:`fupin_gis.reports.registry` for what a builder takes and what the options mean).
"""

from __future__ import annotations

from fupin_gis.ledger.reports import LEDGER_REPORTS
from fupin_gis.reports.model import Report
from fupin_gis.reports.registry import (
    ALL_FORMATS,
    REGISTRY,
    ReportKind,
    ReportRequest,
    build_registered,
    latest_run,
    register,
)

__all__ = ["REPORTS", "build_report", "latest_run"]

HERE = "fupin_gis.reports"

register(
    ReportKind(
        "villages-lacking",
        "缺少基础设施的村",
        "Villages lacking infrastructure",
        f"{HERE}.villages_lacking:build",
        ALL_FORMATS,
        options=("rules",),
    )
)
register(ReportKind("summary", "乡镇与全县汇总", "Township and county summary", f"{HERE}.summary:build", ALL_FORMATS))
register(ReportKind("plan-vs-actual", "规划完成情况", "Plan versus actual", f"{HERE}.plan_vs_actual:build"))
register(ReportKind("households", "农户缺项清单", "Household gap list", f"{HERE}.households:build", personal=True))
register(
    ReportKind("changes", "两次分析之间的变化", "Changes between two runs", f"{HERE}.changes:build", options=("since",))
)


def _ledger(q: ReportRequest) -> Report:
    """A report of the project ledger (``fupin_gis.ledger.report_assets.ledger_report``)."""
    from fupin_gis.ledger.report_assets import ledger_report  # the ledger's machinery: when asked for

    return ledger_report(q.engine, q.catalog, q.name, q.area, q.notice)


for _name, (_zh, _en) in LEDGER_REPORTS.items():
    if _name not in REGISTRY:  # the ledger may register its reports itself
        register(ReportKind(_name, _zh, _en, _ledger, from_run=False, options=("notice",) if _name == "notice" else ()))

REPORTS = REGISTRY  # name -> ReportKind, in the order registered
build_report = build_registered
