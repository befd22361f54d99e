"""The demo county: the brief's numbers, nested codes, valid geometry inside the county, the
designed faults present in the loaded data, and the same county for the same seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Connection, text

from fupin_gis.demo import DemoCounty, generate
from fupin_gis.demo.scales import SCALES


def _scalar(conn: Connection, sql: str, **params: object) -> object:
    return conn.execute(text(sql), params).scalar_one()


def test_plan_scale_counts(demo: DemoCounty, conn: Connection) -> None:
    counts = {
        name: _scalar(conn, f"SELECT count(*) FROM {name}")
        for name in ("counties", "townships", "villages", "village_groups", "households", "planning_areas")
    }
    assert counts == {
        "counties": 1,
        "townships": 10,
        "villages": 45,
        "village_groups": 313,
        "households": 15_939,
        "planning_areas": 1,
    }
    people = _scalar(conn, "SELECT sum(members) FROM households")
    assert 0.95 * 62_202 < people < 1.05 * 62_202
    assert _scalar(conn, "SELECT sum(population) FROM villages") == people
    assert _scalar(conn, "SELECT target_people FROM planning_areas") == 62_202


def test_real_codes_and_names(demo: DemoCounty, conn: Connection) -> None:
    assert conn.execute(text("SELECT code, name FROM counties")).one() == ("511921", "通江县")
    names = {r[0] for r in conn.execute(text("SELECT name FROM townships"))}
    assert names <= {
        "诺江镇",
        "民胜镇",
        "火炬镇",
        "广纳镇",
        "铁佛镇",
        "麻石镇",
        "至诚镇",
        "洪口镇",
        "沙溪镇",
        "瓦室镇",
        "永安镇",
        "铁溪镇",
        "涪阳镇",
        "诺水河镇",
        "毛浴镇",
        "泥溪镇",
        "两河口镇",
        "板桥口镇",
        "新场镇",
        "杨柏镇",
        "三溪镇",
        "春在镇",
        "龙凤场镇",
        "空山镇",
        "唱歌镇",
        "陈河镇",
        "青峪镇",
        "兴隆镇",
        "烟溪镇",
        "长坪镇",
        "松溪乡",
        "胜利乡",
    }


def test_codes_unique_and_nested(demo: DemoCounty, conn: Connection) -> None:
    for table, parent, width in (("townships", "counties", 6), ("villages", "townships", 9)):
        orphans = _scalar(
            conn,
            f"SELECT count(*) FROM {table} c LEFT JOIN {parent} p ON left(c.code, {width}) = p.code WHERE p.code IS NULL",
        )
        assert orphans == 0, table
    assert (
        _scalar(
            conn,
            "SELECT count(*) FROM village_groups g LEFT JOIN villages v ON left(g.code, 12) = v.code WHERE v.code IS NULL",
        )
        == 0
    )
    assert (
        _scalar(
            conn,
            "SELECT count(*) FROM households h LEFT JOIN villages v ON h.village_code = v.code WHERE v.code IS NULL",
        )
        == 0
    )
    assert _scalar(conn, "SELECT count(DISTINCT code) = count(*) FROM households")


@pytest.mark.parametrize(
    "table",
    [
        "townships",
        "villages",
        "village_groups",
        "roads",
        "water_points",
        "water_lines",
        "reservoirs",
        "slope_farmland",
        "facilities",
        "households",
        "power_lines",
        "planning_areas",
    ],
)
def test_geometry_valid_and_inside_county(demo: DemoCounty, conn: Connection, table: str) -> None:
    invalid = _scalar(conn, f"SELECT count(*) FROM {table} WHERE NOT ST_IsValid(geom) OR ST_IsEmpty(geom)")
    # 1 cm of slack for the reprojection of shared borders
    outside = _scalar(
        conn,
        f"SELECT count(*) FROM {table} t, counties c "
        f"WHERE NOT ST_CoveredBy(ST_Transform(t.geom, 4545), ST_Buffer(ST_Transform(c.geom, 4545), 0.01))",
    )
    assert (invalid, outside) == (0, 0)


def test_admin_units_tile_and_nest(demo: DemoCounty, conn: Connection) -> None:
    county = _scalar(conn, "SELECT ST_Area(geom::geography) FROM counties")
    for table in ("townships", "villages", "village_groups"):
        total = _scalar(conn, f"SELECT sum(ST_Area(geom::geography)) FROM {table}")
        assert total == pytest.approx(county, rel=1e-4), table
    assert _scalar(conn, "SELECT count(*) FROM villages WHERE NOT ST_Contains(geom, seat)") == 0
    # each village lies in the township its code names
    assert (
        _scalar(
            conn,
            "SELECT count(*) FROM villages v JOIN townships t ON left(v.code, 9) = t.code "
            "WHERE NOT ST_Contains(t.geom, ST_PointOnSurface(v.geom))",
        )
        == 0
    )
    assert 250e6 < county < 400e6  # 45 villages of about 6-7 km²


def test_every_kind_and_grade_present(demo: DemoCounty, conn: Connection) -> None:
    def values(sql: str) -> set:
        return {r[0] for r in conn.execute(text(sql))}

    assert values("SELECT kind FROM water_points") == {
        "hand_pump_well",
        "central_supply",
        "storage_tank",
        "pumping_station",
        "spring",
    }
    assert values("SELECT slope_grade FROM slope_farmland") == {"g1", "g2", "g3", "g4", "g5"}
    assert values("SELECT kind FROM facilities") == {"school", "clinic", "activity_room", "nursing_home", "telecom"}
    assert values("SELECT road_class FROM roads") == {"county", "village", "group", "household"}
    assert values("SELECT surface FROM roads") == {"hardened", "gravel", "earth"}
    assert _scalar(conn, "SELECT count(*) FROM reservoirs WHERE risk = 'dangerous' AND renovation <> 'completed'") >= 1
    # grades agree with slopes: the survey's five classes
    wrong = _scalar(
        conn,
        "SELECT count(*) FROM slope_farmland WHERE slope_grade <> CASE WHEN slope_deg <= 2 THEN 'g1' "
        "WHEN slope_deg <= 6 THEN 'g2' WHEN slope_deg <= 15 THEN 'g3' WHEN slope_deg <= 25 THEN 'g4' ELSE 'g5' END",
    )
    assert wrong == 0
    # area_mu is the metric area (1 mu = 666.67 m²)
    assert _scalar(conn, "SELECT max(abs(area_mu - ST_Area(geom::geography) / 666.6667)) FROM slope_farmland") < 0.05


def _road_ids(demo: DemoCounty, key: str) -> list[str]:
    return demo.layers["roads"].frame["code"].iloc[demo.truth[key]].tolist()


def test_designed_faults_are_in_the_data(demo: DemoCounty, conn: Connection) -> None:
    gaps = _road_ids(demo, "gravel_gaps")
    assert gaps
    assert _scalar(
        conn,
        "SELECT count(*) FROM roads WHERE code = ANY(:c) AND surface = 'gravel' AND road_class = 'village'",
        c=gaps,
    ) == len(gaps)
    narrow = _road_ids(demo, "narrow")
    assert _scalar(conn, "SELECT max(width_m) FROM roads WHERE code = ANY(:c)", c=narrow) < 3.5
    # group roads that stop short of the village seat: 1.5-4 m (within a 5 m snap) and 8-40 m (beyond)
    for key, lo, hi in (("short_ends_within", 1.5, 4.0), ("short_ends_beyond", 8.0, 40.0)):
        codes = _road_ids(demo, key)
        gaps_m = (
            conn.execute(
                text(
                    "SELECT ST_Distance(ST_StartPoint(ST_GeometryN(r.geom, 1))::geography, v.seat::geography) "
                    "FROM roads r JOIN villages v ON v.code = r.village_code WHERE r.code = ANY(:c)"
                ),
                {"c": codes},
            )
            .scalars()
            .all()
        )
        assert len(gaps_m) == len(codes) > 0
        assert all(lo - 0.05 <= g <= hi + 0.05 for g in gaps_m), (key, gaps_m)
    # bridges cross another road without sharing a vertex
    bridges = _road_ids(demo, "bridges")
    assert bridges
    assert _scalar(
        conn,
        "SELECT count(DISTINCT b.code) FROM roads b JOIN roads o ON o.id <> b.id AND ST_Crosses(b.geom, o.geom) WHERE b.code = ANY(:c)",
        c=bridges,
    ) == len(bridges)
    assert _scalar(conn, "SELECT count(*) FROM roads WHERE structure = 'bridge'") == len(bridges)


def test_far_seat_is_far_from_every_road(demo: DemoCounty, conn: Connection) -> None:
    ((code, designed),) = demo.truth["far_seats"].items()
    nearest = _scalar(
        conn,
        "SELECT min(ST_Distance(v.seat::geography, r.geom::geography)) FROM villages v, roads r WHERE v.code = :c",
        c=code,
    )
    assert nearest > 550
    assert nearest == pytest.approx(designed, abs=2.0)  # metric CRS vs geodesic


def test_same_seed_same_county() -> None:
    a, b, c = generate("plan", 3), generate("plan", 3), generate("plan", 4)
    for name in a.layers:
        pd.testing.assert_frame_equal(a.layers[name].frame, b.layers[name].frame)
        assert all(shapely.equals_exact(a.layers[name].geom, b.layers[name].geom, 0))
    assert not np.array_equal(
        shapely.get_coordinates(a.layers["villages"].geom[:1]), shapely.get_coordinates(c.layers["villages"].geom[:1])
    )


def test_county_scale_sizes() -> None:
    county = generate("county", 1)
    sc = SCALES["county"]
    assert len(county.layers["villages"].geom) == sc.villages
    assert len(county.layers["households"].geom) == sc.households
    assert len(county.layers["water_points"].geom) == sc.water_points
    assert 0.95 * sc.road_segments < len(county.layers["roads"].geom) < 1.1 * sc.road_segments
    codes = county.layers["villages"].frame["code"]
    assert codes.is_unique and codes.str.fullmatch(r"\d{12}").all()
