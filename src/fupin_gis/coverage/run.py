"""Run the coverage rules on the database and shape the results as JSON (the interface of issue 4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from fupin_gis.auth.scope import county_of, township_of
from fupin_gis.coverage import rules
from fupin_gis.coverage.checklists import Checklists, household_checks, household_counts, missing_items, village_checks
from fupin_gis.coverage.netcache import cached_network
from fupin_gis.coverage.network import Network, RoadRows, build_network
from fupin_gis.coverage.road_access import Access, Seat, contract, joint_plan, road_access
from fupin_gis.coverage.roads import load_roads
from fupin_gis.coverage.rules import sql_text
from fupin_gis.errors import InvalidInput
from fupin_gis.settings import CoverageSettings


def metric_srid(conn: Connection, settings: CoverageSettings) -> int:
    """The configured metric CRS, else the CGCS2000 3-degree Gauss-Kruger zone of the counties."""
    if settings.metric_srid:
        return settings.metric_srid
    lon = conn.execute(text("SELECT ST_X(ST_Centroid(ST_Extent(geom))) FROM counties")).scalar_one()
    if lon is None:
        lon = conn.execute(text("SELECT ST_X(ST_Centroid(ST_Extent(geom))) FROM roads")).scalar_one() or 108.0
    return gauss_kruger_zone(float(lon))


def gauss_kruger_zone(lon: float) -> int:
    """The CGCS2000 3-degree Gauss-Kruger CRS (EPSG:4534 at 75°E … EPSG:4554 at 135°E) for ``lon``;
    InvalidInput outside China, where the metric CRS must be configured."""
    srid = 4534 + int(round((lon - 75.0) / 3.0))
    if not 4534 <= srid <= 4554:
        raise InvalidInput(
            f"数据中心经度 {lon:.2f}° 不在中国的高斯-克吕格 3 度带内：请设置 FUPIN_COVERAGE__METRIC_SRID（米制坐标系）",
            f"the data's centre lies at {lon:.2f}°E, outside China's 3-degree Gauss-Kruger zones: "
            "set FUPIN_COVERAGE__METRIC_SRID to a metric CRS",
            field="metric_srid",
            value=round(lon, 2),
        )
    return srid


def load_seats(conn: Connection, srid: int) -> tuple[list[Seat], list[Seat], dict[str, str]]:
    """Village seats (with their township), township seats, and village names."""
    villages: list[Seat] = []
    townships: list[Seat] = []
    names: dict[str, str] = {}
    for r in conn.execute(text(sql_text("seats.sql")), {"srid": srid}):
        seat = Seat(r.code, (float(r.x), float(r.y)), r.township)
        (villages if r.kind == "village" else townships).append(seat)
        names[r.code] = r.name
    return villages, townships, names


def _access_json(a: Access) -> dict:
    return {
        "connected": a.connected,
        "network_distance_m": None if a.network_distance_m is None else round(a.network_distance_m, 1),
        "gap_m": None if a.gap_m is None else round(a.gap_m, 1),
        "gap_segments": a.gap_roads,
        "access_m": [None if x is None else round(x, 1) for x in a.access_m],
        "reason": a.reason,
    }


def summarise(villages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Township (9-digit) and county (6-digit) totals of whatever figures the villages carry."""
    # summary figure -> (part of a village's result, key in it); parts a run lacks are skipped
    figures = {
        "connected": ("road_access", "connected"),
        "gap_m": ("road_access", "gap_m"),
        "households": ("water", "households"),
        "households_covered": ("water", "households_covered"),
        "people_water_covered": ("water", "people_covered"),
        "households_by_network": ("water", "households_by_network"),
        "population": ("rai", "population"),
        "population_within_2km": ("rai", "population_within_2km"),
        "steep_mu": ("farmland", "steep_mu"),
        "steep_converted_mu": ("farmland", "steep_converted_mu"),
    }
    summary: dict[str, dict[str, Any]] = {}
    for v in villages:
        for unit in (township_of(v["code"]), county_of(v["code"])):
            s = summary.setdefault(unit, {"villages": 0})
            s["villages"] += 1
            for name, (part, figure) in figures.items():
                if part in v:
                    s[name] = s.get(name, 0) + (v[part][figure] or 0)
    for s in summary.values():
        if "population" in s:
            s["rai"] = round(s["population_within_2km"] / s["population"], 4) if s["population"] else None
            s["water_share"] = round(s["households_covered"] / s["households"], 4) if s["households"] else None
        if "people_water_covered" in s and "population" in s:
            s["water_people_share"] = round(s["people_water_covered"] / s["population"], 4) if s["population"] else None
        for k in ("gap_m", "steep_mu", "steep_converted_mu"):
            if k in s:
                s[k] = round(s[k], 1)
    return dict(sorted(summary.items()))


# A run reports each stage it starts to ``step`` (the command line shows a progress bar).
Step = Callable[[str], None]
STAGES = 9  # calls of ``step`` in a whole run (create_run)


def no_step(_: str) -> None:
    """A run without progress reports."""


