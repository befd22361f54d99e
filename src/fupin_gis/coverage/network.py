"""A routable road network built from the roads layer.

Nodes are where road ends meet, with ends closer than the snap tolerance joined; an end that
stops within the tolerance of another road's side joins it there (a T-junction the survey did
not split); roads that cross are split at the crossing unless one is a bridge or tunnel. Every
edge keeps the road it came from and whether it counts for access (hardened, wide enough,
built). Work is done in a metric CRS; lengths are metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


@dataclass
class RoadRows:
    """The roads to build from: ids, metric LineStrings (one part each), and usability."""

    road_id: np.ndarray
    lines: np.ndarray
    usable: np.ndarray
    crossing_free: np.ndarray  # bridge or tunnel: crosses others without a junction


@dataclass
class Network:
    """Edges between numbered nodes, with the road and geometry of each."""

    node_xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    usable: np.ndarray
    road_id: np.ndarray
    geom: np.ndarray
    fixes: dict[str, int]

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_xy)


def _split_points(rows: RoadRows, tol: float) -> dict[int, list[float]]:
    """Distances along each line where it must be cut: crossings and T-junctions."""
    cuts: dict[int, list[float]] = {}
    lines = rows.lines
    tree = shapely.STRtree(lines)
    # Crossings without a shared vertex, unless a bridge/tunnel is involved.
    a, b = tree.query(lines, predicate="crosses")
    keep = (a < b) & ~rows.crossing_free[a] & ~rows.crossing_free[b]
    ia, ib = a[keep], b[keep]
    if len(ia):
        crossing = shapely.intersection(lines[ia], lines[ib])
        parts, owner = shapely.get_parts(crossing, return_index=True)
        is_point = shapely.get_type_id(parts) == 0
        parts, owner = parts[is_point], owner[is_point]
        for side in (ia, ib):
            d = shapely.line_locate_point(lines[side[owner]], parts)
            for line, dist in zip(side[owner], d, strict=True):
                cuts.setdefault(int(line), []).append(float(dist))
    # Ends that stop on (or within tol of) another road's side.
    ends = np.concatenate([shapely.get_point(lines, 0), shapely.get_point(lines, -1)])
    owner = np.concatenate([np.arange(len(lines)), np.arange(len(lines))])
    e_idx, l_idx = tree.query(ends, predicate="dwithin", distance=tol)
    other = (owner[e_idx] != l_idx) & ~rows.crossing_free[l_idx]
    e_idx, l_idx = e_idx[other], l_idx[other]
    d = shapely.line_locate_point(lines[l_idx], ends[e_idx])
    length = shapely.length(lines[l_idx])
    inside = (d > tol) & (d < length - tol)  # near an end it is an ordinary junction, snapped below
    for line, dist in zip(l_idx[inside], d[inside], strict=True):
        cuts.setdefault(int(line), []).append(float(dist))
    return cuts


def _cut(line: shapely.LineString, at: list[float]) -> list[shapely.LineString]:
    coords = shapely.get_coordinates(line)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    cum = np.r_[0.0, np.cumsum(seg)]
    pieces, start = [], 0.0
    for d in [*sorted(set(round(x, 6) for x in at)), cum[-1]]:
        if d - start <= 1e-6:
            continue
        inner = coords[(cum > start) & (cum < d)]
        a = shapely.line_interpolate_point(line, start)
        b = shapely.line_interpolate_point(line, d)
        pts = np.vstack([shapely.get_coordinates(a), inner, shapely.get_coordinates(b)])
        pieces.append(shapely.LineString(pts))
        start = d
    return pieces


def build_network(rows: RoadRows, tol: float = 5.0) -> Network:
    """Node the roads and return the network (see the module docstring)."""
    cuts = _split_points(rows, tol)
    lines, road, usable = [], [], []
    for i, line in enumerate(rows.lines):
        parts = _cut(line, cuts[i]) if i in cuts else [line]
        lines.extend(parts)
        road.extend([rows.road_id[i]] * len(parts))
        usable.extend([rows.usable[i]] * len(parts))
    geom = np.array(lines, dtype=object)
    start = shapely.get_coordinates(shapely.get_point(geom, 0))
    end = shapely.get_coordinates(shapely.get_point(geom, -1))
    pts = np.vstack([start, end])
    # Ends within tol of each other are one node (union of close pairs).
    pairs = cKDTree(pts).query_pairs(tol, output_type="ndarray")
    n = len(pts)
    graph = (
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        if len(pairs)
        else coo_matrix((n, n))
    )
    n_nodes, label = connected_components(graph, directed=False)
    node_xy = np.zeros((n_nodes, 2))
    np.add.at(node_xy, label, pts)
    node_xy /= np.bincount(label, minlength=n_nodes)[:, None]
    m = len(geom)
    u, v = label[:m], label[m:]
    snapped = int(np.count_nonzero(np.hypot(*(pts - node_xy[label]).T) > 1e-6))
    return Network(
        node_xy,
        u,
        v,
        shapely.length(geom),
        np.asarray(usable, dtype=bool),
        np.asarray(road),
        geom,
        {"split_pieces": int(sum(len(c) for c in cuts.values())), "snapped_ends": snapped},
    )
