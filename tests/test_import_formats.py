"""Formats other survey tools bring: GPX from phone track recorders and handheld GPS, MapInfo
TAB/MIF from county GIS offices (declared and undeclared GBK), CAD drawings (DXF) that mix text,
points and lines, and Excel 97–2003 workbooks. Rows and decoded values are checked in PostGIS."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import xlwt
from ingest_helpers import do_import, snapshot
from pyproj import Transformer
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.errors import ImportRefused, UnsupportedFormat

ROAD_DEFAULTS = {"road_class": "村道", "surface": "硬化", "status": "现有"}

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="两步路户外助手" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="31.9012" lon="107.2101"><ele>512</ele><name>龙王村机压井</name></wpt>
<trk><name>龙王村通村路</name><trkseg>
<trkpt lat="31.9000" lon="107.2100"><ele>500</ele><time>2026-05-01T08:00:00Z</time></trkpt>
<trkpt lat="31.9050" lon="107.2200"><ele>510</ele><time>2026-05-01T08:05:00Z</time></trkpt>
</trkseg></trk>
<trk><name>迎春村通组路</name><trkseg>
<trkpt lat="31.9100" lon="107.2300"/><trkpt lat="31.9150" lon="107.2400"/><trkpt lat="31.9200" lon="107.2500"/>
</trkseg></trk>
</gpx>
"""


def _rows(engine: Engine, sql: str, batch: int | None) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), {"b": batch}).all()]


def test_gpx_tracks_become_roads_and_waypoints_water_points(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    path = tmp_path / "轨迹.gpx"
    path.write_text(GPX, encoding="utf-8")
    report = do_import(import_engine, catalog, path, "roads", defaults=ROAD_DEFAULTS)
    assert report.ok, report.to_text()
    assert report.inserted == 2  # the two tracks; their points are not features
    rows = _rows(
        import_engine,
        "SELECT name, ST_AsText(geom), ST_Z(ST_StartPoint(ST_GeometryN(geom, 1))) FROM roads WHERE batch_id = :b ORDER BY name",
        report.batch,
    )
    assert rows == [
        ("迎春村通组路", "MULTILINESTRING((107.23 31.91,107.24 31.915,107.25 31.92))", None),
        ("龙王村通村路", "MULTILINESTRING((107.21 31.9,107.22 31.905))", None),
    ]
    # The same file for a point layer: the waypoint only, not the five track points.
    report = do_import(
        import_engine, catalog, path, "water_points", defaults={"kind": "机压井", "status": "现有"}, replace=True
    )
    assert report.ok, report.to_text()
    assert report.inserted == 1
    assert _rows(
        import_engine, "SELECT name, ST_X(geom), ST_Y(geom) FROM water_points WHERE batch_id = :b", report.batch
    ) == [("龙王村机压井", 107.2101, 31.9012)]


def _water_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["W-M0", "W-M1"],
            "name": ["龙王村机压井", "白果坝集中供水点"],
            "kind": ["机压井", "集中供水"],
            "status": ["现有", "已建"],
        },
        geometry=[shapely.Point(107.2101, 31.9012), shapely.Point(107.2655, 31.9237)],
        crs=4490,
    ).to_crs(4545)  # CGCS2000 3-degree Gauss-Kruger, central meridian 108E


