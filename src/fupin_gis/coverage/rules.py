"""Rules 2–5: household water access, Rural Access Index, village facilities, slope farmland.

Distances are straight-line in the metric CRS, computed with KD-trees and STRtrees instead of a
spatial join; the tests check them household for household against PostGIS ``ST_DWithin``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from sqlalchemy import Connection, text

from fupin_gis.coverage.network import Network
from fupin_gis.db.sql import sql_file

# Statuses that count as built for every rule.
BUILT = ["existing", "completed"]


def sql_text(name: str) -> str:
    """The SQL file ``sql/<name>`` beside this package."""
    return sql_file("fupin_gis.coverage", name)


@dataclass
class Households:
    """Household points (metric), their village and members."""

    id: np.ndarray
    village: np.ndarray
    members: np.ndarray
    xy: np.ndarray


def load_households(conn: Connection, srid: int) -> Households:
    """Every household in ``srid``."""
    frame = pd.read_sql(text(sql_text("households.sql")), conn, params={"srid": srid})
    return Households(
        frame["id"].to_numpy(),
        frame["village_code"].to_numpy(),
        frame["members"].to_numpy(),
        frame[["x", "y"]].to_numpy(dtype=float),
    )


def load_water_points(conn: Connection, srid: int) -> pd.DataFrame:
    """Safe, working, built water points in ``srid``: id, code, kind, x, y."""
    return pd.read_sql(text(sql_text("water_points.sql")), conn, params={"srid": srid, "built": BUILT})


def water_access(
    conn: Connection, srid: int, hh: Households, distance_m: float, pipe_m: float, points: pd.DataFrame | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Rule 2: which households have a safe working water point within ``distance_m`` or piped supply.

    Returns the covered mask and, per water point, WPdx-style figures: households within reach
    and households that depend on it alone (crucialness). ``points``: ``load_water_points``, read
    here when not given.
    """
    points = load_water_points(conn, srid) if points is None else points
    covered = np.zeros(len(hh.id), dtype=bool)
    per_point = pd.DataFrame(
        {"id": points["id"], "code": points["code"], "households_in_reach": 0, "households_sole_source": 0}
    )
    if len(points) and len(hh.id):
        tree = cKDTree(points[["x", "y"]].to_numpy(dtype=float))
        reach = tree.query_ball_point(hh.xy, distance_m)
        counts = np.fromiter((len(r) for r in reach), dtype=int, count=len(reach))
        covered |= counts > 0
        flat = np.fromiter((p for r in reach for p in r), dtype=int)
        per_point["households_in_reach"] = np.bincount(flat, minlength=len(points))
        sole = np.fromiter((r[0] for r, c in zip(reach, counts, strict=True) if c == 1), dtype=int)
        per_point["households_sole_source"] = np.bincount(sole, minlength=len(points))
    pipes = [bytes(r.wkb) for r in conn.execute(text(sql_text("pipelines.sql")), {"srid": srid, "built": BUILT})]
    if pipes and len(hh.id):
        tree_p = shapely.STRtree(shapely.from_wkb(pipes))
        near, _ = tree_p.query(shapely.points(hh.xy), predicate="dwithin", distance=pipe_m)
        covered[np.unique(near)] = True
    return covered, per_point


def rural_access(lines: np.ndarray, hh: Households, distance_m: float) -> np.ndarray:
    """Rule 3 (RAI, SDG 9.1.1): households within ``distance_m`` of the all-season (usable) road
    ``lines`` (the roads' parts, or the network's pieces of them)."""
    within = np.zeros(len(hh.id), dtype=bool)
    if len(lines) and len(hh.id):
        # A household with a road vertex within reach is within reach of the road: a KD-tree of the
        # vertices settles most households at once. The rest (only roads whose straight stretches
        # pass near them) ask for the nearest road within reach, one answer each (a dwithin query
        # lists every road within 2 km, dozens, and takes twice as long for the same mask).
        vertex, _ = cKDTree(shapely.get_coordinates(lines)).query(hh.xy, distance_upper_bound=distance_m)
        within = np.isfinite(vertex)
        rest = np.flatnonzero(~within)
        if len(rest):
            idx = shapely.STRtree(lines).query_nearest(
                shapely.points(hh.xy[rest]), max_distance=distance_m, all_matches=False
            )
            within[rest[np.unique(idx[0])]] = True
    return within


