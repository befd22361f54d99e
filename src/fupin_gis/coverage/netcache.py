"""The routable network, cached per road in the database and rebuilt only where roads changed.

Each road's pieces (its parts cut at crossings and T-junctions, in the metric CRS) are stored with
a fingerprint of what they were cut from (the geometry and the bridge/tunnel flag). A run compares
the fingerprints with the roads layer as it is: roads added, changed or deleted (by an import, an
edit, a rollback or anything else) are cut again, together with the unchanged roads that lie
within the snap tolerance of their old or new geometry, against every road near those; all other
pieces are read back as stored. Then the pieces are noded as in a full build. The result is the
network a full build makes (the tests compare them); a change of the metric CRS or the snap
tolerance, or a change to more than a fifth of the roads, rebuilds it whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import Connection, text

from fupin_gis.coverage.network import Network, RoadRows, cut_roads, node_pieces
from fupin_gis.coverage.roads import load_roads
from fupin_gis.coverage.rules import BUILT
from fupin_gis.settings import CoverageSettings

WHOLE = 0.2  # above this share of roads changed, rebuild whole
# what a road's pieces are cut from: its geometry and whether it is a bridge or tunnel
FP = (
    "md5(ST_AsBinary(r.geom) || CASE WHEN coalesce(r.structure IN ('bridge', 'tunnel'), false) "
    "THEN '\\x01'::bytea ELSE '\\x00'::bytea END)"
)
# every road: usable or not, and its cached pieces when they were cut from what it is now
CURRENT = (
    "SELECT r.id, r.surface = 'hardened' AND coalesce(r.width_m >= %(min_width)s, %(unknown_width_ok)s) "
    "AND r.status = ANY(%(built)s) AS usable, n.fp IS NOT DISTINCT FROM f.fp AS same, "
    "CASE WHEN n.fp IS NOT DISTINCT FROM f.fp THEN n.pieces END AS pieces, f.fp "
    f"FROM roads r CROSS JOIN LATERAL (SELECT {FP} AS fp) f LEFT JOIN network_roads n ON n.road_id = r.id "
    "WHERE r.geom IS NOT NULL ORDER BY r.id"
)


@dataclass
class CacheUse:
    """How a run came by its network."""

    mode: str  # "cached", "partial" or "whole"
    rebuilt_roads: int
    roads: int


def _store(
    conn: Connection,
    road_ids: np.ndarray,
    fps: dict[int, str],
    geom: np.ndarray,
    road: np.ndarray,
    cuts: dict[int, int],
) -> None:
    """Write the pieces of ``road_ids`` (rows of theirs must be gone): one MultiLineString a road, in order."""
    order = np.argsort(road, kind="stable")
    order = order[np.isin(road[order], road_ids)]
    if not len(order):
        return
    owners, group = np.unique(road[order], return_inverse=True)
    wkb = shapely.to_wkb(shapely.multilinestrings(geom[order], indices=group))
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy("COPY network_roads (road_id, fp, cuts, pieces) FROM STDIN") as copy:
        for rid, blob in zip(owners.tolist(), wkb, strict=True):
            copy.write_row((rid, fps[rid], cuts.get(rid, 0), blob))


def _cut_counts(rows: RoadRows, cuts: dict[int, list[float]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for line, dists in cuts.items():
        rid = int(rows.road_id[line])
        out[rid] = out.get(rid, 0) + len(dists)
    return out


def cached_network(conn: Connection, srid: int, settings: CoverageSettings) -> tuple[Network, CacheUse]:
    """The network of the roads layer as it is now, from the cache where roads did not change
    (and the cache brought up to date, in the caller's transaction)."""
    tol = settings.snap_tolerance_m
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('fupin_network_cache'))"))
    meta = conn.execute(text("SELECT srid, snap_tolerance_m FROM network_cache WHERE id = 1")).one_or_none()
    fresh = meta is not None and meta.srid == srid and meta.snap_tolerance_m == tol
    raw = conn.connection.driver_connection
    assert raw is not None
    params = {"min_width": settings.min_road_width_m, "unknown_width_ok": settings.unknown_width_ok, "built": BUILT}
    with raw.cursor(binary=True) as cur:  # 200,000 rows and more: the driver's tuples, not ORM rows
        cur.execute(CURRENT, params)
        current = cur.fetchall()
    ids = np.array([r[0] for r in current], dtype=np.int64)
    usable_now = np.array([bool(r[1]) for r in current], dtype=bool)
    same = np.array([bool(r[2]) for r in current], dtype=bool)
    changed = ids[~same]
    removed = np.array(
        conn.execute(
            text(
                "SELECT road_id FROM network_roads n WHERE NOT EXISTS "
                "(SELECT 1 FROM roads r WHERE r.id = n.road_id AND r.geom IS NOT NULL) ORDER BY road_id"
            )
        )
        .scalars()
        .all(),
        dtype=np.int64,
    )
    if not fresh or len(changed) + len(removed) > WHOLE * max(len(ids), 1):
        rows = load_roads(conn, srid, settings)
        geom, source, cuts = cut_roads(rows, tol)
        road = rows.road_id[source]
        conn.execute(text("DELETE FROM network_roads"))
        conn.execute(text("DELETE FROM network_cache"))
        conn.execute(
            text("INSERT INTO network_cache (id, srid, snap_tolerance_m) VALUES (1, :s, :t)"), {"s": srid, "t": tol}
        )
        _store(conn, ids, {int(r[0]): r[4] for r in current}, geom, road, _cut_counts(rows, cuts))
        use = CacheUse("whole", len(ids), len(ids))
    else:
        k_geom, k_owner = shapely.get_parts(shapely.from_wkb([r[3] for r in current if r[2]]), return_index=True)
        k_road = ids[same][k_owner]
        geom, road = k_geom, k_road
        use = CacheUse("cached", 0, len(ids))
        if len(changed) or len(removed):
            gone = [int(i) for i in np.r_[changed, removed]]
            old = conn.execute(text("SELECT pieces FROM network_roads WHERE road_id = ANY(:g)"), {"g": gone}).scalars()
            old_geom = shapely.get_parts(shapely.from_wkb([bytes(b) for b in old]))
            new = load_roads(conn, srid, settings, ids=[int(i) for i in changed])
            tree = shapely.STRtree(k_geom)
            # unchanged roads within the tolerance of a change (old or new): their cuts may change
            near = tree.query(np.r_[old_geom, new.lines], predicate="dwithin", distance=tol)[1]
            redo = np.union1d(changed, k_road[near])
            # every road near those: what they are cut against
            probe = np.r_[new.lines, k_geom[np.isin(k_road, redo)]]
            context = np.union1d(redo, k_road[tree.query(probe, predicate="dwithin", distance=tol)[1]])
            rows = load_roads(conn, srid, settings, ids=[int(i) for i in context])
            cut_geom, source, cuts = cut_roads(rows, tol)
            mine = np.isin(rows.road_id[source], redo)
            cut_geom, cut_road = cut_geom[mine], rows.road_id[source][mine]
            wanted = set(redo.tolist())
            counts = {r: n for r, n in _cut_counts(rows, cuts).items() if r in wanted}
            conn.execute(text("DELETE FROM network_roads WHERE road_id = ANY(:g)"), {"g": [*gone, *redo.tolist()]})
            at = np.searchsorted(ids, redo)
            _store(conn, redo, {int(current[k][0]): current[k][4] for k in at.tolist()}, cut_geom, cut_road, counts)
            keep = ~np.isin(k_road, redo)
            geom = np.r_[k_geom[keep], cut_geom]
            road = np.r_[k_road[keep], cut_road]
            order = np.argsort(road, kind="stable")
            geom, road = geom[order], road[order]
            conn.execute(text("UPDATE network_cache SET built_at = now() WHERE id = 1"))
            use = CacheUse("partial", len(redo), len(ids))
    split = int(conn.execute(text("SELECT coalesce(sum(cuts), 0) FROM network_roads")).scalar_one())
    usable = usable_now[np.searchsorted(ids, road)]
    return node_pieces(geom, road, usable, tol, split), use