def test_mapinfo_tab_and_mif_with_and_without_a_declared_charset(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    frame = _water_frame()
    declared = tmp_path / "declared"
    declared.mkdir()
    frame.to_file(declared / "水源.tab", driver="MapInfo File", engine="pyogrio", layer_options={"ENCODING": "CP936"})
    assert b"WindowsSimpChinese" in (declared / "水源.tab").read_bytes()
    zipped = tmp_path / "水源-tab.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for part in sorted(declared.iterdir()):
            zf.write(part, f"成果/{part.name}")
    # A MIF exported by a tool that writes GBK text but declares no charset ("Neutral").
    neutral = tmp_path / "neutral"
    neutral.mkdir()
    frame.assign(code=["W-N0", "W-N1"]).to_file(
        neutral / "水源.mif", driver="MapInfo File", engine="pyogrio", encoding="GBK", layer_options={"FORMAT": "MIF"}
    )
    assert b'Charset "Neutral"' in (neutral / "水源.mif").read_bytes()
    back = Transformer.from_crs(4545, 4490, always_xy=True)
    for path, source in ((zipped, "format"), (neutral / "水源.mif", "detected")):
        report = do_import(import_engine, catalog, path, "water_points", replace=True)
        assert report.ok, report.to_text()
        encoding = report.sources[0].encoding
        if source == "format":  # the declared charset is GDAL's to decode: nothing to decide
            assert encoding is None
        else:
            assert encoding is not None and (encoding["source"], encoding["name"]) == ("detected", "gb18030")
        rows = _rows(
            import_engine,
            "SELECT name, kind, ST_X(geom), ST_Y(geom) FROM water_points WHERE batch_id = :b ORDER BY code",
            report.batch,
        )
        assert [r[:2] for r in rows] == [("龙王村机压井", "hand_pump_well"), ("白果坝集中供水点", "central_supply")]
        for (_, _, x, y), p in zip(rows, frame.geometry, strict=True):
            lon, lat = back.transform(p.x, p.y)
            # MapInfo names no CGCS2000 datum (GDAL writes WGS 84): the two agree within centimetres.
            assert abs(x - lon) < 1e-6 and abs(y - lat) < 1e-6
    # The original upload is untouched: only the working copy's header was made to declare GBK.
    assert b'Charset "Neutral"' in (neutral / "水源.mif").read_bytes()


def test_cad_drawing_takes_its_lines_and_leaves_the_rest_out(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    # A CASS-style drawing in Gauss-Kruger zone 36 with the zone number in the easting, no .prj:
    # two road centre lines, a text point and a closed parcel.
    to_gk = Transformer.from_crs(4490, 4524, always_xy=True)
    a, b, c = (to_gk.transform(lon, lat) for lon, lat in [(107.21, 31.90), (107.22, 31.905), (107.23, 31.91)])
    square = shapely.box(a[0], a[1], a[0] + 50, a[1] + 50)
    drawing = gpd.GeoDataFrame(
        {"Layer": ["DLSS", "DLSS", "ZJ", "JMD"]},
        geometry=[shapely.LineString([a, b]), shapely.LineString([b, c]), shapely.Point(a), square],
    )
    path = tmp_path / "道路测绘.dxf"
    drawing.to_file(path, driver="DXF", engine="pyogrio")
    report = do_import(import_engine, catalog, path, "roads", defaults=ROAD_DEFAULTS)
    assert report.ok, report.to_text()
    before_points = snapshot(import_engine, catalog)
    assert report.sources[0].crs["epsg"] == 4524 and report.sources[0].crs["source"] == "inferred"
    assert report.features_read == 4 and report.inserted == 2
    [left] = [p for p in report.problems.items if p.code == "left_out_other_types"]
    assert left.severity == "warning" and "2" in left.message_en and "points 1" in left.message_en
    rows = _rows(
        import_engine,
        "SELECT extra->>'Layer', ST_AsBinary(geom) FROM roads WHERE batch_id = :b ORDER BY id",
        report.batch,
    )
    assert [r[0] for r in rows] == ["DLSS", "DLSS"]
    lines = [shapely.get_coordinates(shapely.from_wkb(bytes(r[1]))).tolist() for r in rows]
    expected = [[[107.21, 31.90], [107.22, 31.905]], [[107.22, 31.905], [107.23, 31.91]]]
    assert all(
        abs(got - want) < 1e-8  # the Gauss-Kruger round trip, well under a millimetre
        for line, want_line in zip(lines, expected, strict=True)
        for point, want_point in zip(line, want_line, strict=True)
        for got, want in zip(point, want_point, strict=True)
    ), lines
    # Into a point layer the drawing gives its one point; without the defaults nothing is written.
    report = do_import(import_engine, catalog, path, "water_points", replace=True)
    assert not report.ok and report.features_read == 4
    assert {p.code for p in report.problems.items if p.severity == "error"} == {"required_field_missing"}
    assert "left_out_other_types" in {p.code for p in report.problems.items}
    assert snapshot(import_engine, catalog) == before_points


def test_excel_97_workbook(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("水源点")
    rows = [
        ["编号", "名称", "类型", "状态", "受益户数", "经度", "纬度"],
        ["W-X97-0", "龙王村机压井", "机压井", "现有", 12, 107.2101, 31.9012],
        ["W-X97-1", "迎春村蓄水池", "蓄水池", "规划", "３０", "107°15′54.72″", "31°53′47.16″"],
    ]
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            sheet.write(r, c, value)
    path = tmp_path / "水源调查.xls"
    book.save(str(path))
    report = do_import(import_engine, catalog, path, "water_points")
    assert report.ok, report.to_text()
    got = _rows(
        import_engine,
        "SELECT code, name, kind, status, households_served, round(ST_X(geom)::numeric, 6), round(ST_Y(geom)::numeric, 6) "
        "FROM water_points WHERE batch_id = :b ORDER BY code",
        report.batch,
    )
    assert [r[:5] for r in got] == [
        ("W-X97-0", "龙王村机压井", "hand_pump_well", "existing", 12),
        ("W-X97-1", "迎春村蓄水池", "storage_tank", "planned", 30),
    ]
    assert [(float(r[5]), float(r[6])) for r in got] == [(107.2101, 31.9012), (107.2652, 31.896433)]


def test_county_spreadsheets_with_title_rows_note_sheets_and_semicolons(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    from openpyxl import Workbook

    header = ["编号", "名称", "类型", "状态", "经度", "纬度"]
    book = Workbook()
    note = book.active
    note.title = "填表说明"
    note.append(["本表由村委会填报，坐标用手机定位"])
    sheet = book.create_sheet("水源点")
    sheet.append(["通江县龙王村饮水安全调查表"])  # a title row, a blank row, then the header
    sheet.append([])
    sheet.append(header)
    sheet.append(["W-T0", "龙王村机压井", "机压井", "现有", 107.2101, 31.9012])
    xlsx = tmp_path / "调查表.xlsx"
    book.save(xlsx)
    report = do_import(import_engine, catalog, xlsx, "water_points")
    assert report.ok, report.to_text()
    assert report.inserted == 1
    assert "工作表 sheet: 水源点" in report.sources[0].notes
    assert any("row 3" in n for n in report.sources[0].notes)
    csv = tmp_path / "分号.csv"
    csv.write_text("编号;名称;类型;状态;经度;纬度\nW-T1;迎春村蓄水池;蓄水池;规划;107.2402;31.8831\n", encoding="utf-8")
    report = do_import(import_engine, catalog, csv, "water_points")
    assert report.ok, report.to_text()
    assert _rows(
        import_engine, "SELECT code, name, kind, ST_X(geom) FROM water_points WHERE batch_id = :b", report.batch
    ) == [("W-T1", "迎春村蓄水池", "storage_tank", 107.2402)]


def test_empty_files_say_so(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    empty = tmp_path / "空.csv"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedFormat, match="empty"):
        do_import(import_engine, catalog, empty, "water_points")
    for name, body in [
        ("表头.csv", "编号,类型,状态,经度,纬度\n"),
        ("空.geojson", '{"type": "FeatureCollection", "features": []}'),
    ]:
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        report = do_import(import_engine, catalog, path, "water_points")
        assert [p.code for p in report.problems.items] == ["no_features"], report.to_text()


def test_phone_app_kml_extended_data_and_a_shapefile_without_its_index(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    kml = tmp_path / "奥维.kml"
    kml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<Folder><name>水源</name><Placemark><name>龙王村机压井</name><ExtendedData>"
        '<Data name="编号"><value>W-O0</value></Data><Data name="类型"><value>机压井</value></Data>'
        '<Data name="状态"><value>现有</value></Data><Data name="受益户数"><value>18</value></Data>'
        "</ExtendedData><Point><coordinates>107.2101,31.9012,0</coordinates></Point></Placemark>"
        "</Folder></Document></kml>",
        encoding="utf-8",
    )
    report = do_import(import_engine, catalog, kml, "water_points", mapping={"Name": "name"})
    assert report.ok, report.to_text()
    assert _rows(
        import_engine,
        "SELECT code, name, kind, households_served, extra->>'folder' FROM water_points WHERE batch_id = :b",
        report.batch,
    ) == [("W-O0", "龙王村机压井", "hand_pump_well", 18, "水源")]
    frame = gpd.GeoDataFrame(
        {"编号": ["W-S0"], "类型": ["机压井"], "状态": ["现有"]}, geometry=[shapely.Point(107.2655, 31.9237)], crs=4490
    )
    folder = tmp_path / "noshx"
    folder.mkdir()
    frame.to_file(folder / "水源.shp", engine="pyogrio", encoding="gbk")
    (folder / "水源.shx").unlink()
    zipped = tmp_path / "noshx.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    report = do_import(import_engine, catalog, zipped, "water_points")
    assert report.ok, report.to_text()
    assert _rows(
        import_engine, "SELECT code, ST_X(geom), ST_Y(geom) FROM water_points WHERE batch_id = :b", report.batch
    ) == [("W-S0", 107.2655, 31.9237)]
    assert any(".shx" in n for n in report.sources[0].notes)
    # Without its .dbf the geometry reads but carries nothing: said so, beside the missing fields.
    (folder / "水源.dbf").unlink()
    (folder / "水源.shx").unlink(missing_ok=True)
    report = do_import(import_engine, catalog, folder / "水源.shp", "water_points")
    assert not report.ok
    assert {(p.code, p.severity) for p in report.problems.items} == {
        ("dbf_missing", "warning"),
        ("import_default_applied", "warning"),  # status: a survey of what exists
        ("required_field_missing", "error"),  # kind has no default: asked for
    }


def test_coordinate_cells_as_people_fill_them(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    # Swapped 经度/纬度 columns are read the right way round, with a warning to check them.
    swapped = tmp_path / "填反.csv"
    swapped.write_text("编号,类型,状态,经度,纬度\nW-C0,机压井,现有,31.9012,107.2101\n", encoding="utf-8")
    report = do_import(import_engine, catalog, swapped, "water_points")
    assert report.ok, report.to_text()
    assert [p.code for p in report.problems.items] == ["coordinates_swapped"]
    assert _rows(
        import_engine, "SELECT ST_X(geom), ST_Y(geom) FROM water_points WHERE batch_id = :b", report.batch
    ) == [(107.2101, 31.9012)]
    # Hemisphere letters before the degrees, Chinese 东经/北纬; a cell that is no number; empty cells.
    cells = tmp_path / "度分秒.csv"
    cells.write_text(
        "编号,类型,状态,经度,纬度\n"
        "W-C1,机压井,现有,E107°12′36″,N31°54′\n"
        "W-C2,机压井,现有,东经107度12分36秒,北纬31度54分\n"
        "W-C3,机压井,现有,107.21,abc\n"
        "W-C4,机压井,现有,,\n",
        encoding="utf-8",
    )
    report = do_import(import_engine, catalog, cells, "water_points")
    assert [(p.feature, p.code, p.value) for p in report.problems.items] == [
        (2, "coordinates_unreadable", "107.21 / abc"),
        (3, "coordinates_missing", None),
    ]
    report = do_import(import_engine, catalog, cells, "water_points", dry_run=True)
    assert report.features_read == 4
    cells.write_text("\n".join(cells.read_text(encoding="utf-8").splitlines()[:3]) + "\n", encoding="utf-8")
    report = do_import(import_engine, catalog, cells, "water_points")
    assert report.ok, report.to_text()
    assert _rows(
        import_engine,
        "SELECT round(ST_X(geom)::numeric, 9)::float, round(ST_Y(geom)::numeric, 9)::float "
        "FROM water_points WHERE batch_id = :b ORDER BY code",
        report.batch,
    ) == [(107.21, 31.9), (107.21, 31.9)]


def test_zip_inside_a_zip(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    frame = gpd.GeoDataFrame(
        {"编号": ["W-Z0"], "类型": ["机压井"], "状态": ["现有"]}, geometry=[shapely.Point(107.2101, 31.9012)], crs=4490
    )
    folder = tmp_path / "inner"
    folder.mkdir()
    frame.to_file(folder / "水源.shp", engine="pyogrio", encoding="gbk")
    inner = tmp_path / "水源.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    outer = tmp_path / "成果.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "2026年成果/水源.zip")
        zf.writestr("2026年成果/说明.txt", "村委会报送")
    report = do_import(import_engine, catalog, outer, "water_points")
    assert report.ok, report.to_text()
    assert _rows(import_engine, "SELECT code FROM water_points WHERE batch_id = :b", report.batch) == [("W-Z0",)]


def test_surveyors_x_is_the_northing(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    """测量坐标系: X north, Y east — with and without the zone number in the easting."""
    lon, lat = 107.2101, 31.9012
    for epsg, name in ((4524, "带号.csv"), (4545, "无带号.csv")):
        east, north = Transformer.from_crs(4490, epsg, always_xy=True).transform(lon, lat)
        path = tmp_path / name
        path.write_text(
            f"点号,X坐标,Y坐标,编号,类型,状态\n1,{north:.3f},{east:.3f},W-XY{epsg},机压井,现有\n", encoding="utf-8"
        )
        report = do_import(import_engine, catalog, path, "water_points")
        assert report.ok, report.to_text()
        assert report.sources[0].crs["epsg"] == epsg
        assert [p.code for p in report.problems.items] == ["xy_surveying_order"]
        [(x, y)] = _rows(
            import_engine, "SELECT ST_X(geom), ST_Y(geom) FROM water_points WHERE batch_id = :b", report.batch
        )
        assert abs(x - lon) < 1e-7 and abs(y - lat) < 1e-7  # millimetres


def test_a_cpg_the_text_contradicts(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    frame = gpd.GeoDataFrame(
        {"编号": ["W-CPG"], "名称": ["龙王村机压井"], "类型": ["机压井"], "状态": ["现有"]},
        geometry=[shapely.Point(107.2101, 31.9012)],
        crs=4490,
    )
    path = tmp_path / "水源.shp"
    frame.to_file(path, engine="pyogrio", encoding="gbk")
    path.with_suffix(".cpg").write_text("UTF-8")  # as some tools write it, over GBK text
    report = do_import(import_engine, catalog, path, "water_points")
    assert report.ok, report.to_text()
    assert [p.code for p in report.problems.items] == ["cpg_contradicted"]
    assert report.sources[0].encoding["name"] == "gb18030" and report.sources[0].encoding["cpg_said"] == "UTF-8"
    assert _rows(import_engine, "SELECT name FROM water_points WHERE batch_id = :b", report.batch) == [
        ("龙王村机压井",)
    ]
    # An --encoding the bytes contradict is refused with the one they fit (it was a crash).
    with pytest.raises(ImportRefused, match="gb18030"):
        do_import(import_engine, catalog, path, "water_points", encoding="utf-8", replace=True)


def test_geopackage_with_an_attribute_table_and_dates_for_years(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    import datetime

    import pandas as pd
    import pyogrio

    path = tmp_path / "交通局.gpkg"
    gpd.GeoDataFrame(
        {
            "编号": ["R-D0", "R-D1", "R-D2"],
            "道路等级": ["村道"] * 3,
            "路面类型": ["硬化"] * 3,
            "状态": ["现有"] * 3,
            "建成年份": [datetime.date(2015, 6, 1), datetime.date(2018, 1, 1), None],
        },
        geometry=[shapely.LineString([(107.21 + k / 100, 31.90), (107.215 + k / 100, 31.905)]) for k in range(3)],
        crs=4490,
    ).to_file(path, engine="pyogrio", layer="道路")
    pyogrio.write_dataframe(pd.DataFrame({"说明": ["来源：县交通运输局"]}), path, layer="元数据", driver="GPKG")
    report = do_import(import_engine, catalog, path, "roads")
    assert report.ok, report.to_text()
    assert [s.skipped for s in report.sources] == [None, "没有几何（属性表）/ no geometry (an attribute table)"]
    assert [(p.feature, p.code) for p in report.problems.items] == [(0, "year_from_date"), (1, "year_from_date")]
    assert _rows(
        import_engine, "SELECT code, year_built FROM roads WHERE batch_id = :b ORDER BY code", report.batch
    ) == [("R-D0", 2015), ("R-D1", 2018), ("R-D2", None)]


def test_date_text_for_a_year_takes_only_certain_years(catalog: Catalog) -> None:
    import pandas as pd

    from fupin_gis.ingest.values import convert

    raw = ["2015-06-01", "2015/6/1", "2015年6月", "2015年6月1日", "1850-01-01", "2015-13", "2015-6-40", "二〇一五"]
    values, issues = convert(pd.Series(raw, dtype=object), catalog.layer("roads").field("year_built"), catalog)
    assert values.tolist() == [2015, 2015, 2015, 2015, pd.NA, pd.NA, pd.NA, pd.NA]
    assert [i.code for i in issues] == ["year_from_date"] * 4 + ["out_of_range"] + ["not_a_number"] * 3


def test_a_sheets_total_row_is_not_a_feature(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    path = tmp_path / "汇总.csv"
    path.write_text(
        "编号,类型,状态,受益户数,经度,纬度\n"
        "W-T10,机压井,现有,12,107.2101,31.9012\n"
        "W-T11,蓄水池,规划,30,107.2402,31.8831\n"
        "合  计,,,42,,\n",
        encoding="gbk",
    )
    report = do_import(import_engine, catalog, path, "water_points")
    assert report.ok, report.to_text()
    assert [(p.code, p.severity) for p in report.problems.items] == [("summary_rows_skipped", "warning")]
    assert report.features_read == 3 and report.inserted == 2
    # A row without coordinates that is no total is still an error.
    path.write_text(path.read_text(encoding="gbk").replace("合  计", "W-T12"), encoding="gbk")
    report = do_import(import_engine, catalog, path, "water_points", replace=True)
    assert not report.ok
    assert "coordinates_missing" in {p.code for p in report.problems.items}


def test_nul_characters_are_dropped_not_a_crash(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(
        "编号,名称,类型,状态,备注,经度,纬度\nW-NUL,龙王\x00村,机压井,现有,坏\x00字,107.2101,31.9012\n".encode()
    )
    report = do_import(import_engine, catalog, path, "water_points")
    assert report.ok, report.to_text()
    assert _rows(import_engine, "SELECT name, extra->>'备注' FROM water_points WHERE batch_id = :b", report.batch) == [
        ("龙王村", "坏字")
    ]


def test_phone_app_kml_track_with_its_marker_points(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    """A track exported with start/end markers: a MultiGeometry (point + line) and a marker placemark."""
    kml = tmp_path / "轨迹.kml"
    kml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<Placemark><name>龙王村通村路</name><MultiGeometry>"
        "<Point><coordinates>107.21,31.90,0</coordinates></Point>"
        "<LineString><coordinates>107.21,31.90,512 107.22,31.905,530</coordinates></LineString>"
        "</MultiGeometry></Placemark>"
        "<Placemark><name>终点</name><Point><coordinates>107.22,31.905,0</coordinates></Point></Placemark>"
        "</Document></kml>",
        encoding="utf-8",
    )
    report = do_import(import_engine, catalog, kml, "roads", defaults=ROAD_DEFAULTS, mapping={"Name": "name"})
    assert report.ok, report.to_text()
    assert report.features_read == 2 and report.inserted == 1
    [left] = report.problems.items
    assert (left.code, left.severity) == ("left_out_other_types", "warning") and "points 2" in left.message_en
    assert _rows(import_engine, "SELECT name, ST_AsText(geom) FROM roads WHERE batch_id = :b", report.batch) == [
        ("龙王村通村路", "MULTILINESTRING((107.21 31.9,107.22 31.905))")
    ]
