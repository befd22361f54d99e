"""What engineers should fix in the road network: ends that stop short, dangling spurs, isolated pieces.

Read from the same network rule 1 routes on (ends within the snap tolerance already joined):

- **Near misses**: a road end joined to nothing that lies more than the snap tolerance and at most
  ``topology_gap_m`` (50 m) from another road it does not already reach nearby along the network
  (within four times that distance): most likely a junction the survey missed.
- **Dangling spurs**: a piece with a free end, hanging off a junction of three or more roads,
  no longer than ``topology_gap_m``: most likely an overshoot past the junction.
- **Isolated pieces**: connected parts of the network that no village or township seat joins
  (within the access distance): roads that lead nowhere the rules can use.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import Connection, text

from fupin_gis.coverage.netcache import cached_network
from fupin_gis.coverage.network import Network, build_network
from fupin_gis.coverage.road_access import Seat
from fupin_gis.coverage.roads import load_roads, reproject
from fupin_gis.coverage.run import load_seats, metric_srid
from fupin_gis.settings import CoverageSettings

DETOUR = 4.0  # a near miss is not reached within this many times the gap along the network


@dataclass
class Topology:
    """The findings, each a list of rows with a metric geometry (``geom``) and the roads involved."""

    srid: int
    near_misses: list[dict[str, Any]] = field(default_factory=list)
    spurs: list[dict[str, Any]] = field(default_factory=list)
    isolated: list[dict[str, Any]] = field(default_factory=list)
    network: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts and lengths, for the command line and the API."""
        return {
            "near_misses": len(self.near_misses),
            "spurs": len(self.spurs),
            "isolated_pieces": len(self.isolated),
            "isolated_length_m": round(sum(p["length_m"] for p in self.isolated), 1),
            "network": self.network,
        }


def _adjacency(net: Network) -> list[list[tuple[int, int, float]]]:
    adj: list[list[tuple[int, int, float]]] = [[] for _ in range(net.n_nodes)]
    for e, (a, b, w) in enumerate(zip(net.u.tolist(), net.v.tolist(), net.length.tolist(), strict=True)):
        adj[a].append((b, e, w))
        adj[b].append((a, e, w))
    return adj


def _near(adj: list[list[tuple[int, int, float]]], start: int, limit: float) -> set[int]:
    """The edges reached from ``start`` within ``limit`` metres along the network."""
    seen: dict[int, float] = {start: 0.0}
    edges: set[int] = set()
    heap = [(0.0, start)]
    while heap:
        d, node = heapq.heappop(heap)
        if d > seen.get(node, np.inf):
            continue
        for other, e, w in adj[node]:
            edges.add(e)
            nd = d + w
            if nd <= limit and nd < seen.get(other, np.inf):
                seen[other] = nd
                heapq.heappush(heap, (nd, other))
    return edges


def find_problems(net: Network, seats: list[Seat], settings: CoverageSettings, srid: int) -> Topology:
    """The near misses, dangling spurs and isolated pieces of ``net`` (see the module docstring)."""
    out = Topology(srid, network={"edges": int(len(net.u)), "nodes": int(net.n_nodes), **net.fixes})
    if not len(net.u):
        return out
    gap, tol = settings.topology_gap_m, settings.snap_tolerance_m
    loops = net.u == net.v
    degree = np.bincount(net.u[~loops], minlength=net.n_nodes) + np.bincount(net.v[~loops], minlength=net.n_nodes)
    free = np.flatnonzero(degree == 1)
    tree = shapely.STRtree(net.geom)
    adj = _adjacency(net)
    # near misses: free ends near a road they do not reach nearby
    ends = shapely.points(net.node_xy[free])
    e_idx, g_idx = tree.query(ends, predicate="dwithin", distance=gap)
    dist = shapely.distance(ends[e_idx], net.geom[g_idx])
    ok = dist > tol
    e_idx, g_idx, dist = e_idx[ok], g_idx[ok], dist[ok]
    order = np.lexsort((dist, e_idx))
    done: set[int] = set()
    for k in order:
        end = int(e_idx[k])
        if end in done:
            continue
        node, edge = int(free[end]), int(g_idx[k])
        if edge in _near(adj, node, DETOUR * gap):
            continue
        done.add(end)
        mine = next(e for _, e, _ in adj[node])
        target = shapely.shortest_line(ends[end], net.geom[edge])
        out.near_misses.append(
            {
                "road_id": int(net.road_id[mine]),
                "other_road_id": int(net.road_id[edge]),
                "gap_m": round(float(dist[k]), 1),
                "geom": target,
            }
        )
    # dangling spurs: short pieces from a free end to a junction of three or more
    for node in free.tolist():
        other, e, w = adj[node][0]
        if w <= gap and degree[other] >= 3:
            out.spurs.append({"road_id": int(net.road_id[e]), "length_m": round(float(w), 1), "geom": net.geom[e]})
    # isolated pieces: components of the whole network no seat joins
    n = net.n_nodes
    graph = coo_matrix((np.ones(len(net.u)), (net.u, net.v)), shape=(n, n))
    n_comp, label = connected_components(graph, directed=False)
    edge_comp = label[net.u]
    served = np.zeros(n_comp, dtype=bool)
    if seats:
        points = shapely.points(np.array([s.xy for s in seats]))
        _, edge = tree.query_nearest(points, max_distance=settings.access_distance_m, all_matches=False)
        served[edge_comp[edge]] = True
    lonely = np.flatnonzero(~served[edge_comp])
    if len(lonely):
        comps = edge_comp[lonely]
        for c in np.unique(comps).tolist():
            members = lonely[comps == c]
            out.isolated.append(
                {
                    "component": int(c),
                    "roads": sorted({int(r) for r in net.road_id[members]}),
                    "length_m": round(float(net.length[members].sum()), 1),
                    "geom": shapely.multilinestrings(list(net.geom[members])),
                }
            )
        out.isolated.sort(key=lambda p: -p["length_m"])
    return out


