"""The cached network: after any change to the roads it equals a full build, rebuilding few roads."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import shapely
from sqlalchemy import Connection, Engine, text

from fupin_gis.coverage.netcache import cached_network
from fupin_gis.coverage.network import Network, build_network
from fupin_gis.coverage.run import load_roads, metric_srid
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
    assert use.mode == "whole" and use.rebuilt_roads == use.roads > 100
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
    assert use.mode == "partial" and 4 <= use.rebuilt_roads < use.roads / 10
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
    assert first["network"]["cache"] == {"mode": "whole", "rebuilt_roads": first["network"]["cache"]["rebuilt_roads"]}
    assert second["network"]["cache"] == {"mode": "cached", "rebuilt_roads": 0}
    assert first["summary"] == second["summary"] and first["harden_plan"] == second["harden_plan"]
