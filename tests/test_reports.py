"""Reports from a coverage snapshot, in every format, checked against independent computations."""

from __future__ import annotations

import csv
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pyproj import Geod
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.snapshots import create_run
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.main import create_app
from fupin_gis.reports import figures
from fupin_gis.reports.build import build_report
from fupin_gis.reports.render import write
from fupin_gis.settings import CoverageSettings, Settings

TEMPLATES = Settings().web_dir / "templates"


@pytest.fixture(scope="module")
def run(import_engine: Engine, catalog: Catalog) -> dict[str, Any]:
    """One coverage run of the plan-scale demo."""
    return create_run(import_engine, CoverageSettings(), catalog)


@pytest.fixture(scope="module")
def reports_dir(output_dir: Path) -> Path:
    out = output_dir / "reports"
    out.mkdir(exist_ok=True)
    return out


def _metric_crs(engine: Engine) -> str:
    with engine.connect() as conn:
        lon = conn.execute(text("SELECT ST_X(ST_Centroid(ST_Extent(geom))) FROM counties")).scalar_one()
    return f"EPSG:{4534 + round((lon - 75) / 3)}"


def test_villages_lacking_gpkg_agrees_with_geopandas(
    import_engine: Engine, catalog: Catalog, run: dict, tmp_path: Path
) -> None:
    report = build_report(import_engine, catalog, "villages-lacking", run["run_id"])
    path = write(report, "gpkg", tmp_path / "v.gpkg", TEMPLATES)
    villages = gpd.read_file(path, layer="villages")
    assert len(villages) == len(report.sections[0].rows) > 0
    assert villages.crs.to_epsg() == 4490 and villages.geometry.notna().all()
    unconnected = {v["code"] for v in run["villages"] if not v["road_access"]["connected"]}
    assert set(villages.loc[~villages["connected"].astype(bool), "code"]) == unconnected

    # households without safe water, recomputed from the layers with geopandas
    metric = _metric_crs(import_engine)
    with import_engine.connect() as conn:
        hh = gpd.read_postgis("SELECT id, village_code, geom FROM households", conn).to_crs(metric)
        wp = gpd.read_postgis(
            "SELECT geom FROM water_points WHERE coalesce(safe, false) AND coalesce(working, true) "
            "AND status IN ('existing', 'completed')",
            conn,
        ).to_crs(metric)
        pipes = gpd.read_postgis(
            "SELECT geom FROM water_lines WHERE kind = 'supply_pipeline' AND status IN ('existing', 'completed')", conn
        ).to_crs(metric)
    near = gpd.sjoin_nearest(hh, wp, how="left", max_distance=800, distance_col="d")
    covered = set(near.loc[near["d"].notna(), "id"])
    if len(pipes):
        piped = gpd.sjoin(hh, gpd.GeoDataFrame(geometry=pipes.buffer(50), crs=metric), predicate="within")
        covered |= set(piped["id"])
    without = hh[~hh["id"].isin(covered)].groupby("village_code").size()
    for _, row in villages.iterrows():
        assert row["hh_no_wat"] == without.get(row["code"], 0), row["code"]

    # the road gaps: lines on the roads the snapshot named, their lengths geodesic
    gaps = gpd.read_file(path, layer="road_gaps")
    expected = {
        (v["code"], r)
        for v in run["villages"]
        if v["code"] in unconnected
        for r in v["road_access"]["gap_segments"] or []
    }
    assert set(zip(gaps["vil_code"], gaps["road_id"], strict=True)) == expected
    geod = Geod(ellps="GRS80")
    for _, g in gaps.head(20).iterrows():
        assert g["length_m"] == pytest.approx(geod.geometry_length(g.geometry), rel=2e-3, abs=0.5)
    joint = gpd.read_file(path, layer="harden_plan")
    assert set(joint["road_id"]) == set(run["harden_plan"]["segments"])
    about = gpd.read_file(path, layer="about")
    assert str(run["run_id"]) in set(about["value"])


