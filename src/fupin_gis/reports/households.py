"""(d) Households missing something: safe water, a road within reach, or a household check (personal data)."""

from __future__ import annotations

from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.snapshots import get_run
from fupin_gis.db.sql import sql_file
from fupin_gis.reports.model import Column, Report, Section
from fupin_gis.reports.registry import ReportRequest
from fupin_gis.reports.snapshot import (
    TOWN,
    about_run,
    no_villages,
    run_checklists,
    town_of,
    unit_names,
)


def households(engine: Engine, catalog: Catalog, run_id: int, area: str | None) -> Report:
    """(d) Households missing something: water, a road within reach, or a household check (personal data)."""
    run = get_run(engine, run_id, area=area)
    if area and not run["villages"]:  # a well-formed code with nothing in it: say so, as the summary does
        raise no_villages(run_id, area)
    names = unit_names(engine)
    lists = run_checklists(catalog, run)
    labels = {i.key: i.label for i in lists.household} if lists else {}
    with engine.connect() as conn:
        data = conn.execute(
            text(sql_file("fupin_gis.reports", "households.sql")),
            {"r": run_id, "a": (area or "") + "%"},
        ).all()
    rows = [
        {
            **town_of(r.village_code, names),
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
        "农户缺项清单",
        "Household gap list",
        run=run,
        about=about_run(run, area, names, [("个人信息 / Personal data", "限有权查看个人信息的角色 / restricted")]),
        sections=[Section("households", "农户缺项清单", "Household gaps", columns, rows)],
        headline=[("有缺项的户 / households with a gap", f"{len(rows):,}")],
    )


def build(q: ReportRequest) -> Report:
    """The builder the registry names (``fupin_gis.reports.build``)."""
    assert q.run_id is not None
    return households(q.engine, q.catalog, q.run_id, q.area)
