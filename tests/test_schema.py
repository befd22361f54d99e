"""The database built by the migrations matches the catalog, and enforces it."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from fupin_gis.catalog import Catalog
from fupin_gis.db.check import schema_problems

POINT = "ST_SetSRID(ST_MakePoint(107.2, 31.9), 4490)"
LINE = "ST_Multi(ST_SetSRID(ST_MakeLine(ST_MakePoint(107.2, 31.9), ST_MakePoint(107.21, 31.91)), 4490))"


def test_database_matches_catalog(conn: Connection, catalog: Catalog) -> None:
    assert schema_problems(conn, catalog) == []


def test_check_reports_drift(conn: Connection, catalog: Catalog) -> None:
    conn.execute(text("ALTER TABLE roads DROP CONSTRAINT ck_roads_surface_enum"))
    conn.execute(text("ALTER TABLE water_points ADD COLUMN colour text"))
    conn.execute(text("DROP INDEX ix_villages_seat"))
    problems = schema_problems(conn, catalog)
    assert "roads.surface: CHECK ck_roads_surface_enum missing" in problems
    assert "water_points.colour: column not in the catalog" in problems
    assert "villages.seat: no GiST index" in problems


def test_geometry_columns_srid_and_type(conn: Connection, catalog: Catalog) -> None:
    rows = conn.execute(text("SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns")).all()
    got = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    assert got[("roads", "geom")] == ("MULTILINESTRING", 4490)
    assert got[("villages", "seat")] == ("POINT", 4490)
    assert got[("water_points", "geom")] == ("POINT", 4490)
    assert len([k for k in got if k[0] in catalog.layers]) == len(catalog.layers) + sum(
        1 for s in catalog.layers.values() if s.seat
    )


def _insert_road(conn: Connection, **values: object) -> None:
    row = {"road_class": "village", "surface": "hardened", "status": "existing", **values}
    cols = ", ".join(row)
    params = ", ".join(f":{k}" for k in row)
    conn.execute(text(f"INSERT INTO roads (geom, {cols}) VALUES ({LINE}, {params})"), row)


def test_valid_road_inserts(conn: Connection) -> None:
    _insert_road(conn, width_m=4.5, village_code="511921100201", name="测试村道")
    row = conn.execute(text("SELECT width_m, village_code, ST_SRID(geom) FROM roads WHERE name = '测试村道'")).one()
    assert tuple(row) == (4.5, "511921100201", 4490)


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"surface": "paved"}, "ck_roads_surface_enum"),
        ({"road_class": "highway"}, "ck_roads_road_class_enum"),
        ({"width_m": -1}, "ck_roads_width_m_min"),
        ({"village_code": "51192110020"}, "ck_roads_village_code_code"),
        ({"year_built": 1800}, "ck_roads_year_built_min"),
        ({"status": None}, "not-null"),
    ],
)
def test_constraints_refuse_bad_values(conn: Connection, values: dict, constraint: str) -> None:
    nested = conn.begin_nested()
    with pytest.raises(IntegrityError) as err:
        _insert_road(conn, **values)
    nested.rollback()
    assert constraint in str(err.value)


def test_geometry_type_and_srid_enforced(conn: Connection) -> None:
    for geom in (POINT, "ST_Multi(ST_SetSRID(ST_MakeLine(ST_MakePoint(0,0), ST_MakePoint(1,1)), 4326))"):
        nested = conn.begin_nested()
        with pytest.raises(Exception, match="(?i)geometry|srid"):
            conn.execute(
                text(
                    f"INSERT INTO roads (geom, road_class, surface, status) VALUES ({geom}, 'village', 'earth', 'existing')"
                )
            )
        nested.rollback()


def test_reservoir_needs_polygon_or_dam(conn: Connection) -> None:
    conn.execute(text(f"INSERT INTO reservoirs (seat, name, risk) VALUES ({POINT}, '红旗水库', 'normal')"))
    nested = conn.begin_nested()
    with pytest.raises(IntegrityError, match="has_geometry"):
        conn.execute(text("INSERT INTO reservoirs (name, risk) VALUES ('无位置水库', 'normal')"))
    nested.rollback()
