"""Rule 1 (村七有 ①): the village seat joined to the township seat by road a medium vehicle can use.

Each seat joins the network at the nearest point of the nearest road within the access distance.
Connected means a path of usable edges (hardened, wide enough, built) between the two access
points; its length is the network distance. Otherwise the gap is the least length of unusable
road on any path (usable roads cost nothing), with the roads to harden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra, minimum_spanning_tree

from fupin_gis.coverage.network import Network


@dataclass
class Seat:
    """A seat point (metric CRS) and, for villages, the township it belongs to."""

    code: str
    xy: tuple[float, float]
    township: str | None = None


@dataclass
class Access:
    """Rule 1 for one village."""

    code: str
    connected: bool
    network_distance_m: float | None
    gap_m: float | None
    gap_roads: list[int] = field(default_factory=list)
    gap_geometry: list[shapely.LineString] = field(default_factory=list)
    access_m: tuple[float | None, float | None] = (None, None)  # village leg, township leg
    reason: str = ""


def _attach(net: Network, seats: list[Seat], access_m: float) -> tuple[Network, list[int | None], list[float | None]]:
    """Add a node where each seat meets its nearest road (splitting that edge)."""
    tree = shapely.STRtree(net.geom)
    points = shapely.points(np.array([s.xy for s in seats]))
    (src, edge), dist = tree.query_nearest(points, max_distance=access_m, return_distance=True, all_matches=False)
    node_of: list[int | None] = [None] * len(seats)
    leg: list[float | None] = [None] * len(seats)
    by_edge: dict[int, list[tuple[float, int]]] = {}
    for s, e, d in zip(src, edge, dist, strict=True):
        along = float(shapely.line_locate_point(net.geom[e], points[s]))
        by_edge.setdefault(int(e), []).append((along, int(s)))
        leg[s] = float(d)
    node_xy = list(net.node_xy)
    u, v, length, usable, road, geom = (list(a) for a in (net.u, net.v, net.length, net.usable, net.road_id, net.geom))
    drop = set()
    for e, stops in by_edge.items():
        drop.add(e)
        line = net.geom[e]
        prev_node, prev_d = int(net.u[e]), 0.0
        for along, s in sorted(stops):
            if along <= 1e-6:
                node_of[s] = int(net.u[e])
                continue
            if along >= net.length[e] - 1e-6:
                node_of[s] = int(net.v[e])
                continue
            node = len(node_xy)
            node_xy.append(shapely.get_coordinates(shapely.line_interpolate_point(line, along))[0])
            node_of[s] = node
            u.append(prev_node)
            v.append(node)
            length.append(along - prev_d)
            usable.append(net.usable[e])
            road.append(net.road_id[e])
            geom.append(_substring(line, prev_d, along))
            prev_node, prev_d = node, along
        u.append(prev_node)
        v.append(int(net.v[e]))
        length.append(float(net.length[e]) - prev_d)
        usable.append(net.usable[e])
        road.append(net.road_id[e])
        geom.append(_substring(line, prev_d, float(net.length[e])))
    keep = [i for i in range(len(u)) if i not in drop]
    # typed arrays even when the network is empty (no roads): an empty list would index as float
    out = Network(
        np.array(node_xy, dtype=float).reshape(-1, 2),
        np.array(u, dtype=np.int64)[keep],
        np.array(v, dtype=np.int64)[keep],
        np.array(length, dtype=float)[keep],
        np.array(usable, dtype=bool)[keep],
        np.array(road, dtype=np.int64)[keep],
        np.array(geom, dtype=object)[keep],
        net.fixes,
    )
    return out, node_of, leg


def _substring(line: shapely.LineString, start: float, end: float) -> shapely.LineString:
    from shapely.ops import substring

    return substring(line, start, end)


def _graph(net: Network, weight: np.ndarray, mask: np.ndarray) -> tuple[csr_matrix, dict[tuple[int, int], int]]:
    """An undirected graph keeping, between two nodes, the cheapest edge only."""
    idx = np.flatnonzero(mask & (net.u != net.v))
    order = idx[np.argsort(weight[idx], kind="stable")]
    best: dict[tuple[int, int], int] = {}
    for e in order:
        a, b = int(net.u[e]), int(net.v[e])
        best.setdefault((min(a, b), max(a, b)), int(e))
    edges = np.array(list(best.values()), dtype=int)
    n = net.n_nodes
    if len(edges) == 0:
        return csr_matrix((n, n)), best
    rows = np.r_[net.u[edges], net.v[edges]]
    cols = np.r_[net.v[edges], net.u[edges]]
    data = np.r_[weight[edges], weight[edges]]
    return csr_matrix((data, (rows, cols)), shape=(n, n)), best


@dataclass
class Contracted:
    """The network with seats attached, and its usable components contracted."""

    net: Network
    v_node: list[int | None]
    t_node: dict[str, int | None]
    leg: list[float | None]
    t_leg: dict[str, float | None]
    comp: np.ndarray
    use_graph: csr_matrix
    gap_graph: csr_matrix
    best: dict[tuple[int, int], int]  # component pair -> the unusable edge joining them
    _nodes: shapely.STRtree | None = None

    def window(self, points: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """Nodes, and components with a node, inside the points' extent grown by ``margin``."""
        lo, hi = points.min(axis=0) - margin, points.max(axis=0) + margin
        if self._nodes is None:  # a tree of the nodes, built at the first window: a box query, not a scan
            self._nodes = shapely.STRtree(shapely.points(self.net.node_xy))
        inside = np.sort(self._nodes.query(shapely.box(lo[0], lo[1], hi[0], hi[1])))
        return inside, np.unique(self.comp[inside])


