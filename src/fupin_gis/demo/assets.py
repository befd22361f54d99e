"""Synthetic households, water points and lines, reservoirs, slope farmland, facilities, power lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from fupin_gis.demo.roads import polylines
from fupin_gis.demo.world import Layer, World, elevation, slope_deg

MU_M2 = 10_000 / 15  # one mu (亩) in square metres
GRADE_EDGES = np.array([2, 6, 15, 25])
GRADES = np.array(["g1", "g2", "g3", "g4", "g5"])


def _points_in(polys: np.ndarray, centre: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Points scattered around ``centre`` rows, each kept inside its polygon (else at the centre)."""
    xy = centre + rng.normal(0, sigma, centre.shape)
    for _ in range(4):
        bad = ~shapely.contains_xy(polys, xy[:, 0], xy[:, 1])
        if not bad.any():
            break
        xy[bad] = centre[bad] + rng.normal(0, sigma, (bad.sum(), 2))
    bad = ~shapely.contains_xy(polys, xy[:, 0], xy[:, 1])
    xy[bad] = centre[bad]
    return xy


def households(world: World, rng: np.random.Generator) -> Layer:
    """Households around their group centres; about 30% registered poor, 3.9 members on average."""
    sc = world.scale
    weights = rng.uniform(0.6, 1.4, sc.groups)
    per_group = rng.multinomial(sc.households - 3 * sc.groups, weights / weights.sum()) + 3
    group = np.repeat(np.arange(sc.groups), per_group)
    xy = _points_in(world.group_poly[group], world.group_xy[group], 0.1 * sc.spacing_m, rng)
    village = world.group_village[group]
    codes = np.asarray(world.codes["villages"], dtype=object)[village]
    serial = np.arange(len(group)) - np.searchsorted(village, village)
    poor = rng.random(len(group)) < 4_864 / 15_939
    members = np.clip(1 + rng.poisson(2.9, len(group)), 1, 12)
    first_group = np.searchsorted(world.group_village, np.arange(sc.villages))

    def check(p_poor: float, p_other: float) -> np.ndarray:
        return rng.random(len(group)) < np.where(poor, p_poor, p_other)

    frame = pd.DataFrame(
        {
            "code": [f"{c}{s + 1:04d}" for c, s in zip(codes, serial, strict=True)],
            "village_code": codes,
            "group_no": group - first_group[village] + 1,
            "registered_poor": poor,
            "members": members,
            "exit_year": pd.array(
                np.where(poor & (rng.random(len(group)) < 0.7), rng.integers(2009, 2012, len(group)), 0), dtype="Int64"
            ),
            "elevation_m": elevation(xy[:, 0], xy[:, 1]).round(1),
            "house_ok": check(0.45, 0.9),
            "farmland_ok": check(0.7, 0.9),
            "safe_water": check(0.55, 0.85),
            "biogas": check(0.35, 0.6),
            "orchard_ok": check(0.4, 0.6),
            "livestock_ok": check(0.5, 0.7),
            "skilled_member": check(0.5, 0.75),
        }
    )
    frame.loc[frame["exit_year"] == 0, "exit_year"] = pd.NA
    return Layer(frame, shapely.points(xy))


WATER_KINDS = {
    # kind: (share, safe probability, label)
    "hand_pump_well": (0.62, 0.88, "机压井"),
    "storage_tank": (0.18, 0.5, "蓄水池"),
    "spring": (0.12, 0.4, "山泉"),
    "central_supply": (0.06, 1.0, "集中供水点"),
    "pumping_station": (0.02, 0.0, "提灌站"),
}


