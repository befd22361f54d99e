"""From gaps to projects: a coverage run's joint harden plan and its water gaps become draft library
projects (储备), grouped by township — the road pieces to harden as planned features, wells for the
households without safe water — with a cost estimate from the unit-cost table."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from fupin_gis.auth.accounts import Principal
from fupin_gis.coverage.snapshots import get_run
from fupin_gis.errors import InvalidInput
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import LIBRARY, require
from fupin_gis.ledger.library import add_in, link_in
from fupin_gis.ledger.money import wan
from fupin_gis.ledger.sqlutil import acting

FALLBACK_CLASS = "village"


def road_cost(led: Ledger, road_class: str | None, surface: str | None, length_m: float) -> Decimal:
    """Cost of hardening ``length_m`` of a road of ``road_class`` whose surface is now ``surface``."""
    table = led.rules.unit_costs.road_km
    by_class = table.get(road_class or FALLBACK_CLASS) or table.get(FALLBACK_CLASS) or {}
    per_km = by_class.get(surface or "gravel") or by_class.get("gravel") or Decimal(0)
    return (Decimal(str(length_m)) / 1000 * per_km).quantize(Decimal("1"))


def draft_from_run(led: Ledger, who: Principal, run_id: int) -> list[dict[str, Any]]:
    """Draft projects from run ``run_id``: one road project and one water project per township with
    gaps; all in one transaction (refused if the run was drafted from already). What was drafted."""
    require(who, LIBRARY, "library")
    run = get_run(led.engine, run_id)
    plan = run.get("harden_plan") or {}
    segments = [int(s) for s in plan.get("segments") or []]
    drafted: list[dict[str, Any]] = []
    with acting(led.engine, who) as conn:
        if conn.execute(text("SELECT 1 FROM ledger_projects WHERE source_run = :r"), {"r": run_id}).first():
            raise InvalidInput(
                f"已从覆盖分析运行 {run_id} 生成过储备项目",
                f"projects were drafted from run {run_id} already",
                field="run",
            )
        roads = conn.execute(
            text(
                "SELECT r.id, r.road_class, r.surface, r.village_code, ST_Length(r.geom::geography) AS m, "
                "coalesce(left(r.village_code, 9), (SELECT t.code FROM townships t WHERE ST_Intersects(t.geom, "
                "ST_PointOnSurface(r.geom)) LIMIT 1)) AS township FROM roads r WHERE r.id = ANY(:ids) ORDER BY r.id"
            ),
            {"ids": segments},
        ).all()
        names: dict[str, str] = dict(conn.execute(text("SELECT code, name FROM townships")).all())
        by_town: dict[str, list[Any]] = {}
        for r in roads:
            by_town.setdefault(r.township or "", []).append(r)
        unconnected = {v["code"] for v in run["villages"] if not v["road_access"]["connected"]}
        for town, rows in sorted(by_town.items()):
            length = sum(float(r.m) for r in rows)
            cost = sum((road_cost(led, r.road_class, r.surface, float(r.m)) for r in rows), Decimal(0))
            villages = sorted(
                {r.village_code for r in rows if r.village_code} | {v for v in unconnected if v.startswith(town)}
            )
            km = round(length / 1000, 3)
            code = add_in(
                conn,
                led,
                who,
                {
                    "name": f"{names.get(town, town)}村道硬化（储备）",
                    "category": "infrastructure",
                    "subtype": "village_road_harden",
                    "nature": "renovate",
                    "villages": villages,
                    "content": f"硬化道路 {km} 公里（{len(rows)} 段），使 {len([v for v in villages if v in unconnected])} 个村通硬化路",
                    "quantity": km,
                    "total_yuan": cost,
                    "indicators": [{"name": "硬化道路里程", "target": str(km), "unit": "公里"}],
                    "source_run": run_id,
                    "flags": ["estimate"],
                },
                reason=f"覆盖分析运行 {run_id} 的统筹硬化方案 / joint harden plan of run {run_id}",
            )
            link_in(conn, led, who, code, "roads", [r.id for r in rows], "planned")
            drafted.append(
                {"code": code, "kind": "road", "township": town, "km": km, "estimate": cost, "estimate_wan": wan(cost)}
            )
        per_well = led.rules.unit_costs.households_per_well
        water: dict[str, list[tuple[str, int]]] = {}
        for v in run["villages"]:
            w = v.get("water") or {}
            gap = int(w.get("households", 0)) - int(w.get("households_covered", 0))
            if gap > 0:
                water.setdefault(v["code"][:9], []).append((v["code"], gap))
        for town, gaps in sorted(water.items()):
            households = sum(g for _, g in gaps)
            wells = sum(math.ceil(g / per_well) for _, g in gaps)
            cost = Decimal(wells) * led.rules.unit_costs.well_yuan
            code = add_in(
                conn,
                led,
                who,
                {
                    "name": f"{names.get(town, town)}安全饮水机压井（储备）",
                    "category": "infrastructure",
                    "subtype": "hand_pump_wells",
                    "nature": "new",
                    "villages": [c for c, _ in gaps],
                    "content": f"新打机压井 {wells} 口，解决 {households} 户安全饮水",
                    "quantity": wells,
                    "total_yuan": cost,
                    "indicators": [{"name": "新增安全饮水户", "target": str(households), "unit": "户"}],
                    "beneficiaries": {"households": households},
                    "source_run": run_id,
                    "flags": ["estimate"],
                },
                reason=f"覆盖分析运行 {run_id} 的饮水缺口 / water gaps of run {run_id}",
            )
            drafted.append(
                {
                    "code": code,
                    "kind": "water",
                    "township": town,
                    "wells": wells,
                    "households": households,
                    "estimate": cost,
                    "estimate_wan": wan(cost),
                }
            )
        if not drafted:
            raise InvalidInput(
                f"运行 {run_id} 没有可生成项目的缺口", f"run {run_id} has no gaps to draft projects from", field="run"
            )
    return drafted
