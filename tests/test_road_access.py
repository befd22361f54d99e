"""Rule 1 on hand-built networks with known answers, and against networkx on random networks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from fupin_gis.coverage.network import RoadRows, build_network
from fupin_gis.coverage.road_access import Seat, road_access
from fupin_gis.coverage.run import gauss_kruger_zone
from fupin_gis.errors import InvalidInput

H, G = True, False  # usable (hardened, wide, built) or not


def rows(*roads: tuple[list[tuple[float, float]], bool] | tuple[list[tuple[float, float]], bool, bool]) -> RoadRows:
    lines = [shapely.LineString(r[0]) for r in roads]
    return RoadRows(
        np.arange(1, len(roads) + 1),
        np.array(lines, dtype=object),
        np.array([r[1] for r in roads]),
        np.array([len(r) > 2 and r[2] for r in roads]),
    )


def access(net_rows: RoadRows, village: tuple[float, float], town: tuple[float, float] = (0, 0), **kw: float):  # noqa: ANN201
    net = build_network(net_rows, kw.pop("tol", 5.0))
    (result,) = road_access(net, [Seat("V", village, "T")], [Seat("T", town)], **kw)
    return result


def test_hardened_road_connects() -> None:
    a = access(rows(([(0, 0), (2000, 0)], H)), (2000, 0))
    assert (a.connected, a.network_distance_m, a.gap_m) == (True, pytest.approx(2000), 0.0)


def test_gravel_gap_is_the_length_to_harden() -> None:
    a = access(rows(([(0, 0), (800, 0)], H), ([(800, 0), (1000, 0)], G), ([(1000, 0), (2000, 0)], H)), (2000, 0))
    assert not a.connected
    assert a.gap_m == pytest.approx(200) and a.gap_roads == [2]
    assert shapely.length(a.gap_geometry[0]) == pytest.approx(200)


def test_end_three_metres_short_is_joined() -> None:
    a = access(rows(([(0, 0), (997, 0)], H), ([(1000, 0), (2000, 0)], H)), (2000, 0))
    assert a.connected and a.network_distance_m == pytest.approx(1998.5, abs=2)


def test_end_beyond_tolerance_is_not_joined() -> None:
    a = access(rows(([(0, 0), (980, 0)], H), ([(1000, 0), (2000, 0)], H)), (2000, 0))
    assert not a.connected and a.gap_m is None


def test_bridge_crosses_without_junction() -> None:
    road = ([(0, 0), (1000, 0)], H)
    a = access(rows(road, ([(500, -500), (500, 500)], H, True)), (500, 500))
    assert not a.connected and a.gap_m is None  # over the bridge there is no way down
    b = access(rows(road, ([(500, -500), (500, 500)], H)), (500, 500))
    assert b.connected and b.network_distance_m == pytest.approx(1000)


def test_t_junction_end_on_the_side_of_a_road() -> None:
    a = access(rows(([(0, 0), (2000, 0)], H), ([(1000, 2.0), (1000, 800)], H)), (1000, 800))
    assert a.connected and a.network_distance_m == pytest.approx(1000 + 798, abs=3)


def test_only_route_leaves_the_township_area() -> None:
    """Nothing confines the route: a detour through the neighbour's roads counts."""
    a = access(
        rows(
            ([(0, 0), (0, 3000)], H),
            ([(0, 3000), (3000, 3000)], H),
            ([(3000, 3000), (3000, 0)], H),
            ([(3000, 0), (1500, 0)], G),
        ),
        (3000, 0),
    )
    assert a.connected and a.network_distance_m == pytest.approx(9000)


def test_seat_600_m_from_any_road() -> None:
    a = access(rows(([(0, 0), (2000, 0)], H)), (1000, 600))
    assert not a.connected and a.gap_m is None and a.access_m[0] is None
    near = access(rows(([(0, 0), (2000, 0)], H)), (1000, 400))
    assert near.connected and near.access_m[0] == pytest.approx(400)
    assert near.network_distance_m == pytest.approx(1000)  # from the nearest point on the road, not a node


def test_narrow_and_unfinished_pieces_are_gaps() -> None:
    a = access(
        rows(([(0, 0), (500, 0)], H), ([(500, 0), (650, 0)], G), ([(650, 0), (900, 0)], G), ([(900, 0), (1500, 0)], H)),
        (1500, 0),
    )
    assert a.gap_m == pytest.approx(400) and a.gap_roads == [3, 2]


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 6), st.integers(3, 6), st.lists(st.booleans(), min_size=60, max_size=60), st.integers(0, 35))
def test_agrees_with_networkx(nx_: int, ny: int, flags: list[bool], target: int) -> None:
    """Random grids: connectivity, network distance and gap equal a plain networkx computation."""
    step = 300.0
    edges, k = [], 0
    for i in range(nx_):
        for j in range(ny):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < nx_ and j + dj < ny:
                    edges.append(((i, j), (i + di, j + dj), flags[k % len(flags)]))
                    k += 1
    net_rows = rows(*[([(a[0] * step, a[1] * step), (b[0] * step, b[1] * step)], ok) for a, b, ok in edges])
    cells = [(i, j) for i in range(nx_) for j in range(ny)]
    tx, ty = cells[target % len(cells)]
    got = access(net_rows, (tx * step, ty * step))
    g = nx.Graph()
    for a, b, ok in edges:
        g.add_edge(a, b, length=step, gap=0.0 if ok else step)
    usable = nx.Graph([(a, b) for a, b, ok in edges if ok])
    usable.add_nodes_from([(0, 0), (tx, ty)])
    if nx.has_path(usable, (0, 0), (tx, ty)):
        assert got.connected
        assert got.network_distance_m == pytest.approx(nx.shortest_path_length(usable, (0, 0), (tx, ty)) * step)
    else:
        assert not got.connected
        assert got.gap_m == pytest.approx(nx.shortest_path_length(g, (0, 0), (tx, ty), weight="gap"))


def test_joint_plan_hardens_a_shared_segment_once() -> None:
    from fupin_gis.coverage.road_access import joint_plan

    net_rows = rows(([(0, 0), (1000, 0)], G), ([(1000, 0), (1500, 0)], H), ([(1000, 0), (1000, 500)], H))
    villages = [Seat("A", (1500, 0), "T"), Seat("B", (1000, 500), "T")]
    single = road_access(build_network(net_rows), villages, [Seat("T", (0, 0))])
    assert [a.gap_m for a in single] == [pytest.approx(1000), pytest.approx(1000)]
    plan = joint_plan(build_network(net_rows), villages, [Seat("T", (0, 0))])
    assert plan.length_m == pytest.approx(1000) and plan.roads == [1] and plan.villages_served == 2
    assert sum(shapely.length(p) for p in plan.pieces) == pytest.approx(1000)  # the geometry to harden


def test_metric_crs_is_the_gauss_kruger_zone_of_the_data() -> None:
    assert [gauss_kruger_zone(x) for x in (73.6, 107.2, 108.0, 117.2, 134.7)] == [4534, 4545, 4545, 4548, 4554]
    with pytest.raises(InvalidInput, match="METRIC_SRID"):
        gauss_kruger_zone(24.9)  # Helsinki: the metric CRS must be configured
