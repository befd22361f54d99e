"""(e) What changed village by village between two coverage runs."""

from __future__ import annotations

from sqlalchemy import Engine, text

from fupin_gis.coverage.snapshots import diff_runs, get_run
from fupin_gis.errors import NotFound
from fupin_gis.reports.model import Column, Report, Section
from fupin_gis.reports.registry import ReportRequest
from fupin_gis.reports.snapshot import (
    TOWN,
    about_run,
    as_text,
    in_area,
    town_of,
    unit_names,
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
    names = unit_names(engine)
    labels = {
        "connected": "通硬化路",
        "gap_m": "需硬化(米)",
        "households_covered": "安全饮水户",
        "population_within_2km": "2公里内人口",
    }
    rows = []
    for c in diff["changes"]:
        if not in_area(c["code"], area):
            continue
        village = {**town_of(c["code"], names), "code": c["code"], "name": c["name"]}
        if c["change"] != "changed":
            what = "新增 / added" if c["change"] == "added" else "删除 / removed"
            rows.append(village | {"change": what, "field": "", "before": "", "after": ""})
            continue
        for key, d in c["fields"].items():
            label = labels.get(key) or (f"村七有 {key.removeprefix('check_')}" if key.startswith("check_") else key)
            rows.append(
                village
                | {"change": "变化 / changed", "field": label, "before": as_text(d["from"]), "after": as_text(d["to"])}
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
        "两次分析之间的变化",
        "Changes between two runs",
        run=run,
        about=about_run(run, area, names, [("比较的运行 / Compared with run", str(since))]),
        sections=[Section("changes", "变化", "Changes", columns, rows)],
        headline=[
            ("有变化的村 / villages changed", f"{len({r['code'] for r in rows}):,}"),
            ("新通硬化路的村 / newly connected", f"{diff['newly_connected']:,}"),
            ("不再通硬化路的村 / no longer connected", f"{diff['no_longer_connected']:,}"),
        ],
    )


def build(q: ReportRequest) -> Report:
    """The builder the registry names (``fupin_gis.reports.build``)."""
    assert q.run_id is not None
    return changes(q.engine, q.run_id, q.since, q.area)