def run_road_access(
    conn: Connection,
    settings: CoverageSettings,
    roads: RoadRows | None = None,
    srid: int | None = None,
    step: Step = no_step,
    net: Network | None = None,
) -> dict:
    """Rule 1 for every village, with township and county summaries (on ``net`` if given)."""
    srid = srid or metric_srid(conn, settings)
    if net is None:
        roads = roads if roads is not None else load_roads(conn, srid, settings)
        step("路网 / road network")
        net = build_network(roads, settings.snap_tolerance_m)
    villages, townships, names = load_seats(conn, srid)
    step("村通硬化路 / rule 1, village road access")
    shared = contract(net, villages, townships, settings.access_distance_m) if villages else None
    results = (
        road_access(net, villages, townships, settings.access_distance_m, shared, settings.search_margin_m)
        if villages
        else []
    )
    step("统筹硬化方案 / joint harden plan")
    plan = (
        joint_plan(net, villages, townships, settings.access_distance_m, shared, settings.search_margin_m)
        if villages
        else None
    )
    out = [{"code": a.code, "name": names[a.code], "road_access": _access_json(a)} for a in results]
    return {
        "created_at": datetime.now(UTC).isoformat(),
        "metric_srid": srid,
        "network": {"edges": int(len(net.u)), "nodes": int(net.n_nodes), **net.fixes},
        "villages": out,
        "summary": summarise(out),
        "harden_plan": None
        if plan is None
        else {
            "length_m": plan.length_m,
            "segments": plan.roads,
            "by_township": plan.by_township,
            "villages_connected_after": plan.villages_served,
        },
    }


def run_coverage(
    conn: Connection, settings: CoverageSettings, checklists: Checklists, step: Step = no_step
) -> tuple[dict, pd.DataFrame]:
    """Rules 1–6 for every village, with township and county summaries; and the households' results.

    The second value has one row a household: ``household_id``, ``code``, ``village_code``,
    ``members``, ``water_ok``, ``near_road``, ``missing`` (the unmet household items as an array literal).
    """
    step("读取道路 / reading the roads")
    srid = metric_srid(conn, settings)
    step("路网 / road network")
    net, cache = cached_network(conn, srid, settings)
    base = run_road_access(conn, settings, None, srid, step, net)
    base["network"]["cache"] = {"mode": cache.mode, "rebuilt_roads": cache.rebuilt_roads}
    step("安全饮水 / rule 2, water")
    hh = rules.load_households(conn, srid)
    points = rules.load_water_points(conn, srid)
    covered, per_point = rules.water_access(conn, srid, hh, settings.water_distance_m, settings.pipe_distance_m, points)
    walk = rules.water_by_network(
        net, hh.xy, points[["x", "y"]].to_numpy(dtype=float), settings.water_distance_m, settings.access_distance_m
    )
    # by network where paths exist: a household reached by road or path within the distance
    by_network = walk <= settings.water_distance_m
    step("农村可达性 / rule 3, RAI")
    near_road = rules.rural_access(net.geom[net.usable], hh, settings.rai_distance_m)
    frame = pd.DataFrame(
        {
            "village": hh.village,
            "members": hh.members,
            "covered": covered,
            "near_road": near_road,
            "by_network": by_network,
        }
    )
    frame["members_near"] = frame["members"] * frame["near_road"]
    frame["members_covered"] = frame["members"] * frame["covered"]
    per_village = frame.groupby("village").agg(
        households=("covered", "size"),
        households_covered=("covered", "sum"),
        people_covered=("members_covered", "sum"),
        households_by_network=("by_network", "sum"),
        population=("members", "sum"),
        population_within_2km=("members_near", "sum"),
    )
    step("设施、坡耕地、七有 / rules 4–6")
    met = household_checks(conn, checklists, hh.id, covered)
    households7 = household_counts(checklists, met).to_dict(orient="index")
    per_household = pd.DataFrame(
        {
            "household_id": hh.id,
            "code": met["code"].to_numpy(),
            "village_code": hh.village,
            "members": hh.members,
            "water_ok": covered,
            "near_road": near_road,
            "missing": missing_items(checklists, met),
        }
    )
    fac = rules.facilities(conn)
    land = rules.farmland(conn)
    for v in base["villages"]:
        row = per_village.loc[v["code"]] if v["code"] in per_village.index else None
        water = {
            "households": int(row.households) if row is not None else 0,
            "households_covered": int(row.households_covered) if row is not None else 0,
            "people": int(row.population) if row is not None else 0,
            "people_covered": int(row.people_covered) if row is not None else 0,
            "households_by_network": int(row.households_by_network) if row is not None else 0,
        }
        rai = {
            "population": int(row.population) if row is not None else 0,
            "population_within_2km": int(row.population_within_2km) if row is not None else 0,
        }
        steep = land.get(v["code"], {}).get("g5", {"mu": 0.0, "converted_mu": 0.0})
        v.update(
            water=water,
            rai=rai,
            facilities=fac.get(v["code"], {}),
            farmland={
                "by_grade": land.get(v["code"], {}),
                "steep_mu": steep["mu"],
                "steep_converted_mu": steep["converted_mu"],
            },
            checks=village_checks(checklists, v["road_access"], fac.get(v["code"], {})),
            household_checks={k: int(n) for k, n in households7.get(v["code"], {"households": 0, "all_ok": 0}).items()},
        )
    base["summary"] = summarise(base["villages"])
    base["water_points"] = per_point.to_dict(orient="records")
    base["rules"] = settings.model_dump(mode="json")
    return base, per_household