def water_points(world: World, rng: np.random.Generator) -> Layer:
    """Water points of every kind near group centres; some groups have none within reach."""
    n = world.scale.water_points
    kinds = rng.choice(list(WATER_KINDS), n, p=[v[0] for v in WATER_KINDS.values()])
    # A fifth of groups get no water point: the gaps rule 2 must find.
    served = rng.permutation(world.scale.groups)[: int(0.8 * world.scale.groups)]
    group = served[rng.integers(0, len(served), n)]
    central = kinds == "central_supply"
    xy = _points_in(world.group_poly[group], world.group_xy[group], 0.12 * world.scale.spacing_m, rng)
    xy[central] = world.village_xy[world.group_village[group[central]]] + rng.normal(0, 60, (central.sum(), 2))
    safe = rng.random(n) < np.array([WATER_KINDS[k][1] for k in kinds])
    status = rng.choice(["existing", "completed", "under_construction", "planned"], n, p=[0.6, 0.3, 0.05, 0.05])
    year = np.where(status == "existing", 0, rng.integers(2009, 2012, n))
    village_codes = np.asarray(world.codes["villages"], dtype=object)[world.group_village[group]]
    frame = pd.DataFrame(
        {
            "code": [f"W{i + 1:06d}" for i in range(n)],
            "name": [
                f"{world.names['villages'][world.group_village[g]]}{WATER_KINDS[k][2]}"
                for g, k in zip(group, kinds, strict=True)
            ],
            "kind": kinds,
            "safe": safe,
            "working": rng.random(n) < 0.9,
            "status": status,
            "households_served": rng.integers(5, 60, n) * np.where(central, 6, 1),
            "capacity_m3": np.where(kinds == "storage_tank", rng.choice([30.0, 50.0, 100.0], n), np.nan),
            "elevation_m": elevation(xy[:, 0], xy[:, 1]).round(1),
            "plan_year": pd.array(year, dtype="Int64"),
            "village_code": village_codes,
            "asset_class": np.where(kinds == "pumping_station", "operating", "public_welfare"),
            "funding_source": np.where(status == "existing", "sector", "poverty_fund"),
            "year_built": pd.array(np.where(status == "existing", rng.integers(1990, 2009, n), year), dtype="Int64"),
            "owner": [f"{c} 村集体经济组织" for c in village_codes],
            "maintainer": "村民用水户协会",
        }
    )
    frame.loc[frame["plan_year"] == 0, "plan_year"] = pd.NA
    frame.loc[frame["status"].isin(["planned", "under_construction"]), "year_built"] = pd.NA
    frame.loc[frame["status"].isin(["planned", "under_construction"]), "working"] = False
    return Layer(frame, shapely.points(xy))


def water_lines(world: World, points: Layer, rng: np.random.Generator) -> Layer:
    """Pipelines from central supply points to groups, canals from pumping stations."""
    kinds = points.frame["kind"].to_numpy()
    xy = shapely.get_coordinates(points.geom)
    src = np.flatnonzero(np.isin(kinds, ["central_supply", "pumping_station"]))
    if len(src) == 0:
        return Layer(pd.DataFrame({"kind": []}), np.array([], dtype=object))
    # Each source feeds 1-3 of its nearest groups.
    dist, near = cKDTree(world.group_xy).query(xy[src], k=4)
    starts, ends, kind = [], [], []
    for i, row_d, row_g in zip(src, dist, near, strict=True):
        for d, g in list(zip(row_d, row_g, strict=True))[: 1 + int(rng.integers(0, 3))]:
            if d < 50:  # the source stands at this group's centre
                continue
            starts.append(xy[i])
            ends.append(world.group_xy[g])
            kind.append("supply_pipeline" if kinds[i] == "central_supply" else "irrigation_canal")
    if not starts:
        return Layer(pd.DataFrame({"kind": []}), np.array([], dtype=object))
    lines, road, _ = polylines(np.array(starts), np.array(ends), 1e9, rng)
    inside = inside_counties(world, lines)
    lines, road = lines[inside], road[inside]
    n = len(lines)
    status = rng.choice(["existing", "completed", "planned"], n, p=[0.4, 0.45, 0.15])
    frame = pd.DataFrame(
        {
            "code": [f"L{i + 1:06d}" for i in range(n)],
            "kind": np.array(kind)[road],
            "work": rng.choice(["new", "renovated"], n, p=[0.6, 0.4]),
            "status": status,
            "diameter_mm": np.where(
                np.array(kind)[road] == "supply_pipeline", rng.choice([50.0, 63.0, 90.0], n), np.nan
            ),
            "plan_year": pd.array(np.where(status == "existing", 0, rng.integers(2009, 2012, n)), dtype="Int64"),
            "asset_class": "public_welfare",
            "funding_source": "poverty_fund",
        }
    )
    frame.loc[frame["plan_year"] == 0, "plan_year"] = pd.NA
    return Layer(frame, shapely.multilinestrings(lines, indices=np.arange(n)))


