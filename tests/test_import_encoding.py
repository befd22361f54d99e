"""Encodings read from field names as well as values, and every text that does not decode told
by file and field — from the importer, the CLI (exit 2) and the API (4xx) — with nothing written.

The files are real: Shapefiles written by GDAL with GBK field names, their .dbf headers patched
byte by byte where GDAL would not write the fault; GeoJSON and CSV written as bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from ingest_helpers import codes, do_import, shapefile_parts, snapshot, write_shapefile, zip_files
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from fupin_gis.catalog import Catalog
from fupin_gis.cli import app
from fupin_gis.errors import ImportRefused
from fupin_gis.ingest.shapefile import dbf_field_names, read_header, undecodable_values
from fupin_gis.main import create_app
from fupin_gis.settings import Settings

# Field names in GBK, values all ASCII (codes, the catalog's letter codes, numbers).
ROADS = {
    "道路编号": ["ENC-R1", "ENC-R2", "ENC-R3"],
    "道路等级": ["C", "Y", "X"],
    "路面类型": ["YH", "SS", "TL"],
    "路面宽度": [4.5, 3.0, 6.5],
    "建设状态": ["YJ", "GH", "WG"],
}
LINES = [
    shapely.LineString([(107.2101, 31.9012), (107.2155, 31.9037)]),
    shapely.LineString([(107.2402, 31.8831), (107.2433, 31.8855)]),
    shapely.LineString([(107.2655, 31.9237), (107.2702, 31.9261)]),
]


def _roads(tmp_path: Path, name: str, rows: dict | None = None, **kwargs: object) -> Path:
    frame = gpd.GeoDataFrame(rows or ROADS, geometry=LINES, crs=4490)
    return write_shapefile(frame, tmp_path / f"{name}.shp", "GBK", **kwargs)  # type: ignore[arg-type]


def _patch_name(shp: Path, position: int, raw: bytes) -> None:
    """Overwrite the name of field ``position`` (1-based) in the .dbf header with ``raw``."""
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    at = 32 * position
    data[at : at + 11] = raw.ljust(11, b"\x00")
    dbf.write_bytes(bytes(data))


def _patch_value(shp: Path, record: int, field: int, raw: bytes) -> None:
    """Overwrite the start of a text value in the .dbf (``field`` 0-based) with ``raw``."""
    dbf = shp.with_suffix(".dbf")
    header = read_header(dbf)
    assert header is not None
    f = header.fields[field]
    data = bytearray(dbf.read_bytes())
    at = header.header_length + record * header.record_length + f.offset
    data[at : at + len(raw)] = raw
    dbf.write_bytes(bytes(data))


def _env(engine: Engine) -> dict[str, str]:
    return {"DATABASE_URL": engine.url.render_as_string(hide_password=False).replace("+psycopg", "")}


@pytest.fixture(scope="module")
def client(base_settings: Settings, import_engine: Engine) -> Iterator[TestClient]:
    url = import_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(base_settings.model_copy(update={"database_url": url}))) as c:
        yield c


def _post(client: TestClient, layer: str, path: Path, name: str | None = None, **form: object):  # noqa: ANN202
    return client.post(
        f"/api/layers/{layer}/imports", files={"file": (name or path.name, path.read_bytes())}, data=form
    )


@pytest.mark.parametrize(
    ("cpg", "ldid"),
    [(None, 0x00), (None, 0x57), ("UTF-8", 0x00)],
    ids=["no-cpg", "ldid-ansi", "cpg-says-utf8"],
)
def test_gbk_names_ascii_values_are_read(
    tmp_path: Path, import_engine: Engine, catalog: Catalog, cpg: str | None, ldid: int
) -> None:
    """The crash file of issue 12: before, the encoding came from the values (all ASCII → UTF-8)
    and reading the names raised UnicodeDecodeError."""
    shp = _roads(tmp_path, "道路", ldid=ldid)
    if cpg:
        shp.with_suffix(".cpg").write_text(cpg)
    assert dbf_field_names(shp.with_suffix(".dbf"))[:2] == ["道路编号".encode("gbk"), "道路等级".encode("gbk")]
    archive = zip_files(tmp_path / f"roads-{ldid}-{cpg}.zip", shapefile_parts(shp))
    report = do_import(import_engine, catalog, archive, "roads")
    assert report.ok, report.to_text()
    src = report.sources[0]
    assert src.encoding["name"] == "gb18030" and src.encoding["source"] == "detected"
    assert src.encoding.get("cpg_said") == cpg
    assert ("cpg_contradicted" in codes(report, "warning")) == bool(cpg)
    assert src.mapping == {
        "道路编号": "code",
        "道路等级": "road_class",
        "路面类型": "surface",
        "路面宽度": "width_m",
        "建设状态": "status",
    }
    with import_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, road_class, surface, width_m, status, ST_NumGeometries(geom) FROM roads"
                " WHERE batch_id = :b ORDER BY code"
            ),
            {"b": report.batch},
        ).all()
    assert [tuple(r) for r in rows] == [
        ("ENC-R1", "village", "hardened", 4.5, "existing", 1),
        ("ENC-R2", "township", "gravel", 3.0, "planned", 1),
        ("ENC-R3", "county", "earth", 6.5, "completed", 1),
    ]
    with import_engine.begin() as conn:  # the next case imports the same codes
        conn.execute(text("DELETE FROM roads WHERE batch_id = :b"), {"b": report.batch})


def test_names_in_no_encoding_refused_everywhere(
    tmp_path: Path, import_engine: Engine, catalog: Catalog, client: TestClient
) -> None:
    shp = _roads(tmp_path, "乱码字段")
    _patch_name(shp, 3, b"\xff\xfe\xfdLX")  # 0xFF starts no character in UTF-8, GBK or Big5
    archive = zip_files(tmp_path / "乱码字段.zip", shapefile_parts(shp))
    before = snapshot(import_engine, catalog)
    with pytest.raises(ImportRefused) as caught:
        do_import(import_engine, catalog, archive, "roads")
    err = caught.value
    assert err.details["file"] == "乱码字段.zip/乱码字段.shp" and err.details["value"].startswith("ff fe fd")
    assert "field 3" in err.en and "乱码字段.shp" in err.en and "第 3 个字段" in err.zh
    cli = CliRunner().invoke(app, ["import", str(archive), "--layer", "roads", "--json"], env=_env(import_engine))
    assert cli.exit_code == 2, cli.output
    assert json.loads(cli.stdout)["code"] == "import_refused" and "Traceback" not in cli.output
    api = _post(client, "roads", archive)
    assert api.status_code == 400, api.text
    assert api.json()["file"] == "乱码字段.zip/乱码字段.shp" and "field 3" in api.json()["message_en"]
    assert snapshot(import_engine, catalog) == before


def test_names_and_values_in_different_encodings_refused(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    """One GBK name among UTF-8 names and values: no one encoding reads both; the name is refused."""
    n = 30
    rows = {
        "code": [f"ENC-M{i}" for i in range(n)],
        "name": [f"龙王村{i}号道" for i in range(n)],
        "road_class": ["村道"] * n,
        "surface": ["水泥路"] * n,
        "status": ["现有"] * n,
    }
    lines = [shapely.LineString([(107.21 + i / 1000, 31.90), (107.211 + i / 1000, 31.901)]) for i in range(n)]
    shp = write_shapefile(gpd.GeoDataFrame(rows, geometry=lines, crs=4490), tmp_path / "mixed.shp", "UTF-8")
    _patch_name(shp, 2, "道路名称".encode("gbk"))
    with pytest.raises(ImportRefused) as caught:
        do_import(import_engine, catalog, shp, "roads")
    assert "field 2" in caught.value.en and "utf-8" in caught.value.en and "gb18030" in caught.value.en
    assert caught.value.details["field"] == "道路名称"  # read in the encoding the bytes fit (for the person)


def test_value_beyond_the_samples_that_does_not_decode(
    tmp_path: Path, import_engine: Engine, catalog: Catalog, client: TestClient
) -> None:
    """Detection samples the first 5,000 records; GDAL drops bytes it cannot convert without a
    word (and warns once per process): every value is checked, by field."""
    n = 6000
    frame = gpd.GeoDataFrame(
        {
            "编号": [f"ENC-W{i:05d}" for i in range(n)],
            "名称": ["龙王村机压井"] * n,
            "水源类型": ["机压井"] * n,
            "状态": ["现有"] * n,
        },
        geometry=gpd.points_from_xy([107.2101] * n, [31.9012] * n),
        crs=4490,
    )
    shp = write_shapefile(frame, tmp_path / "水源.shp", "GBK")
    _patch_value(shp, 5500, 1, b"\xff\xfe")
    _patch_value(shp, 5900, 1, b"\xff\xfd")
    found = undecodable_values(shp.with_suffix(".dbf"), "gb18030", block=1000)  # across blocks
    assert [(f.field.decode("gbk"), f.record, f.count) for f in found] == [("名称", 5500, 2)]
    assert undecodable_values(shp.with_suffix(".dbf"), "gb18030") == found
    archive = zip_files(tmp_path / "水源.zip", shapefile_parts(shp))
    before = snapshot(import_engine, catalog)
    report = do_import(import_engine, catalog, archive, "water_points")
    assert not report.ok and report.batch is None
    problem = next(p for p in report.problems.items if p.code == "text_undecodable")
    assert (problem.file, problem.field, problem.feature) == ("水源.zip/水源.shp", "名称", 5500)
    assert "record 5501" in problem.message_en and "ff fe" in problem.message_en and "1 more" in problem.message_en
    api = _post(client, "water_points", archive)
    assert api.status_code == 422, api.text
    assert any(p["code"] == "text_undecodable" and p["field"] == "名称" for p in api.json()["problems"])
    assert snapshot(import_engine, catalog) == before


def test_clean_files_pass_the_value_check(tmp_path: Path) -> None:
    shp = _roads(tmp_path, "clean", rows=dict(ROADS, 道路名称=["龙王村道", "白果坝路", "迎春路"]))
    assert undecodable_values(shp.with_suffix(".dbf"), "gb18030") == []
    bad = undecodable_values(shp.with_suffix(".dbf"), "utf-8")
    assert [(f.field.decode("gbk"), f.record, f.count) for f in bad] == [("道路名称", 0, 3)]


GEOJSON = (
    '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
    '{"编号":"ENC-J1","名称":"龙王村机压井","水源类型":"机压井","状态":"现有"},'
    '"geometry":{"type":"Point","coordinates":[107.2101,31.9012]}}]}'
)


@pytest.mark.parametrize(
    ("name", "data", "field"),
    [
        ("gbk-names.geojson", GEOJSON.encode("gbk"), "编号"),
        (
            "gbk-values.geojson",
            GEOJSON.replace("名称", "name")
            .encode("utf-8")
            .replace("龙王村机压井".encode(), "龙王村机压井".encode("gbk")),
            "name",
        ),
    ],
)
def test_geojson_that_is_not_utf8_refused(
    tmp_path: Path, import_engine: Engine, catalog: Catalog, client: TestClient, name: str, data: bytes, field: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    before = snapshot(import_engine, catalog)
    with pytest.raises(ImportRefused) as caught:
        do_import(import_engine, catalog, path, "water_points")
    assert caught.value.details["file"] == name and caught.value.details["field"] == field
    assert "UTF-8" in caught.value.en and "UTF-8" in caught.value.zh
    api = _post(client, "water_points", path)
    assert api.status_code == 400 and api.json()["field"] == field, api.text
    assert snapshot(import_engine, catalog) == before


def test_csv_cell_that_does_not_decode_named_by_row_and_column(
    tmp_path: Path, import_engine: Engine, catalog: Catalog, client: TestClient
) -> None:
    path = tmp_path / "水源.csv"
    path.write_bytes(
        "编号,类型,状态,经度,纬度\nENC-C1,机压井,现有,107.21,31.90\n".encode() + b"ENC-C2,\xff\xfe,x,107.22,31.91\n"
    )
    for option, said in ((None, "neither UTF-8 nor GBK"), ("utf-8", "is not utf-8")):
        with pytest.raises(ImportRefused) as caught:
            do_import(import_engine, catalog, path, "water_points", encoding=option)
        assert "row 3, column '类型'" in caught.value.en and said in caught.value.en
        assert caught.value.details["field"] == "类型"
    cli = CliRunner().invoke(app, ["import", str(path), "--layer", "water_points"], env=_env(import_engine))
    assert cli.exit_code == 2 and "类型" in cli.output and "Traceback" not in cli.output
    api = _post(client, "water_points", path)
    assert api.status_code == 400 and api.json()["field"] == "类型", api.text