def test_villages_lacking_filters(import_engine: Engine, catalog: Catalog, run: dict) -> None:
    road = build_report(import_engine, catalog, "villages-lacking", run["run_id"], rules=["road"])
    rows = road.sections[0].rows
    assert {r[2] for r in rows} == {v["code"] for v in run["villages"] if not v["road_access"]["connected"]}
    assert all(r[5] is None or r[5] > 0 for r in rows)
    town = rows[0][0]
    one = build_report(import_engine, catalog, "villages-lacking", run["run_id"], area=town)
    assert one.sections[0].rows and all(r[0] == town for r in one.sections[0].rows)
    with pytest.raises(InvalidInput, match="rule"):
        build_report(import_engine, catalog, "villages-lacking", run["run_id"], rules=["roads"])
    with pytest.raises(InvalidInput, match="area code"):
        build_report(import_engine, catalog, "villages-lacking", run["run_id"], area="5119")
    with pytest.raises(NotFound):
        build_report(import_engine, catalog, "villages-lacking", 999_999)
    with pytest.raises(NotFound):
        build_report(import_engine, catalog, "no-such-report")


def test_summary_adds_up(import_engine: Engine, catalog: Catalog, run: dict, tmp_path: Path) -> None:
    report = build_report(import_engine, catalog, "summary", run["run_id"])
    cols = [c.key for c in report.sections[0].columns]
    rows = [dict(zip(cols, r, strict=True)) for r in report.sections[0].rows]
    county = [r for r in rows if len(r["code"]) == 6]
    towns = [r for r in rows if len(r["code"]) == 9]
    assert len(county) == 1 and county[0]["villages"] == len(run["villages"])
    assert county[0]["connected"] == sum(v["road_access"]["connected"] for v in run["villages"])
    assert sum(t["villages"] for t in towns) == county[0]["villages"]
    assert sum(t["hh"] for t in towns) == county[0]["hh"]
    # XLSX read back: one sheet per section and one about the run, frozen header, number formats
    path = write(report, "xlsx", tmp_path / "s.xlsx", TEMPLATES)
    book = load_workbook(path)
    assert book.sheetnames == ["说明", "乡镇与全县", "村七有", "户七有", "数据完整性"]
    sheet = book["乡镇与全县"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]][:4] == ["代码", "名称", "级别", "行政村"]
    assert sheet.cell(2, cols.index("conn_pct") + 1).number_format == "0.0%"
    assert sheet.cell(2, cols.index("conn_pct") + 1).value == pytest.approx(county[0]["conn_pct"])
    assert sheet.max_row == len(rows) + 1
    about = {r[0].value: r[1].value for r in book["说明"].iter_rows(min_row=2) if r[0].value}
    assert about["覆盖分析运行 / Coverage run"] == str(run["run_id"])
    checks = book["村七有"]
    assert checks.max_row == 8  # seven items
    assert all(
        checks.cell(r, 3).value + checks.cell(r, 4).value + checks.cell(r, 5).value == len(run["villages"])
        for r in range(2, 9)
    )


def _pct(text_: str) -> float:
    return float(text_.rstrip("%")) / 100


def test_summary_headline_and_chart_are_the_figures_they_name(
    import_engine: Engine, catalog: Catalog, run: dict
) -> None:
    """The headline's RAI once printed the share of people with safe water (a row read by
    position): each headline figure and chart series against SQL on the layers themselves."""
    report = build_report(import_engine, catalog, "summary", run["run_id"])
    head = dict(report.headline)
    with import_engine.connect() as conn:
        people, near_road, hh, safe_hh = conn.execute(
            text(
                "WITH h AS (SELECT h.geom::geography AS g, coalesce(h.members, 1) AS m FROM households h), "
                "r AS (SELECT geom::geography AS g FROM roads WHERE surface = 'hardened' "
                "      AND coalesce(width_m >= 3.5, true) AND status IN ('existing', 'completed')), "
                "w AS (SELECT geom::geography AS g FROM water_points WHERE coalesce(safe, false) "
                "      AND coalesce(working, true) AND status IN ('existing', 'completed')), "
                "p AS (SELECT geom::geography AS g FROM water_lines WHERE kind = 'supply_pipeline' "
                "      AND status IN ('existing', 'completed')) "
                "SELECT sum(m), sum(m) FILTER (WHERE EXISTS (SELECT 1 FROM r WHERE ST_DWithin(r.g, h.g, 2000))), "
                "count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM w WHERE ST_DWithin(w.g, h.g, 800)) "
                "      OR EXISTS (SELECT 1 FROM p WHERE ST_DWithin(p.g, h.g, 50))) FROM h"
            )
        ).one()
        villages, connected = len(run["villages"]), sum(v["road_access"]["connected"] for v in run["villages"])
    assert 0 < near_road <= people and 0 < safe_hh < hh
    county = report.sections[0].records()[0]
    assert abs(county["water_people_pct"] - near_road / people) > 0.01  # the old misread would show
    # straight-line metres on the ellipsoid against the rule's Gauss-Kruger metres: a household or two
    assert _pct(head["农村可达性指数 / Rural Access Index"]) == pytest.approx(near_road / people, abs=0.002)
    assert _pct(head["安全饮水户比例 / households with safe water"]) == pytest.approx(safe_hh / hh, abs=0.002)
    assert _pct(head["通硬化路比例 / with road access"]) == pytest.approx(connected / villages, abs=0.0005)
    svg = figures.summary_chart(report.sections[0].records())
    towns = [r for r in report.sections[0].records() if len(r["code"]) == 9]
    assert len(towns) > 1 and all(r["rai"] != r["water_people_pct"] for r in towns)
    assert svg.count('<g id="patch_') >= 3 * len(towns)  # three bars a township


