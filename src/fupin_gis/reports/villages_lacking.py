"""(a) Villages lacking infrastructure: one row per village failing a rule, with each rule's status and figures."""

from __future__ import annotations

from sqlalchemy import Engine

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.snapshots import get_run
from fupin_gis.coverage.verdicts import RULES, village_verdicts
from fupin_gis.errors import InvalidInput
from fupin_gis.reports import figures
from fupin_gis.reports.model import Chart, Column, Report, Section
from fupin_gis.reports.registry import ReportRequest
from fupin_gis.reports.snapshot import (
    TOWN,
    about_run,
    no_villages,
    run_checklists,
    share,
    town_of,
    unit_names,
)


def villages_lacking(
    engine: Engine, catalog: Catalog, run_id: int, area: str | None, rules: list[str] | None
) -> Report:
    """(a) One row per village that lacks something, with each rule's status and the numbers."""
    for r in rules or []:
        if r not in RULES:
            raise InvalidInput(
                f"没有规则 “{r}”：可选 {', '.join(RULES)}",
                f"No rule '{r}': choose from {', '.join(RULES)}",
                field="rule",
                value=r,
            )
    run = get_run(engine, run_id, area=area)
    if area and not run["villages"]:  # a well-formed code with nothing in it: say so, as the summary does
        raise no_villages(run_id, area)
    names = unit_names(engine)
    lists = run_checklists(catalog, run)
    labels = {i.key: i.label for i in lists.village} if lists else {}
    facility_keys = {i.key for i in lists.village if i.rule == "facilities"} if lists else set()
    road_keys = {i.key for i in lists.village if i.rule == "road_access"} if lists else set()
    chosen = rules or list(RULES)
    with engine.connect() as conn:
        verdicts = village_verdicts(conn, run_id, area, facility_keys)
    rows = []
    for v in run["villages"]:  # get_run read only the area's villages
        lacks = verdicts[v["code"]]
        if not any(lacks[r] for r in chosen):
            continue
        ra, water, rai, land = v["road_access"], v.get("water") or {}, v.get("rai") or {}, v.get("farmland") or {}
        checks = v.get("checks") or {}
        steep_left = round((land.get("steep_mu") or 0) - (land.get("steep_converted_mu") or 0), 1)
        order = [k for k in labels if k in checks] + [k for k in checks if k not in labels]
        failed = [k for k in order if checks[k]["ok"] is False]
        missing = [RULES[r].zh for r in ("road", "water", "rai", "farmland") if lacks[r]]
        missing += [labels.get(k, k) for k in failed if k not in road_keys]
        rows.append(
            {
                **town_of(v["code"], names),
                "code": v["code"],
                "name": v["name"],
                "connected": ra["connected"],
                "gap_km": None if ra["gap_m"] is None or ra["connected"] else round(ra["gap_m"] / 1000, 2),
                "road_why": ra["reason"] if not ra["connected"] else "",
                "hh": water.get("households"),
                "hh_no_wat": (water.get("households") or 0) - (water.get("households_covered") or 0),
                "rai": share(rai.get("population_within_2km"), rai.get("population")),
                "steep_mu": land.get("steep_mu"),
                "steep_left": steep_left,
                "no_facil": "；".join(labels.get(k, k) for k in failed if k in facility_keys),
                "checks_ok": sum(1 for c in checks.values() if c["ok"] is True),
                "checks_unk": sum(1 for c in checks.values() if c["ok"] is None),
                "missing": "；".join(missing),
            }
        )
    rows.sort(key=lambda r: r["code"])
    columns = [
        *TOWN,
        Column("code", "村代码", "Village code"),
        Column("name", "村名", "Village"),
        Column("connected", "通硬化路", "Road access", "bool"),
        Column("gap_km", "需硬化(公里)", "Road to harden (km)", "num2"),
        Column("road_why", "道路原因", "Road: reason"),
        Column("hh", "户数", "Households", "int"),
        Column("hh_no_wat", "800米内无安全水户数", "Households without safe water", "int"),
        Column("rai", "2公里内人口占比", "Population within 2 km (RAI)", "pct"),
        Column("steep_mu", "25°以上坡耕地(亩)", "Farmland >25° (mu)", "num1"),
        Column("steep_left", "未退耕(亩)", "Not converted (mu)", "num1"),
        Column("no_facil", "缺少设施", "Missing facilities"),
        Column("checks_ok", "村七有达标项", "Village checks met", "int"),
        Column("checks_unk", "无数据项", "Checks without data", "int"),
        Column("missing", "缺少", "Missing"),
    ]
    gap_total = sum(r["gap_km"] or 0 for r in rows)
    no_water = sum(r["hh_no_wat"] or 0 for r in rows)
    headline = [
        ("缺少基础设施的村 / villages lacking", f"{len(rows):,}"),
        ("不通硬化路的村 / villages without road access", f"{sum(1 for r in rows if not r['connected']):,}"),
        ("需硬化道路合计(公里) / road to harden (km), village by village", f"{gap_total:,.2f}"),
        ("800米内无安全水的户 / households without safe water", f"{no_water:,}"),
    ]
    plan = run.get("harden_plan")
    if plan and area is None:
        headline.append(("统筹硬化方案(公里) / joint harden plan (km)", f"{plan['length_m'] / 1000:,.2f}"))
    extra = [("规则 / Rules", "，".join(RULES[r].zh for r in chosen))]
    report = Report(
        "villages-lacking",
        "缺少基础设施的村",
        "Villages lacking infrastructure",
        run=run,
        about=about_run(run, area, names, extra),
        sections=[Section("villages", "缺少基础设施的村", "Villages lacking", columns, rows)],
        headline=headline,
    )
    report.layers = lambda: figures.village_layers(engine, run, report.sections[0], catalog.srid)
    report.figures = [
        Chart(
            "图1 村通硬化路情况与需硬化路段 / Road access and the roads to harden",
            lambda: figures.access_figure(engine, run, area),
            raster=True,
        ),
        Chart(
            "图2 各乡镇缺项村数 / Villages lacking, by township",
            lambda: figures.lacking_figure(verdicts, names),
        ),
    ]
    return report


def build(q: ReportRequest) -> Report:
    """The builder the registry names (``fupin_gis.reports.build``)."""
    assert q.run_id is not None
    return villages_lacking(q.engine, q.catalog, q.run_id, q.area, q.rules)
