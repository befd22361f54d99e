"""(b) Township and county summaries: counts and shares, the seven checks met, data completeness."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from fupin_gis.auth.scope import county_of, is_county, township_of
from fupin_gis.catalog import Catalog
from fupin_gis.coverage.snapshots import get_run
from fupin_gis.reports import figures
from fupin_gis.reports.completeness import completeness_section
from fupin_gis.reports.model import Chart, Column, Report, Section
from fupin_gis.reports.registry import ReportRequest
from fupin_gis.reports.snapshot import (
    about_run,
    no_villages,
    run_checklists,
    share,
    unit_names,
)


def summary(engine: Engine, catalog: Catalog, run_id: int, area: str | None) -> Report:
    """(b) Township and county summaries: counts and shares, the seven checks met."""
    run = get_run(engine, run_id, area=area)
    names = unit_names(engine)
    lists = run_checklists(catalog, run)
    villages = run["villages"]  # only the area's (get_run)
    if area and not villages:
        raise no_villages(run_id, area)
    units: dict[str, dict[str, Any]] = {}
    for v in villages:
        for unit in (county_of(v["code"]), township_of(v["code"])):
            u = units.setdefault(unit, {"villages": 0, "all_known": 0, "hh": 0, "hh_all_ok": 0})
            u["villages"] += 1
            u["all_known"] += all(c["ok"] is not False for c in (v.get("checks") or {}).values())
            hc = v.get("household_checks") or {}
            u["hh_all_ok"] += hc.get("all_ok", 0)
    rows = []
    for unit, u in sorted(units.items()):
        if unit not in run["summary"]:
            continue  # a unit only partly read (scope or area): get_run leaves its totals out
        s = run["summary"][unit]
        level = "县 county" if is_county(unit) else "乡镇 township"
        rows.append(
            {
                "code": unit,
                "name": names.get(unit, ""),
                "level": level,
                "villages": u["villages"],
                "connected": s.get("connected"),
                "conn_pct": share(s.get("connected"), u["villages"]),
                "gap_km": round((s.get("gap_m") or 0) / 1000, 2),
                "hh": s.get("households"),
                "water_pct": s.get("water_share"),
                "pop": s.get("population"),
                "water_people_pct": s.get("water_people_share"),
                "rai": s.get("rai"),
                "steep_mu": s.get("steep_mu"),
                "conv_pct": share(s.get("steep_converted_mu"), s.get("steep_mu")),
                "v7_ok": u["all_known"],
                "h7_ok": u["hh_all_ok"],
                "h7_pct": share(u["hh_all_ok"], s.get("households")),
            }
        )
    columns = [
        Column("code", "代码", "Code"),
        Column("name", "名称", "Name"),
        Column("level", "级别", "Level"),
        Column("villages", "行政村", "Villages", "int"),
        Column("connected", "通硬化路村", "Villages with road access", "int"),
        Column("conn_pct", "通硬化路比例", "Share with road access", "pct"),
        Column("gap_km", "逐村需硬化(公里)", "Road to harden, village by village (km)", "num2"),
        Column("hh", "户数", "Households", "int"),
        Column("water_pct", "安全饮水户比例", "Households with safe water", "pct"),
        Column("pop", "人口", "Population", "int"),
        Column("water_people_pct", "安全饮水人口比例", "People with safe water", "pct"),
        Column("rai", "农村可达性指数", "Rural Access Index", "pct"),
        Column("steep_mu", "25°以上坡耕地(亩)", "Farmland >25° (mu)", "num1"),
        Column("conv_pct", "已退耕比例", "Share converted", "pct"),
        Column("v7_ok", "村七有可判定项全达标村", "Villages meeting every judged check", "int"),
        Column("h7_ok", "户七有全达标户", "Households meeting every check", "int"),
        Column("h7_pct", "户七有达标比例", "Share of households meeting every check", "pct"),
    ]
    check_rows = []
    for item in lists.village if lists else []:
        states = [(v.get("checks") or {}).get(item.key, {}).get("ok") for v in villages]
        check_rows.append(
            {
                "key": item.key,
                "label": item.label,
                "met": states.count(True),
                "not_met": states.count(False),
                "unknown": states.count(None),
                "met_pct": share(states.count(True), len(states)),
            }
        )
    hh_rows = []
    for h in lists.household if lists else []:
        missing = sum((v.get("household_checks") or {}).get(f"missing_{h.key}", 0) for v in villages)
        total = sum((v.get("household_checks") or {}).get("households", 0) for v in villages)
        hh_rows.append(
            {
                "key": h.key,
                "label": h.label,
                "met": total - missing,
                "not_met": missing,
                "met_pct": share(total - missing, total),
            }
        )
    report = Report(
        "summary",
        "乡镇与全县汇总",
        "Township and county summary",
        run=run,
        about=about_run(run, area, names, []),
        sections=[
            Section("units", "乡镇与全县", "Townships and county", columns, rows),
            Section(
                "village_checks",
                "村七有",
                "Village checks",
                [
                    Column("key", "项目代码", "Item"),
                    Column("label", "项目", "Item label"),
                    Column("met", "达标村", "Villages met", "int"),
                    Column("not_met", "未达标村", "Villages not met", "int"),
                    Column("unknown", "无数据村", "Villages without data", "int"),
                    Column("met_pct", "达标比例", "Share met", "pct"),
                ],
                check_rows,
            ),
            Section(
                "household_checks",
                "户七有",
                "Household checks",
                [
                    Column("key", "项目代码", "Item"),
                    Column("label", "项目", "Item label"),
                    Column("met", "达标户", "Households met", "int"),
                    Column("not_met", "未达标户", "Households not met", "int"),
                    Column("met_pct", "达标比例", "Share met", "pct"),
                ],
                hh_rows,
            ),
            completeness_section(engine, catalog, run, area),
        ],
    )
    units_read = report.sections[0].rows
    if units_read:
        top = units_read[0]  # the county, or the township asked for
        report.headline = [
            (f"{top['name'] or top['code']} 行政村 / villages", f"{top['villages']:,}"),
            ("通硬化路比例 / with road access", f"{(top['conn_pct'] or 0) * 100:.1f}%"),
            ("安全饮水户比例 / households with safe water", f"{(top['water_pct'] or 0) * 100:.1f}%"),
            ("农村可达性指数 / Rural Access Index", f"{(top['rai'] or 0) * 100:.1f}%"),
        ]
    report.layers = lambda: figures.unit_layers(engine, report.sections[0], catalog.srid)
    report.figures = [Chart("图1 各乡镇覆盖率 / Coverage by township", lambda: figures.summary_figure(units_read))]
    return report


def build(q: ReportRequest) -> Report:
    """The builder the registry names (``fupin_gis.reports.build``)."""
    assert q.run_id is not None
    return summary(q.engine, q.catalog, q.run_id, q.area)
