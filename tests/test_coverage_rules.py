"""Rules 2–5 on the demo county, checked against independent PostGIS computations."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Connection, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage import rules
from fupin_gis.coverage.checklists import load_checklists
from fupin_gis.coverage.network import build_network
from fupin_gis.coverage.run import load_roads, run_coverage
from fupin_gis.demo import DemoCounty
from fupin_gis.settings import CoverageSettings

SRID = 4545


@pytest.fixture(scope="module")
def result(demo: DemoCounty, engine, catalog: Catalog) -> dict:  # noqa: ANN001
    settings = CoverageSettings(pipe_distance_m=0.0)
    with engine.connect() as conn:
        return run_coverage(conn, settings, load_checklists(settings.checklist_file, catalog))[0]


def _metric_tables(conn: Connection) -> None:
    """Indexed metric copies for the reference queries (dropped with the test's transaction)."""
    for name, sql in (
        ("m_households", "SELECT id, ST_Transform(geom, 4545) AS g FROM households"),
        (
            "m_water",
            "SELECT id, ST_Transform(geom, 4545) AS g FROM water_points WHERE coalesce(safe, false) AND coalesce(working, true) AND status IN ('existing', 'completed')",
        ),
        (
            "m_roads",
            "SELECT id, ST_Transform(geom, 4545) AS g FROM roads WHERE surface = 'hardened' AND coalesce(width_m >= 3.5, true) AND status IN ('existing', 'completed')",
        ),
    ):
        conn.execute(text(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {sql}"))
        conn.execute(text(f"CREATE INDEX ON {name} USING gist (g)"))
        conn.execute(text(f"ANALYZE {name}"))


def test_water_access_equals_st_dwithin_household_for_household(demo: DemoCounty, conn: Connection) -> None:
    _metric_tables(conn)
    hh = rules.load_households(conn, SRID)
    covered, per_point = rules.water_access(conn, SRID, hh, 800.0, 0.0)
    expected = set(
        conn.execute(
            text(
                "SELECT h.id FROM m_households h WHERE EXISTS (SELECT 1 FROM m_water w WHERE ST_DWithin(w.g, h.g, 800))"
            )
        ).scalars()
    )
    assert set(hh.id[covered]) == expected
    assert 0 < len(expected) < len(hh.id)  # some households really lack water in the demo
    # crucialness: a point's sole-source households are within its reach
    assert (per_point["households_sole_source"] <= per_point["households_in_reach"]).all()
    assert (
        per_point["households_sole_source"].sum()
        == conn.execute(
            text(
                "SELECT count(*) FROM (SELECT h.id FROM m_households h JOIN m_water w ON ST_DWithin(w.g, h.g, 800) GROUP BY h.id HAVING count(*) = 1) s"
            )
        ).scalar_one()
    )


def test_rural_access_index_equals_st_dwithin(demo: DemoCounty, conn: Connection) -> None:
    _metric_tables(conn)
    hh = rules.load_households(conn, SRID)
    roads = load_roads(conn, SRID, CoverageSettings())
    within = rules.rural_access(roads.lines[roads.usable], hh, 300.0)  # 300 m: a test that can fail here
    net = build_network(roads)
    assert np.array_equal(rules.rural_access(net.geom[net.usable], hh, 300.0), within)  # pieces: the same
    expected = set(
        conn.execute(
            text(
                "SELECT h.id FROM m_households h WHERE EXISTS (SELECT 1 FROM m_roads r WHERE ST_DWithin(r.g, h.g, 300))"
            )
        ).scalars()
    )
    assert set(hh.id[within]) == expected and 0 < len(expected) < len(hh.id)


def test_village_figures_add_up(result: dict, conn: Connection) -> None:
    county = result["summary"]["511921"]
    assert county["households"] == conn.execute(text("SELECT count(*) FROM households")).scalar_one()
    assert county["population"] == conn.execute(text("SELECT sum(members) FROM households")).scalar_one()
    assert sum(v["water"]["households_covered"] for v in result["villages"]) == county["households_covered"]
    townships = [k for k in result["summary"] if len(k) == 9]
    assert len(townships) == 10 and sum(result["summary"][t]["villages"] for t in townships) == 45


def test_people_with_safe_water(result: dict, conn: Connection) -> None:
    _metric_tables(conn)
    expected = conn.execute(
        text(
            "SELECT sum(h.members) FROM households h WHERE EXISTS (SELECT 1 FROM m_households m "
            "JOIN m_water w ON ST_DWithin(w.g, m.g, 800) WHERE m.id = h.id)"
        )
    ).scalar_one()
    county = result["summary"]["511921"]
    assert 0 < expected < county["population"]
    assert sum(v["water"]["people_covered"] for v in result["villages"]) == expected == county["people_water_covered"]
    assert county["water_people_share"] == round(expected / county["population"], 4)
    assert all(v["water"]["people"] == v["rai"]["population"] for v in result["villages"])


def test_steep_farmland_and_facilities(result: dict, conn: Connection) -> None:
    steep = conn.execute(
        text("SELECT sum(ST_Area(geom::geography)) / 666.6667 FROM slope_farmland WHERE slope_grade = 'g5'")
    ).scalar_one()
    assert result["summary"]["511921"]["steep_mu"] == pytest.approx(steep, abs=0.5)
    no_clinic = conn.execute(
        text(
            "SELECT count(*) FROM villages v WHERE NOT EXISTS (SELECT 1 FROM facilities f WHERE f.village_code = v.code AND f.kind = 'clinic' AND f.meets_standard AND f.status IN ('existing', 'completed'))"
        )
    ).scalar_one()
    failing = sum(1 for v in result["villages"] if v["facilities"].get("clinic", {}).get("standard", 0) == 0)
    assert failing == no_clinic
    item = result["villages"][0]["checks"]
    assert set(item) == {
        "road",
        "activity_room_clinic",
        "telecom",
        "industry_association",
        "pillar_industry",
        "school",
        "committee",
    }
    assert item["industry_association"]["ok"] is None


def test_household_checks_count_every_item(result: dict, conn: Connection) -> None:
    """户七有: a household meets all seven only with every field true and water within reach."""
    county = {k: 0 for k in ("households", "all_ok")}
    for v in result["villages"]:
        for k in county:
            county[k] += v["household_checks"][k]
    assert county["households"] == conn.execute(text("SELECT count(*) FROM households")).scalar_one()
    all_fields = conn.execute(
        text(
            "SELECT count(*) FROM households WHERE house_ok AND farmland_ok AND safe_water AND biogas AND orchard_ok AND livestock_ok AND skilled_member"
        )
    ).scalar_one()
    assert 0 < county["all_ok"] <= all_fields  # water access can only take households away
    missing_biogas = sum(v["household_checks"]["missing_biogas"] for v in result["villages"])
    assert (
        missing_biogas
        == conn.execute(text("SELECT count(*) FROM households WHERE NOT coalesce(biogas, false)")).scalar_one()
    )


def test_checklist_file_is_validated(tmp_path, catalog: Catalog) -> None:  # noqa: ANN001
    from fupin_gis.errors import InvalidInput

    text_ = CoverageSettings().checklist_file.read_text("utf-8")
    bad = tmp_path / "lists.toml"
    bad.write_text(text_.replace('kinds = ["telecom"]', 'kinds = ["satellite"]'), encoding="utf-8")
    with pytest.raises(InvalidInput, match="satellite"):
        load_checklists(bad, catalog)
    bad.write_text(text_.replace('field = "biogas"', 'field = "gas"'), encoding="utf-8")
    with pytest.raises(InvalidInput, match="household.biogas"):
        load_checklists(bad, catalog)


def test_water_by_network_agrees_with_networkx(demo: DemoCounty, conn: Connection, result: dict) -> None:
    """Walking distances household → water point along roads and paths, against an independent
    networkx graph in which every water point and the household are nodes on their own edges."""
    import networkx as nx
    import numpy as np
    import shapely

    from fupin_gis.coverage.network import build_network

    settings = CoverageSettings()
    net = build_network(load_roads(conn, SRID, settings), settings.snap_tolerance_m)
    hh = rules.load_households(conn, SRID)
    points = rules.load_water_points(conn, SRID)
    pxy = points[["x", "y"]].to_numpy(dtype=float)
    ours = rules.water_by_network(net, hh.xy, pxy, 800.0, 500.0)

    def nearest_edge(x: float, y: float) -> tuple[int, float, float] | None:
        p = shapely.Point(x, y)
        d = shapely.distance(net.geom, p)
        e = int(np.argmin(d))
        return None if d[e] > 500.0 else (e, float(d[e]), float(shapely.line_locate_point(net.geom[e], p)))

    on_edge: dict[int, list[tuple[float, str]]] = {}
    for k, (x, y) in enumerate(pxy):
        hit = nearest_edge(x, y)
        if hit:
            on_edge.setdefault(hit[0], []).append((hit[2], f"w{k}"))

    def chain(graph: nx.MultiGraph, e: int, stops: list[tuple[float, str]]) -> None:
        nodes = [(0.0, int(net.u[e])), *sorted(stops), (float(net.length[e]), int(net.v[e]))]
        for (a0, n0), (a1, n1) in zip(nodes, nodes[1:], strict=False):
            graph.add_edge(n0, n1, key=e, weight=a1 - a0)

    graph = nx.MultiGraph()
    for e in range(len(net.u)):
        chain(graph, e, on_edge.get(e, []))
    for k, (x, y) in enumerate(pxy):
        hit = nearest_edge(x, y)
        if hit:
            graph.add_edge(f"w{k}", "water", key=-1, weight=hit[1])
    rng = np.random.default_rng(3)
    sample = rng.choice(len(hh.id), 25, replace=False)
    checked = 0
    for i in sample:
        hit = nearest_edge(*hh.xy[i])
        if hit is None:
            assert np.isinf(ours[i])
            continue
        e, leg, along = hit
        g = graph.copy()
        g.remove_edges_from([(a, b, k) for a, b, k in g.edges(keys=True) if k == e])
        chain(g, e, [*on_edge.get(e, []), (along, "h")])
        try:
            want = leg + nx.dijkstra_path_length(g, "h", "water")
        except nx.NetworkXNoPath:
            want = np.inf
        if want <= 800.0 or ours[i] <= 800.0:
            assert ours[i] == pytest.approx(want, abs=0.01), i
            checked += 1
    assert checked >= 10  # most households have a water point within a walk
    covered = sum(v["water"]["households_by_network"] for v in result["villages"])
    assert covered == int((ours <= 800.0).sum())
    assert covered <= sum(v["water"]["households"] for v in result["villages"])