def inside_counties(world: World, geoms: np.ndarray) -> np.ndarray:
    """Mask of the geometries that lie inside the generated counties (wiggles can stray outside)."""
    area = shapely.union_all(world.county_poly)
    shapely.prepare(area)
    return shapely.covered_by(geoms, area)


def reservoirs(world: World, rng: np.random.Generator) -> Layer:
    """Small reservoirs, one in five dangerous (病险), at least one dangerous and unrenovated."""
    n = max(6, world.scale.villages // 50)
    village = rng.choice(world.scale.villages, n, replace=False)
    centre = _points_in(world.village_poly[village], world.village_xy[village], 0.25 * world.scale.spacing_m, rng)
    radius = rng.uniform(60, 220, n)
    polys = []
    for (x, y), r in zip(centre, radius, strict=True):
        angle = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        rr = r * (1 + 0.25 * np.sin(3 * angle + rng.uniform(0, 6)))
        ring = np.column_stack([x + rr * np.cos(angle), y + 0.6 * rr * np.sin(angle)])
        polys.append(shapely.MultiPolygon([shapely.Polygon(ring)]))
    polys_arr = shapely.intersection(np.array(polys, dtype=object), world.village_poly[village])
    risk = np.where(rng.random(n) < 0.2, "dangerous", "normal")
    risk[0] = "dangerous"
    renovation = np.where(risk == "dangerous", rng.choice(["planned", "under_construction", "completed"], n), "none")
    renovation[0] = "planned"
    dam = shapely.points(centre + np.column_stack([radius, np.zeros(n)]))
    frame = pd.DataFrame(
        {
            "code": [f"SK{i + 1:04d}" for i in range(n)],
            "name": [f"{world.names['villages'][v].removesuffix('村').removesuffix('社区')}水库" for v in village],
            "scale": np.where(radius > 180, "small_1", "small_2"),
            "capacity_10k_m3": (np.pi * radius**2 * 0.6 * rng.uniform(4, 9, n) / 1e4).round(1),
            "risk": risk,
            "renovation": renovation,
            "status": "existing",
            "village_code": np.asarray(world.codes["villages"], dtype=object)[village],
            "asset_class": "public_welfare",
            "funding_source": "sector",
        }
    )
    return Layer(frame, _as_multi(polys_arr), seat=dam)


def _as_multi(polys: np.ndarray) -> np.ndarray:
    out = np.empty(len(polys), dtype=object)
    for i, g in enumerate(polys):
        out[i] = shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g
    return out


def slope_farmland(world: World, rng: np.random.Generator) -> Layer:
    """Farmland parcels near group centres; slope and grade from the terrain."""
    sc = world.scale
    n = int(round(sc.groups * sc.farmland_per_group))
    group = rng.integers(0, sc.groups, n)
    centre = _points_in(world.group_poly[group], world.group_xy[group], 0.12 * sc.spacing_m, rng)
    half_w, half_h = rng.uniform(30, 110, n), rng.uniform(20, 60, n)
    angle = rng.uniform(0, np.pi, n)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=float)
    local = corners[None, :, :] * np.stack([half_w, half_h], axis=1)[:, None, :]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    rot = np.stack([local[..., 0] * cos - local[..., 1] * sin, local[..., 0] * sin + local[..., 1] * cos], axis=-1)
    rings = rot + centre[:, None, :]
    polys = shapely.polygons(rings)
    polys = shapely.intersection(polys, world.group_poly[group])
    polys = _as_multi(shapely.make_valid(polys))
    ok = np.array([g.geom_type == "MultiPolygon" and not g.is_empty for g in polys])
    polys, centre, group = polys[ok], centre[ok], group[ok]
    slope = slope_deg(centre[:, 0], centre[:, 1]).round(1)
    grade = GRADES[np.searchsorted(GRADE_EDGES, slope, side="left")]
    steep = grade == "g5"
    conversion = np.where(
        steep, rng.choice(["forest", "grass", "planned", "none"], len(slope), p=[0.4, 0.15, 0.15, 0.3]), "none"
    )
    frame = pd.DataFrame(
        {
            "code": [f"TB{i + 1:07d}" for i in range(len(polys))],
            "village_code": np.asarray(world.codes["villages"], dtype=object)[world.group_village[group]],
            "slope_deg": slope,
            "slope_grade": grade,
            "area_mu": (shapely.area(polys) / MU_M2).round(2),
            "conversion": conversion,
            "conversion_year": pd.array(
                np.where(np.isin(conversion, ["forest", "grass"]), rng.integers(2000, 2012, len(slope)), 0),
                dtype="Int64",
            ),
        }
    )
    frame.loc[frame["conversion_year"] == 0, "conversion_year"] = pd.NA
    return Layer(frame, polys)


