"""Synthetic administrative geography: groups → villages → townships → counties, and a terrain.

Everything is built in a metric CRS (``scales.METRIC_EPSG``). Group cells are Voronoi cells of
group centres; a village is the union of its groups' cells, a township the union of its villages,
a county the union of its townships, so the units tile and nest exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.cluster.vq import kmeans2
from scipy.spatial import cKDTree

from fupin_gis.demo.names import real_units, synthetic_name
from fupin_gis.demo.scales import METRIC_EPSG, ORIGIN_LONLAT, PLAN_COUNTY, Scale


@dataclass
class Layer:
    """One layer's generated rows: attributes, geometry (metric CRS) and an optional seat point."""

    frame: pd.DataFrame
    geom: np.ndarray
    seat: np.ndarray | None = None


@dataclass
class World:
    """The administrative skeleton every other layer is placed on."""

    scale: Scale
    group_xy: np.ndarray
    group_village: np.ndarray
    group_poly: np.ndarray
    village_xy: np.ndarray
    village_township: np.ndarray
    village_poly: np.ndarray
    township_seat: np.ndarray  # index of the village that hosts the township government
    township_county: np.ndarray
    township_poly: np.ndarray
    county_seat: np.ndarray  # index of the township that hosts the county government
    county_poly: np.ndarray
    codes: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)

    @property
    def township_xy(self) -> np.ndarray:
        """Township seats (the seats of their host villages)."""
        return self.village_xy[self.township_seat]

    def village_groups(self, v: int) -> np.ndarray:
        """Indices of the groups of village ``v``."""
        return np.flatnonzero(self.group_village == v)


def origin_xy() -> tuple[float, float]:
    """The generator's origin (通江县) in the metric CRS."""
    tr = Transformer.from_crs(4490, METRIC_EPSG, always_xy=True)
    x, y = tr.transform(*ORIGIN_LONLAT)
    return float(x), float(y)


def elevation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A hilly terrain (metres): long ridges plus shorter slopes, like the Daba Mountains' foothills."""
    x0, y0 = origin_xy()
    u, v = (x - x0) / 1000.0, (y - y0) / 1000.0
    return (
        650
        + 330 * np.sin(u / 2.3) * np.cos(v / 1.9)
        + 170 * np.sin((u + v) / 0.9)
        + 150 * np.cos(u / 0.35 + 0.4) * np.sin(v / 0.42)
    )