def test_plan_vs_actual_agrees_with_geodesic_lengths(
    import_engine: Engine, catalog: Catalog, run: dict, tmp_path: Path
) -> None:
    report = build_report(import_engine, catalog, "plan-vs-actual", run["run_id"])
    rows = report.sections[0].rows
    total = {r[2]: r for r in rows if r[0] == ""}
    with import_engine.connect() as conn:
        roads = gpd.read_postgis(
            "SELECT geom FROM roads WHERE road_class = 'village' AND surface = 'hardened' AND status = 'completed' "
            "AND plan_year BETWEEN 2009 AND 2011",
            conn,
        )
    km = sum(Geod(ellps="GRS80").geometry_length(g) for g in roads.geometry) / 1000
    assert total["硬化村道"][5] == pytest.approx(km, rel=1e-3)
    by_town = sum(r[5] for r in rows if r[2] == "硬化村道" and r[0])
    assert by_town == pytest.approx(total["硬化村道"][5], rel=1e-3)
    path = write(report, "csv", tmp_path / "p.csv", TEMPLATES)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert lines[0] == ["乡镇代码", "乡镇", "项目", "单位", "计划", "完成", "完成比例"]
    assert len(lines) == len(rows) + 1
    assert report.sections[1].rows and report.sections[1].rows[0][1] == 2011


def test_households_and_changes(import_engine: Engine, catalog: Catalog, run: dict) -> None:
    report = build_report(import_engine, catalog, "households", run["run_id"])
    rows = report.sections[0].rows
    with import_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM coverage_households WHERE run_id = :r"), {"r": run["run_id"]}
        ).scalar_one()
    assert stored == sum(v["water"]["households"] for v in run["villages"])
    no_water = sum(v["water"]["households"] - v["water"]["households_covered"] for v in run["villages"])
    assert sum(1 for r in rows if not r[6]) == no_water
    all_ok = sum(v["household_checks"]["all_ok"] for v in run["villages"])
    assert sum(1 for r in rows if r[8] == 0) == sum(1 for r in rows if r[8] == 0 and (not r[6] or not r[7]))
    assert stored - len(rows) <= all_ok
    # the stored unmet-item lists against the per-village counts (two separate code paths), and the
    # households left off the gap list against the household fields read straight from the layer
    with import_engine.connect() as conn:
        no_missing = conn.execute(
            text("SELECT count(*) FROM coverage_households WHERE run_id = :r AND cardinality(missing) = 0"),
            {"r": run["run_id"]},
        ).scalar_one()
        fields_ok = conn.execute(
            text(
                "SELECT count(*) FROM coverage_households c JOIN households h ON h.id = c.household_id "
                "WHERE c.run_id = :r AND c.water_ok AND c.near_road AND h.house_ok AND h.farmland_ok AND h.safe_water "
                "AND h.biogas AND h.orchard_ok AND h.livestock_ok AND h.skilled_member"
            ),
            {"r": run["run_id"]},
        ).scalar_one()
    assert no_missing == all_ok
    assert stored - len(rows) == fields_ok
    loose = create_run(import_engine, CoverageSettings(water_distance_m=3000), catalog)
    changes = build_report(import_engine, catalog, "changes", loose["run_id"], since=run["run_id"])
    changed = {r[2] for r in changes.sections[0].rows if r[5] == "安全饮水户"}
    expected = {
        v["code"]
        for v, w in zip(run["villages"], loose["villages"], strict=True)
        if v["water"]["households_covered"] != w["water"]["households_covered"]
    }
    assert changed == expected and changed