def contract(net: Network, villages: list[Seat], townships: list[Seat], access_m: float) -> Contracted:
    """Attach the seats, find the usable components and the graph of unusable roads between them."""
    net, node_of, leg = _attach(net, villages + townships, access_m)
    t_node = dict(zip((t.code for t in townships), node_of[len(villages) :], strict=True))
    t_leg = dict(zip((t.code for t in townships), leg[len(villages) :], strict=True))
    use_graph, _ = _graph(net, net.length, net.usable)
    n_comp, comp = connected_components(use_graph, directed=False)
    bad = np.flatnonzero(~net.usable & (comp[net.u] != comp[net.v]))
    best: dict[tuple[int, int], int] = {}
    for e in bad[np.argsort(net.length[bad], kind="stable")]:
        a, b = int(comp[net.u[e]]), int(comp[net.v[e]])
        best.setdefault((min(a, b), max(a, b)), int(e))
    ce = np.array(list(best.values()), dtype=int)
    if len(ce):
        ca, cb = comp[net.u[ce]], comp[net.v[ce]]
        gap_graph = csr_matrix(
            (np.r_[net.length[ce], net.length[ce]], (np.r_[ca, cb], np.r_[cb, ca])), shape=(n_comp, n_comp)
        )
    else:
        gap_graph = csr_matrix((n_comp, n_comp))
    return Contracted(net, node_of[: len(villages)], t_node, leg, t_leg, comp, use_graph, gap_graph, best)


@dataclass
class HardenPlan:
    """The roads to harden so that every village reachable by some road connects.

    ``villages_served``: villages connected once the plan is built (those already connected included).
    """

    length_m: float
    roads: list[int]
    pieces: list[shapely.LineString]
    by_township: dict[str, float]
    villages_served: int


def _joining(c: Contracted, comps: np.ndarray, a: int, b: int) -> int:
    """The unusable road joining two components given by local ids (positions in ``comps``)."""
    ga, gb = int(comps[a]), int(comps[b])
    return c.best[(min(ga, gb), max(ga, gb))]