def topology(conn: Connection, settings: CoverageSettings, cached: bool = False) -> Topology:
    """The topology findings of the roads layer as it is now (``cached``: on the network cache, brought
    up to date in ``conn``'s transaction; otherwise built from the roads ``conn`` may see)."""
    srid = metric_srid(conn, settings)
    if cached:
        net = cached_network(conn, srid, settings)[0]
    else:
        net = build_network(load_roads(conn, srid, settings), settings.snap_tolerance_m)
    villages, townships, _ = load_seats(conn, srid)
    return find_problems(net, villages + townships, settings, srid)


def with_codes(conn: Connection, found: Topology, stored_srid: int) -> dict[str, Any]:
    """The findings as JSON: road codes (the roads layer's key) beside ids, geometry as WKT and GeoJSON
    in the storage CRS (``stored_srid``, the catalog's: lon/lat)."""
    ids = {p[k] for p in found.near_misses for k in ("road_id", "other_road_id")} | {p["road_id"] for p in found.spurs}
    ids |= {r for p in found.isolated for r in p["roads"]}
    codes: dict[int, str] = dict(
        conn.execute(text("SELECT id, code FROM roads WHERE id = ANY(:ids)"), {"ids": list(ids)}).all()
    )

    def shaped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        lonlat = reproject(np.array([row["geom"] for row in rows], dtype=object), found.srid, stored_srid)
        for row, geom in zip(rows, lonlat, strict=True):
            item = {k: v for k, v in row.items() if k != "geom"}
            for key in ("road_id", "other_road_id"):
                if key in item:
                    item[key.replace("_id", "_code")] = codes.get(item[key])
            if "roads" in item:
                item["road_codes"] = [codes.get(r) for r in item["roads"]]
            # where to look: a near miss's free end, a point on a spur or an isolated piece
            at = (
                shapely.get_point(geom, 0)
                if "gap_m" in row
                else shapely.line_interpolate_point(geom, 0.5, normalized=True)
            )
            item["at"] = [round(shapely.get_x(at), 6), round(shapely.get_y(at), 6)]
            item["wkt"] = shapely.to_wkt(geom, rounding_precision=7)
            item["geometry"] = json.loads(shapely.to_geojson(shapely.set_precision(geom, 1e-7)))
            out.append(item)
        return out

    return {
        "srid": stored_srid,
        "summary": found.summary(),
        "near_misses": shaped(found.near_misses),
        "spurs": shaped(found.spurs),
        "isolated": shaped(found.isolated),
    }


def write_gpkg(result: dict[str, Any], path: Path) -> Path:
    """The findings as a GeoPackage in CGCS2000 lon/lat: layers near_misses (the gap as a line),
    spurs and isolated (the roads), each with the road codes, for engineers to open in QGIS."""
    import geopandas as gpd

    path.unlink(missing_ok=True)
    for layer in ("near_misses", "spurs", "isolated"):
        rows = result[layer]
        frame = gpd.GeoDataFrame(
            [
                {
                    k: (", ".join(map(str, v)) if isinstance(v, list) else v)
                    for k, v in r.items()
                    if k not in ("wkt", "geometry")
                }
                for r in rows
            ]
            or None,
            geometry=gpd.GeoSeries.from_wkt([r["wkt"] for r in rows], crs=result["srid"]),
        )
        frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    return path