def test_pdf_prints_names_and_totals(import_engine: Engine, catalog: Catalog, run: dict, reports_dir: Path) -> None:
    for name in ("villages-lacking", "summary", "plan-vs-actual"):
        report = build_report(import_engine, catalog, name, run["run_id"])
        path = write(report, "pdf", reports_dir / f"{name}.pdf", TEMPLATES)
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        assert "A4" in info
        words = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert report.zh in words and f"运行 {run['run_id']}" in words.replace("  ", " ")
        for row in report.sections[0].rows[:5] + report.sections[0].rows[-3:]:
            assert row[3 if name == "villages-lacking" else 1 if name == "summary" else 2] in words
        for _, value in report.headline:
            assert value in words
        subprocess.run(["pdftoppm", "-r", "50", "-png", str(path), str(reports_dir / name)], check=True)
        assert list(reports_dir.glob(f"{name}-*.png"))


def test_shapefile_zip_keeps_chinese(import_engine: Engine, catalog: Catalog, run: dict, tmp_path: Path) -> None:
    report = build_report(import_engine, catalog, "villages-lacking", run["run_id"])
    path = write(report, "shp", tmp_path / "v.shp.zip", TEMPLATES)
    names = zipfile.ZipFile(path).namelist()
    assert {"villages.shp", "villages.dbf", "villages.prj", "villages.cpg", "road_gaps.shp"} <= set(names)
    villages = gpd.read_file(f"/vsizip/{path}/villages.shp")
    assert sorted(villages["name"]) == sorted(r[3] for r in report.sections[0].rows)
    with pytest.raises(InvalidInput, match="Shapefile"):
        write(
            build_report(import_engine, catalog, "changes", run["run_id"], since=run["run_id"]),
            "shp",
            tmp_path / "c.zip",
            TEMPLATES,
        )


@pytest.fixture(scope="module")
def client(base_settings: Settings, import_engine: Engine, run: dict) -> Iterator[TestClient]:
    url = import_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(base_settings.model_copy(update={"database_url": url}))) as c:
        yield c


def test_reports_over_http(client: TestClient, run: dict) -> None:
    page = client.get("/reports")
    assert page.status_code == 200 and "/reports/villages-lacking.xlsx" in page.text and "cdn" not in page.text.lower()
    csv_ = client.get("/reports/villages-lacking.csv?rule=road")
    assert csv_.status_code == 200 and csv_.content.startswith(b"\xef\xbb\xbf")
    assert "attachment" in csv_.headers["content-disposition"]
    lines = csv_.content.decode("utf-8-sig").splitlines()
    assert len(lines) - 1 == sum(not v["road_access"]["connected"] for v in run["villages"])
    xlsx = client.get(f"/reports/summary.xlsx?run={run['run_id']}")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    html = client.get("/reports/summary.html")
    assert html.status_code == 200 and "乡镇与全县汇总" in html.text and "<script" not in html.text
    body = client.get("/api/reports/summary").json()
    assert body["run_id"] >= run["run_id"] and body["sections"][0]["rows"][0]["villages"] == len(run["villages"])
    assert client.get("/api/reports").json()["formats"] == ["html", "pdf", "xlsx", "csv", "gpkg", "shp"]


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/reports/villages-lacking.docx", 400, "format"),
        ("/reports/nothing.csv", 404, None),
        ("/reports/summary.csv?township=abc", 400, "township"),
        ("/reports/villages-lacking.csv?rule=roads", 400, "rule"),
        ("/reports/summary.csv?run=999999", 404, None),
        ("/reports/summary.csv?run=x", 422, "run"),
        ("/reports/changes.csv?since=999999", 404, None),
    ],
)
def test_bad_report_requests(client: TestClient, url: str, status: int, field: str | None) -> None:
    answer = client.get(url)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["message"] and body["message_en"] and body["code"]
    if field:
        assert body["field"] == field
