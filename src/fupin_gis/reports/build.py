"""Build each report from a stored coverage snapshot: every figure comes from the run it names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.checklists import Checklists, load_checklists
from fupin_gis.coverage.snapshots import diff_runs, get_run
from fupin_gis.coverage.verdicts import RULES, village_verdicts
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.ledger.report_assets import ledger_report
from fupin_gis.ledger.reports import LEDGER_REPORTS
from fupin_gis.reports import figures
from fupin_gis.reports.completeness import completeness_section
from fupin_gis.reports.model import Chart, Column, Report, Section

REPORTS = {
    "villages-lacking": ("缺少基础设施的村", "Villages lacking infrastructure"),
    "summary": ("乡镇与全县汇总", "Township and county summary"),
    "plan-vs-actual": ("规划完成情况", "Plan versus actual"),
    "households": ("农户缺项清单", "Household gap list"),
    "changes": ("两次分析之间的变化", "Changes between two runs"),
}
REPORTS.update(LEDGER_REPORTS)  # the project ledger's reports: from its facts, not from a coverage run


PERSONAL = {"households"}
WITH_GEOMETRY = {"villages-lacking", "summary"}  # the others have no Shapefile export
# the first columns of every village and household table
TOWN = [Column("town_code", "乡镇代码", "Township code"), Column("town", "乡镇", "Township")]


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


def check_area(area: str | None) -> str | None:
    """A county (6 digits) or township (9 digits) code to filter by, checked."""
    if area is None or area == "":
        return None
    if not re.fullmatch(r"\d{6}|\d{9}", area):
        raise InvalidInput(
            f"地区代码 “{area}” 无效：应为6位县代码或9位乡镇代码",
            f"Invalid area code '{area}': give a 6-digit county or 9-digit township code",
            field="township",
            value=area,
        )
    return area


def _unit_names(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, name FROM townships UNION ALL SELECT code, name FROM counties")).all()
    return {r.code: r.name for r in rows}


def _about(run: dict[str, Any], area: str | None, names: dict[str, str], extra: list[tuple[str, str]]) -> list:
    rules = run.get("rules") or {}
    about = [
        ("覆盖分析运行 / Coverage run", str(run["run_id"])),
        ("运行时间 / Run at", str(run["created_at"])[:19].replace("T", " ")),
        ("数据版本（最新导入批次）/ Data version (latest batch)", str(run["data_version"])),
        ("范围 / Area", f"{area} {names.get(area, '')}".strip() if area else "全部 / all"),
        *extra,
    ]
    labels = {
        "min_road_width_m": "最小路面宽度(米) / minimum road width (m)",
        "snap_tolerance_m": "路网捕捉容差(米) / snap tolerance (m)",
        "access_distance_m": "驻地接入距离(米) / seat access distance (m)",
        "water_distance_m": "取水距离(米) / water point distance (m)",
        "pipe_distance_m": "管网供水距离(米) / piped supply distance (m)",
        "rai_distance_m": "农村可达性距离(米) / RAI distance (m)",
        "unknown_width_ok": "宽度未知视为达标 / unknown width counts as wide",
    }
    about += [(label, str(rules[key])) for key, label in labels.items() if key in rules]
    return about


def _in_area(code: str, area: str | None) -> bool:
    return area is None or code.startswith(area)


def _checklists(catalog: Catalog, run: dict[str, Any]) -> Checklists | None:
    """The checklists the run used (for item labels); None if that file is gone or changed beyond use."""
    path = (run.get("rules") or {}).get("checklist_file")
    try:
        return load_checklists(Path(path), catalog) if path else None
    except InvalidInput:
        return None


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
        raise NotFound(f"运行 {run_id} 中没有 {area} 的村", f"No village of {area} in run {run_id}", area=area)
    names = _unit_names(engine)
    lists = _checklists(catalog, run)
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
                **_town(v["code"], names),
                "code": v["code"],
                "name": v["name"],
                "connected": ra["connected"],
                "gap_km": None if ra["gap_m"] is None or ra["connected"] else round(ra["gap_m"] / 1000, 2),
                "road_why": ra["reason"] if not ra["connected"] else "",
                "hh": water.get("households"),
                "hh_no_wat": (water.get("households") or 0) - (water.get("households_covered") or 0),
                "rai": _share(rai.get("population_within_2km"), rai.get("population")),
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
        *REPORTS["villages-lacking"],
        run=run,
        about=_about(run, area, names, extra),
        sections=[Section("villages", "缺少基础设施的村", "Villages lacking", columns, rows)],
        headline=headline,
    )
    report.layers = lambda: figures.village_layers(engine, run, report.sections[0])
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


def _town(code: str, names: dict[str, str]) -> dict[str, str]:
    """The ``TOWN`` columns of a row about the village (or household's village) ``code``."""
    return {"town_code": code[:9], "town": names.get(code[:9], "")}


def _share(part: Any, whole: Any) -> float | None:
    return round(part / whole, 4) if whole else None


def summary(engine: Engine, catalog: Catalog, run_id: int, area: str | None) -> Report:
    """(b) Township and county summaries: counts and shares, the seven checks met."""
    run = get_run(engine, run_id, area=area)
    names = _unit_names(engine)
    lists = _checklists(catalog, run)
    villages = run["villages"]  # only the area's (get_run)
    if area and not villages:
        raise NotFound(f"运行 {run_id} 中没有 {area} 的村", f"No village of {area} in run {run_id}", area=area)
    units: dict[str, dict[str, Any]] = {}
    for v in villages:
        for unit in (v["code"][:6], v["code"][:9]):
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
        level = "县 county" if len(unit) == 6 else "乡镇 township"
        rows.append(
            {
                "code": unit,
                "name": names.get(unit, ""),
                "level": level,
                "villages": u["villages"],
                "connected": s.get("connected"),
                "conn_pct": _share(s.get("connected"), u["villages"]),
                "gap_km": round((s.get("gap_m") or 0) / 1000, 2),
                "hh": s.get("households"),
                "water_pct": s.get("water_share"),
                "pop": s.get("population"),
                "water_people_pct": s.get("water_people_share"),
                "rai": s.get("rai"),
                "steep_mu": s.get("steep_mu"),
                "conv_pct": _share(s.get("steep_converted_mu"), s.get("steep_mu")),
                "v7_ok": u["all_known"],
                "h7_ok": u["hh_all_ok"],
                "h7_pct": _share(u["hh_all_ok"], s.get("households")),
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
                "met_pct": _share(states.count(True), len(states)),
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
                "met_pct": _share(total - missing, total),
            }
        )
    report = Report(
        "summary",
        *REPORTS["summary"],
        run=run,
        about=_about(run, area, names, []),
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
    report.layers = lambda: figures.unit_layers(engine, report.sections[0])
    report.figures = [Chart("图1 各乡镇覆盖率 / Coverage by township", lambda: figures.summary_figure(units_read))]
    return report


def plan_vs_actual(engine: Engine, run_id: int, area: str | None) -> Report:
    """(c) The plan's targets against what the registry held at the run: by item, township and tranche."""
    run = get_run(engine, run_id, area=area)
    names = _unit_names(engine)
    plan = run.get("plan")
    if not plan:
        raise NotFound(
            f"运行 {run_id} 没有规划完成情况（旧版本的运行）：请重新运行 fupin-gis coverage run",
            f"Run {run_id} has no plan measurement (an older run): run `fupin-gis coverage run` again",
            run=run_id,
        )
    rows = []
    for item in plan["items"]:
        figures_ = {"item": item["label"], "unit": item["unit"]}
        if area is None:
            rows.append(
                {"town_code": "", "town": "全部 / all", **figures_}
                | {"planned": item["planned"], "done": item["done"], "share": item["share"]}
            )
        for town, done in sorted((item.get("by_township") or {}).items()):
            if _in_area(town, area) and town != "None":
                rows.append(
                    {"town_code": town, "town": names.get(town, ""), **figures_}
                    | {"planned": None, "done": done, "share": None}
                )
    tranche_rows = [
        {
            "tranche": t["label"],
            "year": t["year"],
            "item": i["label"],
            "planned": i["planned"],
            "done": i["done"],
            "share": _share(i["done"], i["planned"]) if i["done"] is not None else None,
        }
        for t in plan["tranches"]
        for i in t["items"]
    ]
    columns = [
        *TOWN,
        Column("item", "项目", "Item"),
        Column("unit", "单位", "Unit"),
        Column("planned", "计划", "Planned", "num1"),
        Column("done", "完成", "Done", "num2"),
        Column("share", "完成比例", "Share done", "pct"),
    ]
    years = f"{plan['years'][0]}–{plan['years'][1]}"
    report = Report(
        "plan-vs-actual",
        *REPORTS["plan-vs-actual"],
        run=run,
        about=_about(run, area, names, [("规划 / Plan", f"{plan['plan']}（{years}）")]),
        sections=[
            Section(
                "items", "规划项目完成情况", "Plan items", columns, rows, note="乡镇行只列完成量：规划目标按全县下达。"
            ),
            Section(
                "tranches",
                "年度计划",
                "Tranches",
                [
                    Column("tranche", "年度计划", "Tranche"),
                    Column("year", "年度", "Year"),
                    Column("item", "项目", "Item"),
                    Column("planned", "计划", "Planned", "num1"),
                    Column("done", "完成", "Done", "num2"),
                    Column("share", "完成比例", "Share done", "pct"),
                ],
                tranche_rows,
            ),
        ],
    )
    report.figures = [Chart("图1 规划项目完成比例 / Share of each plan item done", lambda: figures.plan_figure(plan))]
    return report


def households(engine: Engine, catalog: Catalog, run_id: int, area: str | None) -> Report:
    """(d) Households missing something: water, a road within reach, or a household check (personal data)."""
    run = get_run(engine, run_id, area=area)
    if area and not run["villages"]:  # a well-formed code with nothing in it: say so, as the summary does
        raise NotFound(f"运行 {run_id} 中没有 {area} 的村", f"No village of {area} in run {run_id}", area=area)
    names = _unit_names(engine)
    lists = _checklists(catalog, run)
    labels = {i.key: i.label for i in lists.household} if lists else {}
    with engine.connect() as conn:
        data = conn.execute(
            text(
                "SELECT h.code, h.village_code, v.name AS village, h.members, h.water_ok, h.near_road, h.missing "
                "FROM coverage_households h LEFT JOIN coverage_villages v ON v.run_id = h.run_id AND v.code = h.village_code "
                "WHERE h.run_id = :r AND h.village_code LIKE :a "
                "AND (NOT h.water_ok OR NOT h.near_road OR cardinality(h.missing) > 0) ORDER BY h.village_code, h.code"
            ),
            {"r": run_id, "a": (area or "") + "%"},
        ).all()
    rows = [
        {
            **_town(r.village_code, names),
            "vil_code": r.village_code,
            "village": r.village,
            "code": r.code,
            "members": r.members,
            "water_ok": r.water_ok,
            "near_road": r.near_road,
            "n_missing": len(r.missing),
            "missing": "；".join(labels.get(k, k) for k in r.missing),
        }
        for r in data
    ]
    columns = [
        *TOWN,
        Column("vil_code", "村代码", "Village code"),
        Column("village", "村名", "Village"),
        Column("code", "户编号", "Household code"),
        Column("members", "家庭人口", "Members", "int"),
        Column("water_ok", "800米内有安全水", "Safe water within reach", "bool"),
        Column("near_road", "2公里内有硬化路", "All-season road within 2 km", "bool"),
        Column("n_missing", "户七有缺项数", "Household checks not met", "int"),
        Column("missing", "户七有缺项", "Household checks not met (items)"),
    ]
    return Report(
        "households",
        *REPORTS["households"],
        run=run,
        about=_about(run, area, names, [("个人信息 / Personal data", "限有权查看个人信息的角色 / restricted")]),
        sections=[Section("households", "农户缺项清单", "Household gaps", columns, rows)],
        headline=[("有缺项的户 / households with a gap", f"{len(rows):,}")],
    )


def changes(engine: Engine, run_id: int, since: int | None, area: str | None) -> Report:
    """(e) What changed village by village between run ``since`` (default: the one before) and ``run_id``."""
    if since is None:
        with engine.connect() as conn:
            since = conn.execute(text("SELECT max(id) FROM coverage_runs WHERE id < :r"), {"r": run_id}).scalar_one()
        if since is None:
            raise NotFound(
                f"运行 {run_id} 之前没有可比较的运行", f"No run before run {run_id} to compare with", run=run_id
            )
    diff = diff_runs(engine, since, run_id)
    run = get_run(engine, run_id, area=area)
    names = _unit_names(engine)
    labels = {
        "connected": "通硬化路",
        "gap_m": "需硬化(米)",
        "households_covered": "安全饮水户",
        "population_within_2km": "2公里内人口",
    }
    rows = []
    for c in diff["changes"]:
        if not _in_area(c["code"], area):
            continue
        village = {**_town(c["code"], names), "code": c["code"], "name": c["name"]}
        if c["change"] != "changed":
            what = "新增 / added" if c["change"] == "added" else "删除 / removed"
            rows.append(village | {"change": what, "field": "", "before": "", "after": ""})
            continue
        for key, d in c["fields"].items():
            label = labels.get(key) or (f"村七有 {key.removeprefix('check_')}" if key.startswith("check_") else key)
            rows.append(
                village
                | {"change": "变化 / changed", "field": label, "before": _text(d["from"]), "after": _text(d["to"])}
            )
    columns = [
        *TOWN,
        Column("code", "村代码", "Village code"),
        Column("name", "村名", "Village"),
        Column("change", "变化", "Change"),
        Column("field", "指标", "Figure"),
        Column("before", f"运行{since}", f"Run {since}"),
        Column("after", f"运行{run_id}", f"Run {run_id}"),
    ]
    return Report(
        "changes",
        *REPORTS["changes"],
        run=run,
        about=_about(run, area, names, [("比较的运行 / Compared with run", str(since))]),
        sections=[Section("changes", "变化", "Changes", columns, rows)],
        headline=[
            ("有变化的村 / villages changed", f"{len({r['code'] for r in rows}):,}"),
            ("新通硬化路的村 / newly connected", f"{diff['newly_connected']:,}"),
            ("不再通硬化路的村 / no longer connected", f"{diff['no_longer_connected']:,}"),
        ],
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    return "" if value is None else str(value)


def build_report(
    engine: Engine,
    catalog: Catalog,
    name: str,
    run_id: int | None = None,
    area: str | None = None,
    rules: list[str] | None = None,
    since: int | None = None,
) -> Report:
    """The report ``name`` from run ``run_id`` (default: the newest), for an area (county or township code)."""
    if name not in REPORTS:
        raise NotFound(
            f"没有报表 “{name}”：可选 {', '.join(REPORTS)}",
            f"No report '{name}': choose from {', '.join(REPORTS)}",
            report=name,
        )
    area = check_area(area)
    if name in LEDGER_REPORTS:
        return ledger_report(engine, catalog, name, area)
    run_id = run_id if run_id is not None else latest_run(engine)
    if name == "villages-lacking":
        report = villages_lacking(engine, catalog, run_id, area, rules)
    elif name == "summary":
        report = summary(engine, catalog, run_id, area)
    elif name == "plan-vs-actual":
        report = plan_vs_actual(engine, run_id, area)
    elif name == "households":
        report = households(engine, catalog, run_id, area)
    else:
        report = changes(engine, run_id, since, area)
    report.area = area
    return report
