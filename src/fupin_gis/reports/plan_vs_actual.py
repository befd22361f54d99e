"""(c) The plan's targets against what the registry held at the run: by item, township and tranche."""

from __future__ import annotations

from sqlalchemy import Engine

from fupin_gis.coverage.snapshots import get_run
from fupin_gis.errors import NotFound
from fupin_gis.reports import figures
from fupin_gis.reports.model import Chart, Column, Report, Section
from fupin_gis.reports.registry import ReportRequest
from fupin_gis.reports.snapshot import (
    TOWN,
    about_run,
    in_area,
    share,
    unit_names,
)


def plan_vs_actual(engine: Engine, run_id: int, area: str | None) -> Report:
    """(c) The plan's targets against what the registry held at the run: by item, township and tranche."""
    run = get_run(engine, run_id, area=area)
    names = unit_names(engine)
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
        if area is None and not item.get("hidden"):  # a total the caller's scope sees in full
            rows.append(
                {"town_code": "", "town": "全部 / all", **figures_}
                | {"planned": item["planned"], "done": item["done"], "share": item["share"]}
            )
        for town, done in sorted((item.get("by_township") or {}).items()):
            if in_area(town, area) and town != "None":
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
            "share": share(i["done"], i["planned"]) if i["done"] is not None else None,
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
        "规划完成情况",
        "Plan versus actual",
        run=run,
        about=about_run(run, area, names, [("规划 / Plan", f"{plan['plan']}（{years}）")]),
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


def build(q: ReportRequest) -> Report:
    """The builder the registry names (``fupin_gis.reports.build``)."""
    assert q.run_id is not None
    return plan_vs_actual(q.engine, q.run_id, q.area)