def facilities(conn: Connection) -> dict[str, dict[str, dict[str, int]]]:
    """Rule 4: per village and kind, facilities built and those meeting the standard."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for r in conn.execute(text(sql_text("facilities.sql")), {"built": BUILT}):
        out.setdefault(r.village_code, {})[r.kind] = {"count": int(r.n), "standard": int(r.standard)}
    return out


def farmland(conn: Connection) -> dict[str, dict[str, dict[str, float]]]:
    """Rule 5: per village and slope grade, area in mu and the part converted to forest or grass."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in conn.execute(text(sql_text("farmland.sql"))):
        out.setdefault(r.village_code, {})[r.slope_grade or "unknown"] = {
            "mu": round(float(r.mu), 2),
            "converted_mu": round(float(r.converted_mu or 0), 2),
        }
    return out


def _attach(net: Network, tree: shapely.STRtree, xy: np.ndarray, reach_m: float) -> pd.DataFrame:
    """Each point's nearest edge within ``reach_m``: the straight leg and the distance along the edge."""
    if not len(xy) or not len(net.u):
        return pd.DataFrame({"point": [], "edge": [], "leg": [], "along": []})
    points = shapely.points(xy)
    (idx, edge), leg = tree.query_nearest(points, max_distance=reach_m, return_distance=True, all_matches=False)
    along = shapely.line_locate_point(net.geom[edge], points[idx])
    return pd.DataFrame({"point": idx, "edge": edge, "leg": leg, "along": along})


def water_by_network(
    net: Network, hh_xy: np.ndarray, point_xy: np.ndarray, distance_m: float, reach_m: float
) -> np.ndarray:
    """Rule 2 by network: each household's walking distance to the nearest water point along the
    roads and paths (inf where either lies more than ``reach_m`` from every road, or none is within
    ``distance_m``). The straight legs to the nearest point of the nearest road count; both ends
    join the network on their edge, not at its nearest node."""
    far = np.full(len(hh_xy), np.inf)
    if not len(net.u) or not len(point_xy) or not len(hh_xy):
        return far
    tree = shapely.STRtree(net.geom)
    wp = _attach(net, tree, point_xy, reach_m)
    hh = _attach(net, tree, hh_xy, reach_m)
    if wp.empty or hh.empty:
        return far
    n = net.n_nodes
    source = n  # one extra node joined to both ends of every water point's edge
    length = net.length
    wu, wv = net.u[wp.edge], net.v[wp.edge]
    rows = np.concatenate([net.u, net.v, np.full(len(wp), source), np.full(len(wp), source)])
    cols = np.concatenate([net.v, net.u, wu, wv])
    cost = np.concatenate([length, length, wp.leg + wp.along, wp.leg + length[wp.edge] - wp.along])
    # parallel edges and shared ends: keep the cheapest of each pair of nodes
    keep = pd.DataFrame({"r": rows, "c": cols, "w": cost}).groupby(["r", "c"], as_index=False)["w"].min()
    graph = csr_matrix((keep.w.to_numpy() + 1e-9, (keep.r.to_numpy(), keep.c.to_numpy())), shape=(n + 1, n + 1))
    dist = dijkstra(graph, indices=source, limit=distance_m + reach_m)
    e = hh.edge.to_numpy()
    via = np.minimum(dist[net.u[e]] + hh.along.to_numpy(), dist[net.v[e]] + length[e] - hh.along.to_numpy())
    best = hh.leg.to_numpy() + via
    # a household and a water point on the same edge: straight along it
    same = hh.merge(wp, on="edge", suffixes=("", "_w"))
    if not same.empty:
        direct = same.leg + same.leg_w + (same.along - same.along_w).abs()
        shortest = direct.groupby(same.point).min()
        pos = pd.Series(np.arange(len(hh)), index=hh.point.to_numpy())
        at = pos.loc[shortest.index].to_numpy()
        best[at] = np.minimum(best[at], shortest.to_numpy())
    far[hh.point.to_numpy()] = best
    return far