def joint_plan(
    net: Network,
    villages: list[Seat],
    townships: list[Seat],
    access_m: float = 500.0,
    contracted: Contracted | None = None,
    search_margin_m: float = 10_000.0,
) -> HardenPlan:
    """The least total length to harden so every village connects (Mehlhorn's Steiner heuristic).

    Per township, on the graph of usable components joined by unusable roads: one multi-source
    Dijkstra from the terminals (the seat's component and each cut-off village's), the cheapest
    bridge between every two terminal regions, a minimum spanning tree over the terminals, and
    its edges expanded into roads. A segment shared by several villages is hardened once; the
    result is within twice the optimum.
    """
    c = contracted or contract(net, villages, townships, access_m)
    t_xy = {t.code: np.asarray(t.xy, dtype=float) for t in townships}
    chosen: dict[int, None] = {}
    by_township: dict[str, float] = {}
    served = 0
    members: dict[str, list[int]] = {}
    for i, v in enumerate(villages):
        if v.township in c.t_node and c.v_node[i] is not None:
            members.setdefault(str(v.township), []).append(i)
    for town, idx in members.items():
        source = c.t_node[town]
        if source is None:
            continue
        root = int(c.comp[source])
        terminals = sorted({root} | {int(c.comp[c.v_node[i]]) for i in idx})
        picked: dict[int, None] = {}
        if len(terminals) > 1:
            # The township's surroundings only: a multi-source search on that part of the graph, in
            # its own (local) numbering; comps maps it back to global component ids.
            pts = np.array([t_xy[town], *(villages[i].xy for i in idx)], dtype=float)
            _, comps = c.window(pts, search_margin_m)
            sub = c.gap_graph[comps][:, comps]
            local = [int(np.searchsorted(comps, t)) for t in terminals]
            dist, pred, origin = dijkstra(sub, directed=True, indices=local, min_only=True, return_predecessors=True)
            coo = sub.tocoo()
            ea, eb, ew = coo.row, coo.col, coo.data
            cross = (
                np.isfinite(dist[ea])
                & np.isfinite(dist[eb])
                & (origin[ea] != origin[eb])
                & (origin[ea] >= 0)
                & (origin[eb] >= 0)
            )
            ea, eb = ea[cross], eb[cross]
            cost = dist[ea] + ew[cross] + dist[eb]
            pos = {t: k for k, t in enumerate(local)}
            ta = np.array([pos[int(o)] for o in origin[ea]], dtype=int)
            tb = np.array([pos[int(o)] for o in origin[eb]], dtype=int)
            bridge: dict[tuple[int, int], int] = {}
            for k in np.argsort(cost, kind="stable"):
                bridge.setdefault((min(ta[k], tb[k]), max(ta[k], tb[k])), int(k))

            if bridge:
                pairs = np.array(list(bridge), dtype=int)
                weights = cost[list(bridge.values())] + 1e-9  # an MST ignores zero weights
                mst = minimum_spanning_tree(
                    csr_matrix((weights, (pairs[:, 0], pairs[:, 1])), shape=(len(terminals),) * 2)
                )
                for p, q in zip(*mst.nonzero(), strict=True):
                    k = bridge[(min(p, q), max(p, q))]
                    a, b = int(ea[k]), int(eb[k])
                    picked[_joining(c, comps, a, b)] = None
                    for node in (a, b):
                        while pred[node] >= 0:
                            prev = int(pred[node])
                            picked[_joining(c, comps, node, prev)] = None
                            node = prev
        reached = {root}
        if picked:
            # the components the picked roads join to the seat's
            adj: dict[int, list[int]] = {}
            for e in picked:
                a, b = int(c.comp[c.net.u[e]]), int(c.comp[c.net.v[e]])
                adj.setdefault(a, []).append(b)
                adj.setdefault(b, []).append(a)
            stack = [root]
            while stack:
                for nxt in adj.get(stack.pop(), []):
                    if nxt not in reached:
                        reached.add(nxt)
                        stack.append(nxt)
        new = [e for e in picked if e not in chosen]
        chosen.update(dict.fromkeys(new))
        by_township[town] = round(float(c.net.length[new].sum()) if new else 0.0, 1)
        served += sum(1 for i in idx if int(c.comp[c.v_node[i]]) in reached)
    edges = list(chosen)
    return HardenPlan(
        round(float(c.net.length[edges].sum()) if edges else 0.0, 1),
        list(dict.fromkeys(int(c.net.road_id[e]) for e in edges)),
        [c.net.geom[e] for e in edges],
        by_township,
        served,
    )


def _local_dijkstra(graph: csr_matrix, keep: np.ndarray, source: int, predecessors: bool = False) -> Any:
    """Dijkstra on the subgraph of ``keep`` (global ids) from global node ``source``; local results."""
    sub = graph[keep][:, keep]
    start = int(np.searchsorted(keep, source))
    return dijkstra(sub, directed=True, indices=start, return_predecessors=predecessors)


def _unreachable(code: str, legs: tuple[float | None, float | None], reason: str) -> Access:
    return Access(code, False, None, None, access_m=legs, reason=reason)


