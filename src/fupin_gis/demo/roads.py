"""Synthetic road network with the faults real survey data has.

County roads join township seats; village roads (村道) form a tree per township rooted at the
township seat; group roads (社道) join each group to its village seat. Roads are cut into survey
segments. Designed faults, recorded in ``truth`` for the coverage tests: gravel gaps and narrow
or unfinished pieces on village roads, ends that stop short of a junction (within and beyond the
snap tolerance), bridges that cross roads without a junction, dangling spurs, and village seats
far from any road.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

from fupin_gis.demo.world import Layer, World

FAR_SEAT_M = 620.0


def _delaunay_edges(xy: np.ndarray) -> np.ndarray:
    if len(xy) < 3:
        return np.array([[0, 1]]) if len(xy) == 2 else np.empty((0, 2), dtype=int)
    tri = Delaunay(xy).simplices
    edges = np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
    return np.unique(np.sort(edges, axis=1), axis=0)


def _mst(n: int, edges: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Edges (rows of ``edges``) of a minimum spanning forest."""
    if len(edges) == 0:
        return np.empty((0, 2), dtype=int)
    m = minimum_spanning_tree(coo_matrix((weight, (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr())
    out = np.column_stack(m.nonzero())
    return np.sort(out, axis=1)


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def village_tree(world: World) -> np.ndarray:
    """Village-road edges: a spanning tree per township, joined to a neighbour where needed."""
    xy, town = world.village_xy, world.village_township
    edges = _delaunay_edges(xy)
    length = np.hypot(*(xy[edges[:, 0]] - xy[edges[:, 1]]).T)
    same = town[edges[:, 0]] == town[edges[:, 1]]
    tree = _mst(len(xy), edges[same], length[same])
    parent = np.arange(len(xy))
    for a, b in tree:
        parent[_find(parent, a)] = _find(parent, b)
    has_seat = np.zeros(len(xy), dtype=bool)
    for s in world.township_seat:
        has_seat[_find(parent, s)] = True
    extra = []
    order = np.argsort(length)
    while True:
        roots = np.array([_find(parent, i) for i in range(len(xy))])
        orphan = ~has_seat[roots]
        if not orphan.any():
            break
        # The shortest Delaunay edge leaving an orphan component joins it to its neighbour.
        for k in order:
            a, b = edges[k]
            ra, rb = roots[a], roots[b]
            if ra != rb and (orphan[a] or orphan[b]):
                parent[ra] = rb if orphan[a] else ra
                parent[rb] = parent[rb] if orphan[a] else ra
                has_seat[_find(parent, a)] = True
                extra.append((a, b))
                break
    return np.vstack([tree, np.array(extra, dtype=int).reshape(-1, 2)])


def county_edges(world: World, rng: np.random.Generator) -> np.ndarray:
    """County roads between township seats: a spanning tree plus a few loops."""
    xy = world.township_xy
    edges = _delaunay_edges(xy)
    if len(edges) == 0:
        return edges
    length = np.hypot(*(xy[edges[:, 0]] - xy[edges[:, 1]]).T)
    tree = _mst(len(xy), edges, length)
    in_tree = {tuple(e) for e in tree}
    rest = [k for k in np.argsort(length) if tuple(edges[k]) not in in_tree]
    loops = edges[rest[: max(1, len(xy) // 5)]] if rest else np.empty((0, 2), dtype=int)
    return np.vstack([tree, loops])


def polylines(
    start: np.ndarray, end: np.ndarray, seg_len: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wiggly roads from ``start`` to ``end`` cut into pieces of about ``seg_len`` metres.

    Returns the pieces (LineStrings), the road each piece belongs to, and its rank on the road.
    Piece ends are shared exactly, and each road's first and last vertex are ``start`` and ``end``.
    """
    n = len(start)
    vec = end - start
    length = np.hypot(vec[:, 0], vec[:, 1])
    pieces = np.maximum(1, np.rint(length / seg_len)).astype(int)
    npts = 3 * pieces + 1
    road = np.repeat(np.arange(n), npts)
    first = np.r_[0, np.cumsum(npts)[:-1]]
    t = (np.arange(road.size) - first[road]) / (npts[road] - 1)
    amp = np.minimum(0.07 * length, 300.0) * rng.uniform(-1, 1, n)
    freq = rng.integers(1, 3, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    offset = amp[road] * np.sin(np.pi * t) * np.sin(np.pi * freq[road] * t + phase[road] * (freq[road] > 1))
    normal = np.column_stack([-vec[:, 1], vec[:, 0]]) / np.maximum(length, 1e-9)[:, None]
    pts = start[road] + vec[road] * t[:, None] + normal[road] * offset[:, None]
    piece_road = np.repeat(np.arange(n), pieces)
    piece_rank = np.arange(piece_road.size) - np.r_[0, np.cumsum(pieces)[:-1]][piece_road]
    idx = (first[piece_road] + 3 * piece_rank)[:, None] + np.arange(4)
    lines = shapely.linestrings(pts[idx.ravel()], indices=np.repeat(np.arange(piece_road.size), 4))
    return lines, piece_road, piece_rank


def _pull_back(line: shapely.LineString, at_end: bool, dist: float) -> shapely.LineString:
    """``line`` with its last (or first) vertex moved ``dist`` metres back along the line."""
    c = shapely.get_coordinates(line)
    i, j = (-1, -2) if at_end else (0, 1)
    d = c[j] - c[i]
    c[i] = c[i] + d / np.hypot(*d) * dist
    return shapely.LineString(c)


def build_roads(world: World, rng: np.random.Generator) -> tuple[Layer, dict]:
    """The roads layer and the faults designed into it."""
    sc = world.scale
    vxy, codes = world.village_xy, world.codes["villages"]
    tree = village_tree(world)
    cty = county_edges(world, rng)
    non_seat = np.flatnonzero(np.hypot(*(world.group_xy - vxy[world.group_village]).T) > 1.0)

    # Orient each village road from its parent side (towards the township seat) to the child.
    depth_first = _orient(tree, world)
    kinds = np.array(["county"] * len(cty) + ["village"] * len(depth_first) + ["group"] * len(non_seat))
    start = np.vstack([world.township_xy[cty[:, 0]], vxy[depth_first[:, 0]], vxy[world.group_village[non_seat]]])
    end = np.vstack([world.township_xy[cty[:, 1]], vxy[depth_first[:, 1]], world.group_xy[non_seat]])
    owner = np.r_[world.township_seat[cty[:, 1]], depth_first[:, 1], world.group_village[non_seat]]
    n_cty, n_vil = len(cty), len(depth_first)
    truth: dict = {}

    # A few remote leaf villages: their road stops 620 m short and they have no group roads.
    far = _remote_leaves(world, depth_first, start, end, owner, rng)
    for v in far:
        k = n_cty + int(np.flatnonzero(depth_first[:, 1] == v)[0])
        d = start[k] - end[k]
        end[k] = end[k] + d / np.hypot(*d) * FAR_SEAT_M
    keep = ~np.isin(np.arange(len(kinds)), n_cty + n_vil + np.flatnonzero(np.isin(world.group_village[non_seat], far)))
    kinds, start, end, owner = kinds[keep], start[keep], end[keep], owner[keep]

    length = np.hypot(*(end - start).T)
    seg_len = 300.0 if sc.name == "plan" else max(60.0, length.sum() / (sc.road_segments * 0.97))
    lines, piece_road, rank = polylines(start, end, seg_len, rng)
    n_road = len(kinds)
    pieces_per_road = np.bincount(piece_road, minlength=n_road)

    # Road attributes, then piece attributes.
    r_surface = np.where(kinds == "county", "hardened", np.where(kinds == "village", "hardened", ""))
    g = kinds == "group"
    r_surface[g] = rng.choice(["hardened", "gravel", "earth"], g.sum(), p=[0.35, 0.4, 0.25])
    village_roads = np.flatnonzero(kinds == "village")
    whole_gravel = rng.choice(village_roads, int(0.06 * len(village_roads)), replace=False)
    r_surface[whole_gravel] = "gravel"
    r_width = np.select(
        [kinds == "county", kinds == "village"],
        [rng.uniform(6.5, 7.5, n_road), rng.uniform(4.0, 5.5, n_road)],
        rng.uniform(3.0, 4.0, n_road),
    ).round(1)
    r_status = np.where(rng.random(n_road) < 0.2, "completed", "existing")
    r_status[kinds == "county"] = "existing"
    r_year = np.where(r_status == "completed", rng.integers(2009, 2012, n_road), 0)
    r_built = np.where(r_status == "completed", r_year, rng.integers(1985, 2009, n_road))

    surface = r_surface[piece_road].astype(object)
    width = r_width[piece_road].astype(float)
    status = r_status[piece_road].astype(object)
    structure = np.full(len(lines), None, dtype=object)

    # Designed faults on hardened village roads, one middle piece each, on distinct roads.
    candidates = np.setdiff1d(village_roads, whole_gravel)
    candidates = candidates[pieces_per_road[candidates] >= 3]
    pool = rng.permutation(candidates)
    counts = {"gravel_gaps": 0.08, "narrow": 0.03, "unfinished": 0.02}
    first_piece = np.r_[0, np.cumsum(pieces_per_road)[:-1]]
    used = 0
    for fault, share in counts.items():
        take = pool[used : used + max(1, int(share * len(village_roads)))]
        used += len(take)
        mid = first_piece[take] + pieces_per_road[take] // 2
        if fault == "gravel_gaps":
            surface[mid] = "gravel"
        elif fault == "narrow":
            width[mid] = 3.0
        else:
            status[mid] = "under_construction"
        truth[fault] = mid.tolist()
    truth["whole_gravel_roads"] = whole_gravel.tolist()

    # Ends that stop short of the junction at the village seat.
    last_piece = first_piece + pieces_per_road - 1
    groups = rng.permutation(np.flatnonzero(kinds == "group"))
    n_short = max(2, len(groups) // 20)
    for label, roads_, lo, hi in (
        ("short_ends_within", groups[:n_short], 1.5, 4.0),
        ("short_ends_beyond", groups[n_short : n_short + max(2, len(groups) // 30)], 8.0, 40.0),
        ("short_village_ends", pool[used : used + max(1, len(village_roads) // 25)], 1.5, 3.5),
    ):
        picked = first_piece[roads_] if label != "short_village_ends" else last_piece[roads_]
        at_end = label == "short_village_ends"
        for p in picked:
            lines[p] = _pull_back(lines[p], at_end, float(rng.uniform(lo, hi)))
        truth[label] = picked.tolist()

    # Bridges: county pieces crossing another road without a junction.
    is_cty = kinds[piece_road] == "county"
    tree_idx = shapely.STRtree(lines[~is_cty])
    q, _ = tree_idx.query(lines[is_cty], predicate="crosses")
    crossing = np.unique(np.flatnonzero(is_cty)[q])
    bridges = crossing[rng.random(len(crossing)) < 0.4]
    structure[bridges] = "bridge"
    truth["bridges"] = bridges.tolist()

    frame = pd.DataFrame(
        {
            "road_class": kinds[piece_road],
            "surface": surface,
            "width_m": width,
            "status": status,
            "structure": structure,
            "plan_year": pd.array(np.where(r_year[piece_road] > 0, r_year[piece_road], 0), dtype="Int64"),
            "year_built": pd.array(r_built[piece_road], dtype="Int64"),
            "village_code": [codes[o] for o in owner[piece_road]],
        }
    )
    frame.loc[frame["plan_year"] == 0, "plan_year"] = pd.NA
    frame.loc[frame["status"] == "under_construction", "year_built"] = pd.NA
    road_names = _road_names(world, kinds, owner, cty)
    frame["name"] = [road_names[r] for r in piece_road]
    frame["code"] = [f"R{r + 1:07d}-{k + 1:02d}" for r, k in zip(piece_road, rank, strict=True)]
    frame["asset_class"] = "public_welfare"
    frame["funding_source"] = np.where(frame["status"] == "completed", "poverty_fund", "sector")
    frame["owner"] = np.where(
        frame["road_class"] == "county", "县交通运输局", frame["village_code"].map(lambda c: f"{c} 村集体经济组织")
    )
    frame["maintainer"] = np.where(frame["road_class"] == "county", "县公路管理段", "村民委员会")

    spurs, spur_frame = _spurs(lines, frame, kinds[piece_road], rng)
    truth["spurs"] = list(range(len(lines), len(lines) + len(spurs)))
    lines = np.concatenate([lines, spurs])
    frame = pd.concat([frame, spur_frame], ignore_index=True)

    truth["far_villages"] = [codes[v] for v in far]
    return Layer(frame, lines), truth


def _remote_leaves(
    world: World, tree: np.ndarray, start: np.ndarray, end: np.ndarray, owner: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Leaf villages whose seat is surely more than 620 m from every road not their own.

    The bound is the distance to each other road's straight chord less that road's largest
    wiggle (7% of its length, at most 300 m), so it holds whatever the wiggles turn out to be.
    """
    leaves = np.setdiff1d(np.setdiff1d(tree[:, 1], tree[:, 0]), world.township_seat)
    chords = shapely.linestrings(np.stack([start, end], axis=1))
    slack = np.minimum(0.07 * np.hypot(*(end - start).T), 300.0) + 100.0  # + household paths
    index = shapely.STRtree(chords)
    wanted = max(1, world.scale.villages // 1000)
    chosen: list[int] = []
    best, best_score = int(leaves[0]), -np.inf
    for v in rng.permutation(leaves):
        seat = shapely.Point(world.village_xy[v])
        near = index.query(seat, predicate="dwithin", distance=FAR_SEAT_M + 400.0)
        near = near[owner[near] != v]
        score = (shapely.distance(chords[near], seat) - slack[near]).min() if len(near) else np.inf
        if score > FAR_SEAT_M:
            chosen.append(int(v))
            if len(chosen) == wanted:
                break
        elif score > best_score:
            best, best_score = int(v), score
    return np.array(chosen or [best], dtype=int)


def _orient(tree: np.ndarray, world: World) -> np.ndarray:
    """Tree edges as (parent, child) pairs, walking out from each township seat."""
    adj: dict[int, list[int]] = {}
    for a, b in tree:
        adj.setdefault(int(a), []).append(int(b))
        adj.setdefault(int(b), []).append(int(a))
    seen, out = set(), []
    for root in world.township_seat:
        stack = [int(root)]
        seen.add(int(root))
        while stack:
            u = stack.pop()
            for w in adj.get(u, []):
                if w not in seen:
                    seen.add(w)
                    out.append((u, w))
                    stack.append(w)
    return np.array(out, dtype=int).reshape(-1, 2)


def _road_names(world: World, kinds: np.ndarray, owner: np.ndarray, cty: np.ndarray) -> list[str]:
    t_names = world.names["townships"]
    v_names = world.names["villages"]
    out = []
    n_cty = 0
    for kind, o in zip(kinds, owner, strict=True):
        if kind == "county":
            a, b = cty[n_cty]
            out.append(f"X{101 + n_cty} {t_names[a]}—{t_names[b]}")
            n_cty += 1
        elif kind == "village":
            out.append(f"{v_names[o]}通村路")
        else:
            out.append(f"{v_names[o]}通社路")
    return out


def _spurs(
    lines: np.ndarray, frame: pd.DataFrame, kinds: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, pd.DataFrame]:
    """Dead-end tracks leaving group roads, some from a vertex inside a piece (a T without a node)."""
    groups = np.flatnonzero(kinds == "group")
    picked = rng.choice(groups, max(2, len(groups) // 25), replace=False)
    out = []
    for p in picked:
        c = shapely.get_coordinates(lines[p])
        at = c[1] if rng.random() < 0.5 else c[0]
        d = c[-1] - c[0]
        normal = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-9)
        length = rng.uniform(150, 400)
        out.append(
            shapely.LineString(
                [at, at + normal * length * 0.5 + d / max(np.hypot(*d), 1e-9) * 30, at + normal * length]
            )
        )
    spur_frame = frame.iloc[picked].copy().reset_index(drop=True)
    spur_frame["road_class"] = "household"
    spur_frame["surface"] = rng.choice(["earth", "gravel"], len(picked))
    spur_frame["width_m"] = rng.uniform(1.2, 2.5, len(picked)).round(1)
    spur_frame["structure"] = None
    spur_frame["code"] = [f"S{i + 1:06d}" for i in range(len(picked))]
    spur_frame["name"] = None
    return np.array(out, dtype=object), spur_frame