FACILITY_KINDS = {
    # kind: (share of villages that have one, meets standard probability, name suffix)
    "activity_room": (0.92, 0.75, "村务活动室"),
    "clinic": (0.85, 0.7, "卫生室"),
    "school": (0.35, 0.6, "村小"),
    "telecom": (0.93, 0.95, "通信基站"),
}


def facilities(world: World, rng: np.random.Generator) -> Layer:
    """Village facilities (some villages lack some) and a nursing home in some townships."""
    rows, xy = [], []
    v_codes, v_names = world.codes["villages"], world.names["villages"]
    for kind, (share, standard, suffix) in FACILITY_KINDS.items():
        has = np.flatnonzero(rng.random(world.scale.villages) < share)
        for v in has:
            rows.append((kind, v_codes[v], f"{v_names[v]}{suffix}", bool(rng.random() < standard)))
            xy.append(world.village_xy[v] + rng.normal(0, 80, 2))
    for t in np.flatnonzero(rng.random(world.scale.townships) < 0.4):
        v = world.township_seat[t]
        rows.append(("nursing_home", v_codes[v], f"{world.names['townships'][t]}敬老院", bool(rng.random() < 0.6)))
        xy.append(world.village_xy[v] + rng.normal(0, 120, 2))
    frame = pd.DataFrame(rows, columns=["kind", "village_code", "name", "meets_standard"])
    n = len(frame)
    frame["code"] = [f"F{i + 1:06d}" for i in range(n)]
    frame["status"] = rng.choice(["existing", "completed", "under_construction"], n, p=[0.7, 0.25, 0.05])
    frame["plan_year"] = pd.array(
        np.where(frame["status"] != "existing", rng.integers(2009, 2012, n), 0), dtype="Int64"
    )
    frame.loc[frame["plan_year"] == 0, "plan_year"] = pd.NA
    frame["floor_area_m2"] = np.where(frame["kind"] == "telecom", np.nan, rng.uniform(60, 400, n).round(0))
    frame["asset_class"] = "public_welfare"
    frame["funding_source"] = rng.choice(["poverty_fund", "sector", "social"], n)
    return Layer(frame, shapely.points(np.array(xy)))


def power_lines(world: World, rng: np.random.Generator) -> Layer:
    """10 kV lines from each township seat to its villages; some upgraded (农网改造) in the plan years."""
    t = world.village_township
    child = np.flatnonzero(np.arange(world.scale.villages) != world.township_seat[t])
    lines, _, _ = polylines(world.township_xy[t[child]], world.village_xy[child] + 25.0, 1e9, rng)
    inside = inside_counties(world, lines)
    lines, child = lines[inside], child[inside]
    n = len(lines)
    upgraded = rng.random(n) < 0.55
    frame = pd.DataFrame(
        {
            "code": [f"P{i + 1:06d}" for i in range(n)],
            "name": [f"{world.names['villages'][v]}10千伏线" for v in child],
            "voltage_kv": 10.0,
            "upgraded_year": pd.array(np.where(upgraded, rng.integers(2009, 2012, n), 0), dtype="Int64"),
            "status": np.where(upgraded, "completed", "existing"),
            "village_code": np.asarray(world.codes["villages"], dtype=object)[child],
            "asset_class": "public_welfare",
            "funding_source": "sector",
            "owner": "国网县供电公司",
            "maintainer": "国网县供电公司",
        }
    )
    frame.loc[frame["upgraded_year"] == 0, "upgraded_year"] = pd.NA
    return Layer(frame, shapely.multilinestrings(lines, indices=np.arange(n)))
