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


def end_points(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first and last coordinates (x, y) of each line, read from one coordinate array (a
    quarter of the time of ``shapely.get_point``, which builds a geometry per end)."""
    coords = shapely.get_coordinates(lines)
    last = np.cumsum(shapely.get_num_coordinates(lines)) - 1
    first = np.r_[0, last[:-1] + 1] if len(last) else last
    return coords[first], coords[last]


def _split_points(rows: RoadRows, tol: float) -> dict[int, list[float]]:
    """Distances along each line where it must be cut: crossings and T-junctions."""
    cuts: dict[int, list[float]] = {}
    lines = rows.lines
    tree = shapely.STRtree(lines)
    # Crossings without a shared vertex, unless a bridge/tunnel is involved: bounding-box
    # candidates first, then the exact test (a pre-filter on shared end points excluded almost
    # nothing at county scale and cost more than the test itself).
    a, b = tree.query(lines)
    pair = (a < b) & ~rows.crossing_free[a] & ~rows.crossing_free[b]
    a, b = a[pair], b[pair]
    keep = shapely.crosses(lines[a], lines[b])
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
    ends = shapely.points(np.vstack(end_points(lines)))
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


def _cut_all(lines: np.ndarray, cuts: dict[int, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Every line cut at its distances, vectorised; returns the pieces and the line of each."""
    whole = np.array([i for i in range(len(lines)) if i not in cuts], dtype=int)
    idx = np.array(sorted(cuts), dtype=int)
    if len(idx) == 0:
        return lines, np.arange(len(lines))
    coords, owner = shapely.get_coordinates(lines[idx], return_index=True)
    seg = np.r_[0.0, np.hypot(*np.diff(coords, axis=0).T)]
    first = np.r_[True, owner[1:] != owner[:-1]]
    seg[first] = 0.0
    cum = np.cumsum(seg)
    cum -= np.repeat(cum[first], np.bincount(owner))  # restart at each line
    start_of = np.flatnonzero(first)
    end_of = np.r_[start_of[1:] - 1, len(cum) - 1]
    length = cum[end_of]  # the same arithmetic as the vertices' positions, so the line's end matches
    # Piece boundaries, all lines at once: 0, the cuts inside the line (to the micrometre), the length,
    # sorted along each line; consecutive boundaries of a line more than a micrometre apart are a piece.
    m = len(idx)
    cut_k = np.repeat(np.arange(m), [len(cuts[int(i)]) for i in idx])
    cut_at = np.round(np.concatenate([np.asarray(cuts[int(i)], dtype=float) for i in idx]), 6)
    inside = (cut_at > 1e-6) & (cut_at < length[cut_k] - 1e-6)
    all_k = np.r_[np.arange(m), cut_k[inside], np.arange(m)]
    all_at = np.r_[np.zeros(m), cut_at[inside], length]
    order = np.lexsort((all_at, all_k))
    all_k, all_at = all_k[order], all_at[order]
    keep = (all_k[:-1] == all_k[1:]) & (np.diff(all_at) > 1e-6)
    line_k, start, end = all_k[:-1][keep], all_at[:-1][keep], all_at[1:][keep]
    # Globally sorted keys, line by line, then along the line in whole micrometres: exact integer
    # comparisons, so a line is cut the same whatever other lines are cut with it.
    um = 1_000_000.0

    def key(line: np.ndarray, along: np.ndarray) -> np.ndarray:
        return (line.astype(np.int64) << 41) + np.round(along * um).astype(np.int64)

    coord_key = key(owner, cum)
    lo = np.searchsorted(coord_key, key(line_k, start), side="right")
    hi = np.searchsorted(coord_key, key(line_k, end), side="left")
    a = shapely.get_coordinates(shapely.line_interpolate_point(lines[idx[line_k]], start))
    b = shapely.get_coordinates(shapely.line_interpolate_point(lines[idx[line_k]], end))
    # a line's own ends stay exactly where they are
    a[start == 0.0] = coords[start_of[line_k[start == 0.0]]]
    at_end = end == length[line_k]
    b[at_end] = coords[end_of[line_k[at_end]]]
    inner = np.maximum(hi - lo, 0)
    count = inner + 2
    piece = np.repeat(np.arange(len(line_k)), count)
    pos = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    out = np.empty((count.sum(), 2))
    is_a, is_b = pos == 0, pos == count[piece] - 1
    out[is_a] = a
    out[is_b] = b
    mid = ~(is_a | is_b)
    out[mid] = coords[(lo[piece] + pos - 1)[mid]]
    pieces = shapely.linestrings(out, indices=piece)
    return np.concatenate([lines[whole], pieces]), np.concatenate([whole, idx[line_k]])


def cut_roads(rows: RoadRows, tol: float = 5.0) -> tuple[np.ndarray, np.ndarray, dict[int, list[float]]]:
    """The pieces of every line cut at crossings and T-junctions, in road order (a road's pieces
    together, as they run), the line of each piece, and the cuts per line."""
    cuts = _split_points(rows, tol)
    geom, source = _cut_all(rows.lines, cuts)
    order = np.argsort(rows.road_id[source], kind="stable")
    return geom[order], source[order], cuts


def node_pieces(
    geom: np.ndarray, road: np.ndarray, usable: np.ndarray, tol: float = 5.0, split_pieces: int = 0
) -> Network:
    """The network of road pieces: ends within ``tol`` of each other are one node."""
    pts = np.vstack(end_points(geom)) if len(geom) else np.zeros((0, 2))
    # Ends within tol of each other are one node (union of close pairs).
    pairs = cKDTree(pts).query_pairs(tol, output_type="ndarray") if len(pts) else np.zeros((0, 2), dtype=int)
    n = len(pts)
    graph = (
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        if len(pairs)
        else coo_matrix((n, n))
    )
    n_nodes, label = connected_components(graph, directed=False)
    node_xy = np.zeros((n_nodes, 2))
    np.add.at(node_xy, label, pts)
    node_xy /= np.maximum(np.bincount(label, minlength=n_nodes), 1)[:, None]
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
        {"split_pieces": split_pieces, "snapped_ends": snapped},
    )


def build_network(rows: RoadRows, tol: float = 5.0) -> Network:
    """Node the roads and return the network (see the module docstring)."""
    geom, source, cuts = cut_roads(rows, tol)
    split = int(sum(len(c) for c in cuts.values()))
    return node_pieces(geom, rows.road_id[source], rows.usable[source], tol, split)
