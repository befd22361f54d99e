"""Import of crafted files in every format, encoding and CRS family the brief names; exact rows
and decoded values checked in PostGIS; failures leave the database exactly as it was."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from ingest_helpers import codes, do_import, shapefile_parts, snapshot, write_shapefile, zip_files
from pyproj import Geod, Transformer
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.errors import ImportRefused, UnsupportedFormat, UploadTooLarge

# Points in the demo county (通江县, around 107.25E 31.91N), lon/lat CGCS2000.
LONLAT = np.array([[107.2101, 31.9012], [107.2655, 31.9237], [107.2402, 31.8831], [107.2833, 31.9405]])
NAMES = ["龙王村机压井", "白果坝集中供水点", "迎春村蓄水池", "浴江村提灌站"]


def _points(epsg: int) -> gpd.GeoDataFrame:
    x, y = Transformer.from_crs(4490, epsg, always_xy=True).transform(LONLAT[:, 0], LONLAT[:, 1])
    return gpd.GeoDataFrame(
        {
            "编号": [f"W-T{i}" for i in range(4)],
            "名称": NAMES,
            "水源类型": ["机压井", "集中供水", "水窖", "提灌站"],
            "状态": ["现有", "已建成", "规划", "在建"],
            "受益户数": [12, 80, 6, 40],
        },
        geometry=gpd.points_from_xy(x, y),
        crs=epsg,
    )


def _stored(engine: Engine, layer: str, batch: int) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(
            text(f"SELECT *, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM {layer} WHERE batch_id = :b ORDER BY code"),
            conn,
            params={"b": batch},
        )


def test_gbk_shapefile_in_nested_zip_gk_projection(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    shp = write_shapefile(_points(4545), tmp_path / "wells.shp", "GBK", ldid=0x57)
    assert not shp.with_suffix(".cpg").exists()
    archive = zip_files(tmp_path / "upload.zip", shapefile_parts(shp), folder="调查成果/2024/")
    report = do_import(import_engine, catalog, archive, "water_points")
    assert report.ok, report.to_text()
    src = report.sources[0]
    assert src.encoding["name"] == "gb18030" and src.encoding["source"] == "detected"
    assert src.crs["epsg"] == 4545 and src.crs["source"] == "prj"
    assert src.mapping == {
        "编号": "code",
        "名称": "name",
        "水源类型": "kind",
        "状态": "status",
        "受益户数": "households_served",
    }
    rows = _stored(import_engine, "water_points", report.batch)
    assert rows["name"].tolist() == NAMES
    assert rows["kind"].tolist() == ["hand_pump_well", "central_supply", "storage_tank", "pumping_station"]
    assert rows["status"].tolist() == ["existing", "completed", "planned", "under_construction"]
    assert np.allclose(rows[["lon", "lat"]].to_numpy(), LONLAT, atol=1e-8)


@pytest.mark.parametrize(("epsg", "expected"), [(4524, 4524), (4545, 4545)])
def test_gk_without_prj_is_inferred(
    tmp_path: Path, import_engine: Engine, catalog: Catalog, epsg: int, expected: int
) -> None:
    """Zone-prefixed eastings (4524: zone 36) and unprefixed ones (4545: CM 108E) without a .prj."""
    frame = _points(epsg)
    frame["编号"] = [f"W-P{epsg}-{i}" for i in range(4)]
    shp = write_shapefile(frame, tmp_path / f"p{epsg}.shp", "UTF-8", keep_cpg=True, keep_prj=False)
    report = do_import(import_engine, catalog, shp, "water_points")
    assert report.ok, report.to_text()
    assert report.sources[0].crs == {**report.sources[0].crs, "epsg": expected, "source": "inferred"}
    rows = _stored(import_engine, "water_points", report.batch)
    assert np.allclose(rows[["lon", "lat"]].to_numpy(), LONLAT, atol=1e-8)


def test_unknown_projection_refused_with_candidates(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    frame = _points(4545).translate(xoff=-2_000_000)  # nowhere near the deployment
    shp = write_shapefile(frame, tmp_path / "far.shp", "UTF-8", keep_prj=False)
    before = snapshot(import_engine, catalog)
    report = do_import(import_engine, catalog, shp, "water_points")
    assert "crs_unknown" in codes(report)
    problem = next(p for p in report.problems.items if p.code == "crs_unknown")
    assert "--crs" in problem.message and "far.shp" in problem.file
    assert snapshot(import_engine, catalog) == before


def _gcj_reference(lon: float, lat: float) -> tuple[float, float]:
    """An independent scalar transcription of the published WGS84 → GCJ-02 formula."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    t_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    t_lat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    t_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    t_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    t_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    t_lon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    t_lon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    t_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    d_lat = (t_lat * 180.0) / ((a * (1 - ee)) / (magic * math.sqrt(magic)) * math.pi)
    d_lon = (t_lon * 180.0) / (a / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lon + d_lon, lat + d_lat


def test_gcj02_phone_coordinates_within_a_metre(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    shifted = [_gcj_reference(lon, lat) for lon, lat in LONLAT]
    offsets = [Geod(ellps="WGS84").inv(lon, lat, g[0], g[1])[2] for (lon, lat), g in zip(LONLAT, shifted, strict=True)]
    assert min(offsets) > 100  # GCJ-02 really moves points by hundreds of metres here
    csv = tmp_path / "手机采集.csv"
    pd.DataFrame(
        {
            "编号": [f"W-G{i}" for i in range(4)],
            "类型": ["机压井"] * 4,
            "状态": ["现有"] * 4,
            "经度": [s[0] for s in shifted],
            "纬度": [s[1] for s in shifted],
        }
    ).to_csv(csv, index=False, encoding="utf-8-sig")
    report = do_import(import_engine, catalog, csv, "water_points", datum="gcj02")
    assert report.ok, report.to_text()
    rows = _stored(import_engine, "water_points", report.batch)
    geod = Geod(ellps="WGS84")
    errors = [geod.inv(lon, lat, x, y)[2] for (lon, lat), x, y in zip(LONLAT, rows["lon"], rows["lat"], strict=True)]
    assert max(errors) < 1.0, errors


def test_typos_flagged_never_guessed_and_nothing_written(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    xlsx = tmp_path / "水源调查.xlsx"
    frame = pd.DataFrame(
        {
            "编号": ["W-X0", "W-X1", "W-X2", "W-X3", "W-X4"],
            "类型": ["机压井", "机压井", "蓄水池", "山泉", "水井"],
            "状态": ["现有"] * 5,
            "受益户数": ["1,650", "３０", "l56", "XX0", "12"],
            "经度": LONLAT[[0, 1, 2, 3, 0], 0],
            "纬度": LONLAT[[0, 1, 2, 3, 0], 1],
        }
    )
    frame.to_excel(xlsx, index=False)
    before = snapshot(import_engine, catalog)
    report = do_import(import_engine, catalog, xlsx, "water_points")
    assert not report.ok
    by_feature = {(p.feature, p.code) for p in report.problems.items if p.field == "受益户数"}
    assert by_feature == {
        (0, "thousands_separator"),
        (1, "fullwidth_digits"),
        (2, "number_typo"),
        (3, "number_unknown"),
    }
    typo = next(p for p in report.problems.items if p.code == "number_typo")
    assert "156" in typo.message and "156" in typo.message_en and typo.value == "l56"
    assert snapshot(import_engine, catalog) == before
    # Fixed in the source, the same sheet goes in, with the certain repairs kept.
    frame.loc[2, "受益户数"], frame.loc[3, "受益户数"] = "156", "20"
    frame.to_excel(xlsx, index=False)
    report = do_import(import_engine, catalog, xlsx, "water_points")
    assert report.ok, report.to_text()
    assert _stored(import_engine, "water_points", report.batch)["households_served"].tolist() == [1650, 30, 156, 20, 12]


def test_integer_beyond_the_column_is_an_error_not_a_crash(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    # As text in a sheet and as a number in a GeoPackage: both beyond an integer column's range.
    frame = _points(4490).rename(columns={"水源类型": "类型"}).assign(状态="现有")
    frame["受益户数"] = ["12", "99999999999", "30", "40"]
    csv = tmp_path / "水源.csv"
    pd.DataFrame(frame.drop(columns="geometry")).assign(经度=frame.geometry.x, 纬度=frame.geometry.y).to_csv(
        csv, index=False
    )
    gpkg = tmp_path / "水源.gpkg"
    frame.assign(受益户数=[12.0, 3e12, 30.0, 40.0]).to_file(gpkg, engine="pyogrio")
    before = snapshot(import_engine, catalog)
    for path in (csv, gpkg):
        report = do_import(import_engine, catalog, path, "water_points")
        assert not report.ok
        [problem] = [p for p in report.problems.items if p.severity == "error"]
        assert (problem.feature, problem.code, problem.field) == (1, "out_of_range", "受益户数")
    assert snapshot(import_engine, catalog) == before


def test_geojson_kml_kmz_and_geopackage(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    frame = _points(4490).rename(columns={"水源类型": "设施类型"})
    frame["设施类型"] = ["村小", "卫生室", "活动室", "敬老院"]
    for suffix in ["geojson", "gpkg"]:
        path = tmp_path / f"facilities.{suffix}"
        f = frame.assign(编号=[f"F-{suffix}-{k}" for k in range(4)])
        f.to_file(path, engine="pyogrio")
        if suffix == "gpkg":
            f.iloc[:1].to_file(path, layer="other", engine="pyogrio")
        report = do_import(
            import_engine, catalog, path, "facilities", source="facilities" if suffix == "gpkg" else None
        )
        assert report.ok, report.to_text()
        assert report.inserted == 4
    kml = tmp_path / "phone.kml"
    north, south = frame.iloc[:2].assign(编号=["F-K0", "F-K1"]), frame.iloc[2:].assign(编号=["F-K2", "F-K3"])
    north.to_file(kml, layer="北片", driver="KML", engine="pyogrio")
    south.to_file(kml, layer="南片", driver="KML", engine="pyogrio", append=True)
    kmz = tmp_path / "phone.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.write(kml, "doc.kml")
    report = do_import(import_engine, catalog, kmz, "facilities", mapping={"Name": "-", "Description": "-"})
    assert report.ok, report.to_text()
    with import_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code, extra->>'folder' FROM facilities WHERE batch_id = :b ORDER BY code"), {"b": report.batch}
        ).all()
    assert [tuple(r) for r in rows] == [("F-K0", "北片"), ("F-K1", "北片"), ("F-K2", "南片"), ("F-K3", "南片")]


def test_invalid_polygon_repaired_and_wrong_type_refused(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    x, y = LONLAT[0]
    d = 0.002
    bowtie = shapely.Polygon([(x, y), (x + d, y + d), (x + d, y), (x, y + d), (x, y)])
    assert not bowtie.is_valid
    path = tmp_path / "parcels.geojson"
    gpd.GeoDataFrame({"图斑编号": ["TB-1"], "坡度": [27.5], "坡度级别": ["五级"]}, geometry=[bowtie], crs=4326).to_file(
        path, engine="pyogrio"
    )
    report = do_import(import_engine, catalog, path, "slope_farmland")
    assert report.ok and "geometry_repaired" in codes(report, "warning")
    with import_engine.connect() as conn:
        valid, kind, grade = conn.execute(
            text("SELECT ST_IsValid(geom), GeometryType(geom), slope_grade FROM slope_farmland WHERE code = 'TB-1'")
        ).one()
    assert (valid, kind, grade) == (True, "MULTIPOLYGON", "g5")
    lines = tmp_path / "lines.geojson"
    gpd.GeoDataFrame({"编号": ["W-L"]}, geometry=[shapely.LineString(LONLAT[:2])], crs=4326).to_file(
        lines, engine="pyogrio"
    )
    before = snapshot(import_engine, catalog)
    report = do_import(import_engine, catalog, lines, "water_points")
    assert codes(report) == {"no_fitting_layer"}
    assert snapshot(import_engine, catalog) == before


def test_mojibake_refused_with_hint(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    shp = write_shapefile(_points(4490), tmp_path / "wrongcpg.shp", "UTF-8", keep_cpg=True)
    shp.with_suffix(".cpg").write_text("ISO-8859-1")
    report = do_import(import_engine, catalog, shp, "water_points")
    problem = next(p for p in report.problems.items if p.code == "mojibake")
    assert "--encoding" in problem.message and "--encoding" in problem.message_en


def test_upsert_by_key_reports_changes_and_rollback_restores(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    first = tmp_path / "round1.csv"
    base = pd.DataFrame(
        {
            "编号": [f"W-U{i}" for i in range(5)],
            "类型": ["机压井"] * 5,
            "状态": ["现有"] * 5,
            "正常运行": ["是"] * 5,
            "经度": LONLAT[[0, 1, 2, 3, 0], 0],
            "纬度": LONLAT[[0, 1, 2, 3, 0], 1],
        }
    )
    base.to_csv(first, index=False, encoding="gbk")
    r1 = do_import(import_engine, catalog, first, "water_points")
    assert r1.ok and r1.inserted == 5 and r1.sources[0].encoding["name"] == "gb18030"
    after_first = snapshot(import_engine, catalog)
    second = tmp_path / "round2.csv"
    changed = pd.concat(
        [base.assign(正常运行=["否", "否", "否", "是", "是"]), base.iloc[:1].assign(编号="W-U9")], ignore_index=True
    )
    changed.to_csv(second, index=False, encoding="gbk")
    r2 = do_import(import_engine, catalog, second, "water_points")
    assert r2.ok, r2.to_text()
    assert (r2.inserted, r2.updated) == (1, 5)
    assert r2.changes == {"正常运行": 3}
    from fupin_gis.ingest.batches import rollback

    assert rollback(import_engine, catalog, r2.batch) == {"removed": 1, "restored": 5}
    now = snapshot(import_engine, catalog)
    assert now["counts"] == after_first["counts"]
    with pytest.raises(ImportRefused):
        rollback(import_engine, catalog, r2.batch)
    # Rolling back the first batch once the second is undone removes its rows.
    rollback(import_engine, catalog, r1.batch)
    with import_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM water_points WHERE code LIKE 'W-U%'")).scalar_one() == 0


def test_rollback_refused_while_a_later_batch_changed_the_rows(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    frame = pd.DataFrame(
        {"编号": ["W-R0"], "类型": ["机压井"], "状态": ["现有"], "经度": [LONLAT[0, 0]], "纬度": [LONLAT[0, 1]]}
    )
    frame.to_csv(a, index=False)
    frame.assign(状态="已建成").to_csv(b, index=False)
    ra, rb = do_import(import_engine, catalog, a, "water_points"), do_import(import_engine, catalog, b, "water_points")
    from fupin_gis.ingest.batches import rollback

    with pytest.raises(ImportRefused) as err:
        rollback(import_engine, catalog, ra.batch)
    assert err.value.details["later"] == [rb.batch]


def test_identical_file_refused_unless_replace(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    path = tmp_path / "same.csv"
    pd.DataFrame(
        {"编号": ["W-S0"], "类型": ["山泉"], "状态": ["现有"], "lon": [LONLAT[1, 0]], "lat": [LONLAT[1, 1]]}
    ).to_csv(path, index=False)
    first = do_import(import_engine, catalog, path, "water_points")
    assert first.ok
    again = do_import(import_engine, catalog, path, "water_points")
    assert codes(again) == {"duplicate_file"}
    replaced = do_import(import_engine, catalog, path, "water_points", replace=True)
    assert replaced.ok and replaced.replaced_batches == [first.batch]
    with import_engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM batches WHERE id = :b"), {"b": first.batch}).scalar_one()
        n = conn.execute(text("SELECT count(*) FROM water_points WHERE code = 'W-S0'")).scalar_one()
    assert (status, n) == ("rolled_back", 1)


def test_seat_points_attach_to_units_by_code(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    with import_engine.connect() as conn:
        code, lon, lat = conn.execute(
            text(
                "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM villages ORDER BY code LIMIT 1"
            )
        ).one()
    path = tmp_path / "村委会驻地.csv"
    pd.DataFrame({"村代码": [code, "511921999999"], "经度": [lon, lon], "纬度": [lat, lat]}).to_csv(path, index=False)
    before = snapshot(import_engine, catalog)
    report = do_import(import_engine, catalog, path, "villages")
    assert report.mode == "seats" and codes(report) == {"seat_unit_unknown"}
    assert snapshot(import_engine, catalog) == before
    pd.DataFrame({"村代码": [code], "经度": [lon], "纬度": [lat]}).to_csv(path, index=False)
    report = do_import(import_engine, catalog, path, "villages")
    assert report.ok and report.updated == 1
    with import_engine.connect() as conn:
        x, y = conn.execute(text("SELECT ST_X(seat), ST_Y(seat) FROM villages WHERE code = :c"), {"c": code}).one()
    assert (x, y) == pytest.approx((lon, lat), abs=1e-9)


def _zip_with(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def test_hostile_archives_refused_and_nothing_written(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    before = snapshot(import_engine, catalog)
    link = zipfile.ZipInfo("data/link.shp")
    link.external_attr = 0o120777 << 16
    cases = {
        "dotdot.zip": ([("../../etc/evil.shp", b"x")], ImportRefused),
        "absolute.zip": ([("/tmp/evil.shp", b"x")], ImportRefused),
        "symlink.zip": ([(link, b"/etc/passwd")], ImportRefused),
        "bomb.zip": ([("big.csv", b"0" * (60 * 1024 * 1024))], UploadTooLarge),
        "nogeo.zip": ([("readme.txt", "说明".encode()), ("photo.jpg", b"\xff\xd8\xff")], UnsupportedFormat),
    }
    for name, (entries, error) in cases.items():
        archive = _zip_with(tmp_path / name, entries)
        with pytest.raises(error) as err:
            do_import(import_engine, catalog, archive, "water_points")
        assert name in err.value.zh and name in err.value.en
    encrypted = _zip_with(tmp_path / "encrypted.zip", [("a.csv", b"x,y\n1,2\n")])
    data = bytearray(encrypted.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the "encrypted" flag in the central directory
    encrypted.write_bytes(bytes(data))
    with pytest.raises(ImportRefused, match="encrypted"):
        do_import(import_engine, catalog, encrypted, "water_points")
    assert snapshot(import_engine, catalog) == before


def test_gbk_entry_names_in_zip_are_decoded(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    """Windows zip tools store Chinese entry names in GBK without the UTF-8 flag."""
    csv = (
        pd.DataFrame(
            {"编号": ["W-Z0"], "类型": ["机压井"], "状态": ["现有"], "经度": [LONLAT[2, 0]], "纬度": [LONLAT[2, 1]]}
        )
        .to_csv(index=False)
        .encode()
    )
    path = _zip_with(tmp_path / "gbk-names.zip", [("abcd.csv", csv)])
    data = path.read_bytes().replace(b"abcd.csv", "水井.csv".encode("gbk"))
    path.write_bytes(data)
    report = do_import(import_engine, catalog, path, "water_points")
    assert report.ok, report.to_text()
    assert report.sources[0].name == "gbk-names.zip/水井.csv"


def test_report_json_and_xlsx(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "bad.csv"
    pd.DataFrame(
        {"编号": ["W-J0"], "类型": ["水塔"], "状态": ["现有"], "经度": [LONLAT[0, 0]], "纬度": [LONLAT[0, 1]]}
    ).to_csv(path, index=False)
    report = do_import(import_engine, catalog, path, "water_points", dry_run=True)
    body = json.loads(json.dumps(report.to_dict(), default=str))
    assert {"layer", "features_read", "features_written", "encoding", "crs", "problems", "batch"} <= set(body)
    assert body["batch"] is None and body["crs"]["epsg"] == 4490
    assert (
        body["problems"][0] | {"feature": 0, "field": "类型", "value": "水塔", "code": "enum_unknown"}
        == body["problems"][0]
    )
    report.to_xlsx(tmp_path / "r.xlsx")
    ws = load_workbook(tmp_path / "r.xlsx")["问题 Problems"]
    assert [c.value for c in ws[2]][:6] == ["bad.csv", 0, "类型", "水塔", "error", "enum_unknown"]


def test_large_load_into_empty_layer_rebuilds_indexes(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    """Deferred index build: the indexes are back after a commit, and after a failed import too."""
    from fupin_gis.db.check import schema_problems

    lines = [shapely.LineString([(x, 31.9), (x + 0.001, 31.901)]) for x in np.linspace(107.20, 107.28, 40)]
    frame = gpd.GeoDataFrame(
        {"编号": [f"PL-{i}" for i in range(40)], "电压等级": [10] * 40, "建设状态": ["现有"] * 40},
        geometry=lines,
        crs=4490,
    )
    path = tmp_path / "power.gpkg"
    frame.to_file(path, engine="pyogrio")
    with import_engine.begin() as conn:
        conn.execute(text("DELETE FROM power_lines"))
    bad = tmp_path / "power-bad.gpkg"
    frame.assign(建设状态=["现有"] * 39 + ["烂尾"]).to_file(bad, engine="pyogrio")
    failed = do_import(import_engine, catalog, bad, "power_lines", defer_index_min=10)
    assert not failed.ok
    with import_engine.connect() as conn:
        assert schema_problems(conn, catalog) == []
    # A key repeated in a later chunk of a large load is found, and nothing is left behind.
    repeated = tmp_path / "power-repeated.gpkg"
    frame.assign(编号=[f"PL-{i}" for i in range(25)] + ["PL-3"] + [f"PL-{i}" for i in range(26, 40)]).to_file(
        repeated, engine="pyogrio"
    )
    failed = do_import(import_engine, catalog, repeated, "power_lines", defer_index_min=10, chunk_size=10)
    assert [(p.code, p.feature, p.value) for p in failed.problems.items if p.severity == "error"] == [
        ("duplicate_key", 25, "PL-3")
    ]
    with import_engine.connect() as conn:
        assert schema_problems(conn, catalog) == []
        assert conn.execute(text("SELECT count(*) FROM power_lines")).scalar_one() == 0
    report = do_import(import_engine, catalog, path, "power_lines", defer_index_min=10)
    assert report.ok and report.inserted == 40
    with import_engine.connect() as conn:
        assert schema_problems(conn, catalog) == []
        assert conn.execute(text("SELECT count(*) FROM power_lines WHERE code LIKE 'PL-%'")).scalar_one() == 40


def test_key_repeated_across_chunks_is_refused(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    """The first copy goes straight into the layer, the repeat in a later chunk is staged: still refused."""
    path = tmp_path / "repeat.csv"
    pd.DataFrame(
        {
            "编号": ["W-D0", "W-D1", "W-D2", "W-D0"],
            "类型": ["机压井"] * 4,
            "状态": ["现有"] * 4,
            "经度": LONLAT[:, 0],
            "纬度": LONLAT[:, 1],
        }
    ).to_csv(path, index=False)
    before = snapshot(import_engine, catalog)
    report = do_import(import_engine, catalog, path, "water_points", chunk_size=2)
    dup = [p for p in report.problems.items if p.code == "duplicate_key"]
    assert [(p.feature, p.value) for p in dup] == [(3, "W-D0")]
    assert report.batch is None and snapshot(import_engine, catalog) == before