def slope_deg(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Slope of :func:`elevation` in degrees (analytic gradient)."""
    x0, y0 = origin_xy()
    u, v = (x - x0) / 1000.0, (y - y0) / 1000.0
    dzdu = (
        330 / 2.3 * np.cos(u / 2.3) * np.cos(v / 1.9)
        + 170 / 0.9 * np.cos((u + v) / 0.9)
        - 150 / 0.35 * np.sin(u / 0.35 + 0.4) * np.sin(v / 0.42)
    )
    dzdv = (
        -330 / 1.9 * np.sin(u / 2.3) * np.sin(v / 1.9)
        + 170 / 0.9 * np.cos((u + v) / 0.9)
        + 150 / 0.42 * np.cos(u / 0.35 + 0.4) * np.cos(v / 0.42)
    )
    grad = np.hypot(dzdu, dzdv) / 1000.0  # metres per metre
    return np.degrees(np.arctan(grad))


def _village_seeds(rng: np.random.Generator, n: int, spacing: float) -> np.ndarray:
    """``n`` points on a jittered hexagonal grid, forming an irregular blob around the origin."""
    side = int(np.ceil(np.sqrt(n * 2.2))) + 4
    ii, jj = np.meshgrid(np.arange(-side, side + 1), np.arange(-side, side + 1))
    x = (ii + 0.5 * (jj % 2)) * spacing
    y = jj * spacing * np.sqrt(3) / 2
    pts = np.column_stack([x.ravel(), y.ravel()])
    angle = np.arctan2(pts[:, 1], pts[:, 0])
    phase = rng.uniform(0, 2 * np.pi, 3)
    wobble = 1 + 0.22 * np.sin(2 * angle + phase[0]) + 0.12 * np.sin(3 * angle + phase[1])
    radius = np.hypot(pts[:, 0], pts[:, 1]) / wobble + rng.uniform(0, 0.3 * spacing, len(pts))
    chosen = pts[np.argsort(radius)[:n]]
    chosen = chosen + rng.uniform(-0.22, 0.22, chosen.shape) * spacing
    return chosen + np.array(origin_xy())


def _group_counts(rng: np.random.Generator, villages: int, groups: int) -> np.ndarray:
    """How many groups each village has: about equal, summing exactly to ``groups``."""
    base = groups // villages
    counts = np.full(villages, base)
    counts[rng.choice(villages, groups - base * villages, replace=False)] += 1
    # Shuffle sizes a little while keeping the sum.
    for _ in range(villages // 3):
        a, b = rng.choice(villages, 2, replace=False)
        if counts[a] > 3:
            counts[a] -= 1
            counts[b] += 1
    return counts


def _union_by(polys: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Union of ``polys`` grouped by ``labels`` (0..n-1), each made a MultiPolygon."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n + 1))
    out = np.empty(n, dtype=object)
    for k in range(n):
        parts = polys[order[bounds[k] : bounds[k + 1]]]
        try:
            merged = shapely.coverage_union_all(parts)
        except shapely.errors.GEOSException:
            merged = shapely.union_all(parts)
        out[k] = merged
    return _multi(out)


def _multi(polys: np.ndarray) -> np.ndarray:
    """Polygons as MultiPolygons (the catalog's geometry type)."""
    out = np.empty(len(polys), dtype=object)
    for i, g in enumerate(polys):
        g = shapely.make_valid(g) if not g.is_valid else g
        if g.geom_type == "Polygon":
            g = shapely.MultiPolygon([g])
        elif g.geom_type == "GeometryCollection":
            g = shapely.MultiPolygon([p for p in g.geoms if p.geom_type == "Polygon"])
        out[i] = g
    return out


def _clusters(rng: np.random.Generator, xy: np.ndarray, k: int) -> np.ndarray:
    """Labels 0..k-1 of a k-means partition with no empty cluster, the most even of a few tries."""
    if k == 1:
        return np.zeros(len(xy), dtype=int)
    if len(xy) >= 10_000:
        return _lloyd(rng, xy, k)
    tries = 12
    best: np.ndarray | None = None
    best_spread = np.inf
    for attempt in range(tries + 20):
        _, labels = kmeans2(xy, k, minit="++", seed=int(rng.integers(1 << 31)) + attempt)
        sizes = np.bincount(labels, minlength=k)
        if sizes.min() == 0:
            continue
        spread = sizes.max() - sizes.min()
        if spread < best_spread:
            best, best_spread = labels, spread
        if attempt + 1 >= tries and best is not None:
            return best
    raise RuntimeError("k-means left an empty cluster")


def _lloyd(rng: np.random.Generator, xy: np.ndarray, k: int, iterations: int = 10) -> np.ndarray:
    """k-means by Lloyd iterations on a KD-tree: O(n log k) a step, for tens of thousands of points."""
    centres = xy[rng.choice(len(xy), k, replace=False)]
    labels = np.zeros(len(xy), dtype=int)
    for _ in range(iterations):
        labels = cKDTree(centres).query(xy)[1]
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, xy)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
        # An empty cluster restarts at a point of the largest one.
        for c in np.flatnonzero(~filled):
            big = np.flatnonzero(labels == np.argmax(counts))
            centres[c] = xy[rng.choice(big)]
    labels = cKDTree(centres).query(xy)[1]
    counts = np.bincount(labels, minlength=k)
    for c in np.flatnonzero(counts == 0):  # exactly k clusters: give an empty one a point
        big = np.flatnonzero(labels == np.argmax(counts))
        far = big[np.argmax(np.hypot(*(xy[big] - centres[labels[big]]).T))]
        counts[labels[far]] -= 1
        labels[far] = c
        counts[c] = 1
    return labels


def build_world(scale: Scale, rng: np.random.Generator) -> World:
    """Lay out groups, villages, townships and counties for ``scale``."""
    s = scale.spacing_m
    village_xy = _village_seeds(rng, scale.villages, s)
    counts = _group_counts(rng, scale.villages, scale.groups)
    group_village = np.repeat(np.arange(scale.villages), counts)
    # Group 0 of each village sits at the seat; the others on a ring around it.
    first = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.arange(scale.groups) - first[group_village]
    angle = 2 * np.pi * rank / counts[group_village] + rng.uniform(0, 2 * np.pi, scale.villages)[group_village]
    radius = np.where(rank == 0, 0.0, rng.uniform(0.28, 0.45, scale.groups) * s)
    group_xy = village_xy[group_village] + np.column_stack([np.cos(angle), np.sin(angle)]) * radius[:, None]

    hull = shapely.concave_hull(shapely.multipoints(village_xy), ratio=0.3)
    domain = shapely.simplify(shapely.buffer(hull, 0.62 * s, quad_segs=4), 50)
    cells = shapely.voronoi_polygons(shapely.multipoints(group_xy), extend_to=domain, ordered=True)
    group_poly = shapely.intersection(np.asarray(cells.geoms, dtype=object), domain)
    group_poly = _multi(shapely.make_valid(group_poly))
    village_poly = _union_by(group_poly, group_village, scale.villages)

    village_township = _clusters(rng, village_xy, scale.townships)
    township_poly = _union_by(village_poly, village_township, scale.townships)
    centroid = shapely.get_coordinates(shapely.centroid(township_poly))
    township_seat = np.empty(scale.townships, dtype=int)
    for t in range(scale.townships):
        members = np.flatnonzero(village_township == t)
        township_seat[t] = members[np.argmin(np.hypot(*(village_xy[members] - centroid[t]).T))]
    township_county = _clusters(rng, village_xy[township_seat], scale.counties)
    county_poly = _union_by(township_poly, township_county, scale.counties)
    county_centroid = shapely.get_coordinates(shapely.centroid(county_poly))
    county_seat = np.empty(scale.counties, dtype=int)
    for c in range(scale.counties):
        members = np.flatnonzero(township_county == c)
        seats = village_xy[township_seat[members]]
        county_seat[c] = members[np.argmin(np.hypot(*(seats - county_centroid[c]).T))]

    world = World(
        scale,
        group_xy,
        group_village,
        group_poly,
        village_xy,
        village_township,
        village_poly,
        township_seat,
        township_county,
        township_poly,
        county_seat,
        county_poly,
    )
    _assign_codes(world, rng)
    return world


def _assign_codes(world: World, rng: np.random.Generator) -> None:
    """Statistical codes (6/9/12 digits, nested) and names; real ones for the plan scale."""
    sc = world.scale
    real_t, real_v = real_units(PLAN_COUNTY[0]) if sc.counties == 1 else ([], {})
    if sc.counties == 1:
        county_codes, county_names = [PLAN_COUNTY[0]], [PLAN_COUNTY[1]]
    else:
        county_codes = [f"51{c // 10 + 1:02d}{21 + c % 10:02d}" for c in range(sc.counties)]
        county_names = [synthetic_name(rng, "县") for _ in range(sc.counties)]
    t_codes, t_names = [""] * sc.townships, [""] * sc.townships
    v_codes, v_names = [""] * sc.villages, [""] * sc.villages
    # Prefer real townships with enough villages for the plan scale.
    usable = [t for t in real_t if len(real_v.get(t[0], [])) >= 8]
    pick: np.ndarray = rng.permutation(len(usable))[: sc.townships] if len(usable) >= sc.townships else np.array([])
    serial: dict[int, int] = {}
    for t in range(sc.townships):
        c = int(world.township_county[t])
        members = np.flatnonzero(world.village_township == t)
        if len(pick):
            t_codes[t], t_names[t] = usable[pick[t]]
            pool = real_v[t_codes[t]]
            chosen = sorted(rng.choice(len(pool), len(members), replace=False))
            for v, k in zip(members, chosen, strict=True):
                v_codes[v], v_names[v] = pool[k]
            continue
        serial[c] = serial.get(c, 99) + 1
        t_codes[t] = f"{county_codes[c]}{serial[c]:03d}"
        t_names[t] = synthetic_name(rng, "镇" if serial[c] < 200 else "乡")
        for j, v in enumerate(members):
            v_codes[v] = f"{t_codes[t]}{200 + j:03d}"
            v_names[v] = synthetic_name(rng, "村")
    for t in range(sc.townships):  # the township seat's village is a community
        seat = world.township_seat[t]
        if not v_names[seat].endswith("社区"):
            v_names[seat] = v_names[seat].removesuffix("村") + "社区"
    g_codes, g_names = [], []
    numerals = "一二三四五六七八九十"
    for g, v in enumerate(world.group_village):
        n = g - int(np.searchsorted(world.group_village, v))
        g_codes.append(f"{v_codes[v]}{n + 1:03d}")
        g_names.append((numerals[n] if n < 10 else str(n + 1)) + "社")
    world.codes = {"counties": county_codes, "townships": t_codes, "villages": v_codes, "village_groups": g_codes}
    world.names = {"counties": county_names, "townships": t_names, "villages": v_names, "village_groups": g_names}