def road_access(
    net: Network,
    villages: list[Seat],
    townships: list[Seat],
    access_m: float = 500.0,
    contracted: Contracted | None = None,
    search_margin_m: float = 10_000.0,
) -> list[Access]:
    """Rule 1 for every village (see the module docstring).

    The usable network is contracted into its connected components: a village in the township
    seat's component is connected; otherwise its gap is a shortest path in the small graph whose
    nodes are components and whose edges are the unusable roads between them. Searches run in
    the township's surroundings (its seat and villages, grown by ``search_margin_m``); a distance
    that needs a longer detour falls back to the whole network, and a gap is the least within
    those surroundings.
    """
    if len(net.u) == 0:  # an empty roads layer: nothing can connect, and every village says why
        why = "道路图层为空 / the roads layer is empty"
        return [_unreachable(v.code, (None, None), why) for v in villages]
    c = contracted or contract(net, villages, townships, access_m)
    net, v_node, t_node, leg, t_leg, comp, use_graph, gap_graph, best = (
        c.net,
        c.v_node,
        c.t_node,
        c.leg,
        c.t_leg,
        c.comp,
        c.use_graph,
        c.gap_graph,
        c.best,
    )
    t_xy = {t.code: np.asarray(t.xy, dtype=float) for t in townships}
    margin = search_margin_m
    results: list[Access] = []
    by_township: dict[str | None, list[int]] = {}
    for i, v in enumerate(villages):
        by_township.setdefault(v.township, []).append(i)
    for town, members in by_township.items():
        source = t_node.get(town) if town is not None else None
        if source is None or town is None:
            for i in members:
                why = (
                    "乡镇驻地不在路网可达范围 / township seat too far from any road"
                    if town in t_node
                    else "未找到乡镇驻地 / no township seat"
                )
                results.append(_unreachable(villages[i].code, (leg[i], None), why))
            continue
        pts = np.array([t_xy[town], *(villages[i].xy for i in members)], dtype=float)
        nodes, comps = c.window(pts, margin)
        same = [i for i in members if v_node[i] is not None and comp[v_node[i]] == comp[source]]
        d_use = np.full(net.n_nodes, np.inf)
        if same:
            local = _local_dijkstra(use_graph, nodes, source)
            d_use[nodes] = local
            if not all(np.isfinite(d_use[v_node[i]]) for i in same):  # a detour beyond the window
                d_use = dijkstra(use_graph, directed=True, indices=source)
        others = [i for i in members if v_node[i] is not None and comp[v_node[i]] != comp[source]]
        if others:
            d_gap = np.full(gap_graph.shape[0], np.inf)
            pred = np.full(gap_graph.shape[0], -9999, dtype=np.int64)
            local_gap, local_pred = _local_dijkstra(gap_graph, comps, int(comp[source]), predecessors=True)
            d_gap[comps] = local_gap
            pred[comps] = np.where(local_pred >= 0, comps[np.maximum(local_pred, 0)], -9999)
        for i in members:
            node = v_node[i]
            legs = (leg[i], t_leg.get(town))
            if node is None:
                why = f"村委会驻地 {access_m:.0f} 米内无道路 / no road within {access_m:.0f} m of the seat"
                results.append(_unreachable(villages[i].code, legs, why))
            elif comp[node] == comp[source]:
                results.append(Access(villages[i].code, True, float(d_use[node]), 0.0, access_m=legs))
            elif not np.isfinite(d_gap[comp[node]]):
                results.append(
                    _unreachable(
                        villages[i].code, legs, "与乡镇驻地之间没有任何道路 / no road path to the township seat"
                    )
                )
            else:
                roads, pieces = [], []
                at = int(comp[node])
                while at != comp[source]:
                    prev = int(pred[at])
                    e = best[(min(at, prev), max(at, prev))]
                    roads.append(int(net.road_id[e]))
                    pieces.append(net.geom[e])
                    at = prev
                results.append(
                    Access(
                        villages[i].code,
                        False,
                        None,
                        float(d_gap[comp[node]]),
                        list(dict.fromkeys(roads)),
                        pieces,
                        legs,
                        "需硬化 / to harden",
                    )
                )
    order = {v.code: k for k, v in enumerate(villages)}
    return sorted(results, key=lambda a: order[a.code])
