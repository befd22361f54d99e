"""Reports from a coverage snapshot, in every format, checked against independent computations."""

from __future__ import annotations

import csv
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from matplotlib.colors import to_hex
from openpyxl import load_workbook
from pyproj import Geod
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.checklists import load_checklists
from fupin_gis.coverage.snapshots import create_run
from fupin_gis.coverage.verdicts import RULES
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.main import create_app
from fupin_gis.reports import figures
from fupin_gis.reports.build import build_report, latest_run
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
    assert {r["code"] for r in rows} == {v["code"] for v in run["villages"] if not v["road_access"]["connected"]}
    assert all(r["gap_km"] is None or r["gap_km"] > 0 for r in rows)
    town = rows[0]["town_code"]
    one = build_report(import_engine, catalog, "villages-lacking", run["run_id"], area=town)
    assert one.sections[0].rows and all(r["town_code"] == town for r in one.sections[0].rows)
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
    cols = report.sections[0].keys()
    rows = report.sections[0].rows
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
    keys = report.sections[1].keys()
    met, not_met, unknown = (keys.index(k) for k in ("met", "not_met", "unknown"))
    for line in checks.iter_rows(min_row=2, values_only=True):
        assert line[met] + line[not_met] + line[unknown] == len(run["villages"])


def _pct(text_: str) -> float:
    return float(text_.rstrip("%")) / 100


def _num(text_: str) -> float:
    return float(text_.replace(",", ""))


def _bars(figure: Any) -> dict[str, dict[str, float]]:
    """What a horizontal bar chart draws: per series (its legend label), per bar (its tick label),
    the bar's length, read from the matplotlib figure the report prints."""
    figure.canvas.draw()
    ax = figure.axes[0]
    ticks = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()), strict=True))
    out: dict[str, dict[str, float]] = {}
    for container in ax.containers:
        bars = out.setdefault(str(container.get_label()), {})
        for rect in container:
            bars[ticks[round(rect.get_y() + rect.get_height() / 2)]] = rect.get_width()
    plt.close(figure)
    return out


def _chart(report: Any, caption: str) -> Any:
    """The report's figure whose caption starts with ``caption``, drawn."""
    return next(c for c in report.figures if c.caption.startswith(caption)).draw()


# Per village of a stored run, which rules it fails, straight from the snapshot's JSON (the report
# computes the same in Python; farmland is left to convert when more than 0.05 mu is).
LACKING_SQL = """
SELECT code, left(code, 9) AS town,
  NOT (result->'road_access'->>'connected')::boolean AS road,
  coalesce((result->'water'->>'households_covered')::int, 0) < coalesce((result->'water'->>'households')::int, 0)
    AS water,
  coalesce((result->'rai'->>'population_within_2km')::int, 0) < coalesce((result->'rai'->>'population')::int, 0)
    AS rai,
  coalesce((result->'farmland'->>'steep_mu')::numeric, 0)
    - coalesce((result->'farmland'->>'steep_converted_mu')::numeric, 0) > 0.05 AS farmland,
  EXISTS (SELECT 1 FROM jsonb_each(result->'checks') e WHERE e.value->>'ok' = 'false' AND e.key = ANY(:fac))
    AS facilities,
  EXISTS (SELECT 1 FROM jsonb_each(result->'checks') e WHERE e.value->>'ok' = 'false') AS checks,
  (result->'road_access'->>'gap_m')::float AS gap_m
FROM coverage_villages WHERE run_id = :r
"""
# Per household, from the layers alone (geodesic metres): a safe, working, built water point within
# 800 m or a built supply pipeline within 50 m; a hardened, built road at least 3.5 m wide within 2 km.
HOUSEHOLDS_SQL = """
WITH r AS (SELECT geom::geography AS g FROM roads WHERE surface = 'hardened'
           AND coalesce(width_m >= 3.5, true) AND status IN ('existing', 'completed')),
w AS (SELECT geom::geography AS g FROM water_points WHERE coalesce(safe, false)
      AND coalesce(working, true) AND status IN ('existing', 'completed')),
p AS (SELECT geom::geography AS g FROM water_lines WHERE kind = 'supply_pipeline'
      AND status IN ('existing', 'completed'))
SELECT h.id, left(h.village_code, 9) AS town, coalesce(h.members, 1) AS members,
  EXISTS (SELECT 1 FROM r WHERE ST_DWithin(r.g, h.geom::geography, 2000)) AS near_road,
  EXISTS (SELECT 1 FROM w WHERE ST_DWithin(w.g, h.geom::geography, 800))
    OR EXISTS (SELECT 1 FROM p WHERE ST_DWithin(p.g, h.geom::geography, 50)) AS water,
  h.house_ok AND h.farmland_ok AND h.safe_water AND h.biogas AND h.orchard_ok AND h.livestock_ok
    AND h.skilled_member AS fields_ok
FROM households h
"""


@pytest.fixture(scope="module")
def on_layers(import_engine: Engine) -> pd.DataFrame:
    """Every household's water and road within reach, computed from the layers (``HOUSEHOLDS_SQL``)."""
    with import_engine.connect() as conn:
        return pd.read_sql(text(HOUSEHOLDS_SQL), conn)


def _lacking(engine: Engine, catalog: Catalog, run_id: int) -> pd.DataFrame:
    lists = load_checklists(CoverageSettings().checklist_file, catalog)
    facilities = [i.key for i in lists.village if i.rule == "facilities"]
    with engine.connect() as conn:
        return pd.read_sql(text(LACKING_SQL), conn, params={"r": run_id, "fac": facilities})


def _town_names(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.code: r.name for r in conn.execute(text("SELECT code, name FROM townships"))}


def test_villages_lacking_headline_and_charts_are_the_figures_they_name(
    import_engine: Engine, catalog: Catalog, run: dict, on_layers: pd.DataFrame
) -> None:
    """Each headline figure and each chart series of villages-lacking against the snapshot's JSON
    read with SQL, the households' water against the layers and the joint plan's length geodesic."""
    report = build_report(import_engine, catalog, "villages-lacking", run["run_id"])
    head = dict(report.headline)
    lacking = _lacking(import_engine, catalog, run["run_id"])
    rules = ["road", "water", "rai", "farmland", "facilities", "checks"]
    lacks = lacking[lacking[rules].any(axis=1)]
    assert len(lacks) > 0
    assert _num(head["缺少基础设施的村 / villages lacking"]) == len(lacks)
    assert _num(head["不通硬化路的村 / villages without road access"]) == lacking["road"].sum() > 0
    for rule in ("road", "farmland"):  # the report of one rule counts the villages failing it
        one = build_report(import_engine, catalog, "villages-lacking", run["run_id"], rules=[rule])
        assert _num(dict(one.headline)["缺少基础设施的村 / villages lacking"]) == lacking[rule].sum() > 0, rule
    gap_km = lacking.loc[lacking["road"], "gap_m"].fillna(0).sum() / 1000
    assert _num(head["需硬化道路合计(公里) / road to harden (km), village by village"]) == pytest.approx(
        gap_km, abs=0.005 * lacking["road"].sum() + 0.01
    )
    no_water = (~on_layers["water"]).sum()
    assert no_water > 0 and _num(head["800米内无安全水的户 / households without safe water"]) == pytest.approx(
        no_water, abs=3
    )
    with import_engine.connect() as conn:  # the plan's pieces of road, as stored, within its whole roads
        stored_m, by_town_m = conn.execute(
            text(
                "SELECT (harden_plan->>'length_m')::float, (SELECT sum(value::float) FROM "
                "jsonb_each_text(harden_plan->'by_township')) FROM coverage_runs WHERE id = :r"
            ),
            {"r": run["run_id"]},
        ).one()
        whole_m = conn.execute(
            text("SELECT sum(ST_Length(geom::geography)) FROM roads WHERE id = ANY(:i)"),
            {"i": run["harden_plan"]["segments"]},
        ).scalar_one()
    joint = _num(head["统筹硬化方案(公里) / joint harden plan (km)"])
    assert joint == pytest.approx(stored_m / 1000, abs=0.005) and stored_m == pytest.approx(by_town_m)
    assert 0 < joint <= whole_m / 1000 * 1.002

    # figure 2: villages lacking each rule, by township
    names = _town_names(import_engine)
    bars = _bars(_chart(report, "图2"))
    assert set(bars) == {RULES[r].zh for r in rules}
    for rule in rules:
        expected = lacking.groupby("town")[rule].sum()
        assert bars[RULES[rule].zh] == {names[t]: n for t, n in expected.items()}, rule
    # figure 1: the villages coloured by road access, the roads to harden drawn
    figure = _chart(report, "图1")
    ax = figure.axes[0]
    colours = [to_hex(c) for c in ax.collections[0].get_facecolors()]
    assert colours.count(figures.GREEN) == (~lacking["road"]).sum()
    assert colours.count(figures.RED) == lacking["road"].sum()
    with import_engine.connect() as conn:
        gap_ids = sorted({r for v in run["villages"] for r in v["road_access"]["gap_segments"] or []})
        parts = conn.execute(
            text("SELECT sum(ST_NumGeometries(geom)) FROM roads WHERE id = ANY(:i)"), {"i": gap_ids}
        ).scalar_one()
    assert len(ax.collections[-1].get_segments()) == parts > 0
    plt.close(figure)


def test_summary_headline_and_chart_are_the_figures_they_name(
    import_engine: Engine, catalog: Catalog, run: dict, on_layers: pd.DataFrame
) -> None:
    """The headline's RAI once printed the share of people with safe water (a row read by
    position): each headline figure and chart series against SQL on the layers themselves."""
    report = build_report(import_engine, catalog, "summary", run["run_id"])
    head = dict(report.headline)
    h = on_layers
    people, near_road = h["members"].sum(), h.loc[h["near_road"], "members"].sum()
    with import_engine.connect() as conn:
        villages = conn.execute(text("SELECT count(*) FROM villages")).scalar_one()
    connected = sum(v["road_access"]["connected"] for v in run["villages"])
    assert 0 < near_road <= people and 0 < h["water"].sum() < len(h) and villages == len(run["villages"])
    county = report.sections[0].rows[0]
    assert abs(county["water_people_pct"] - near_road / people) > 0.01  # the old misread would show
    # straight-line metres on the ellipsoid against the rule's Gauss-Kruger metres: a household or two
    assert _num(next(v for k, v in head.items() if k.endswith("行政村 / villages"))) == villages
    assert _pct(head["农村可达性指数 / Rural Access Index"]) == pytest.approx(near_road / people, abs=0.002)
    assert _pct(head["安全饮水户比例 / households with safe water"]) == pytest.approx(h["water"].mean(), abs=0.002)
    assert _pct(head["通硬化路比例 / with road access"]) == pytest.approx(connected / villages, abs=0.0005)

    # the chart: per township, the three bars against the same figures computed on the layers
    names = _town_names(import_engine)
    bars = _bars(_chart(report, "图1"))
    assert set(bars) == {"通硬化路村 road", "安全饮水户 water", "RAI"}
    by_town = h.groupby("town")
    rai = (h["members"] * h["near_road"]).groupby(h["town"]).sum() / by_town["members"].sum()
    water = by_town["water"].mean()
    lacking = _lacking(import_engine, catalog, run["run_id"])
    road = 1 - lacking.groupby("town")["road"].mean()
    assert len(rai) > 1 and set(bars["RAI"]) == {names[t] for t in rai.index}
    for town in rai.index:
        name = names[town]
        assert bars["RAI"][name] == pytest.approx(100 * rai[town], abs=0.5), name
        assert bars["安全饮水户 water"][name] == pytest.approx(100 * water[town], abs=0.5), name
        assert bars["通硬化路村 road"][name] == pytest.approx(100 * road[town], abs=0.006), name
    towns = [r for r in report.sections[0].rows if len(r["code"]) == 9]
    assert any(abs(r["rai"] - r["water_people_pct"]) > 0.01 for r in towns)  # the bars would show a misread


def test_plan_vs_actual_agrees_with_geodesic_lengths(
    import_engine: Engine, catalog: Catalog, run: dict, tmp_path: Path
) -> None:
    report = build_report(import_engine, catalog, "plan-vs-actual", run["run_id"])
    rows = report.sections[0].rows
    total = {r["item"]: r for r in rows if r["town_code"] == ""}
    with import_engine.connect() as conn:
        roads = gpd.read_postgis(
            "SELECT geom FROM roads WHERE road_class = 'village' AND surface = 'hardened' AND status = 'completed' "
            "AND plan_year BETWEEN 2009 AND 2011",
            conn,
        )
        stored = conn.execute(
            text(
                "SELECT i->>'label' AS label, (i->>'done')::float / nullif((i->>'planned')::float, 0) AS share "
                "FROM coverage_runs r, jsonb_array_elements(r.plan->'items') i "
                "WHERE r.id = :r AND i->>'done' IS NOT NULL"
            ),
            {"r": run["run_id"]},
        ).all()
    km = sum(Geod(ellps="GRS80").geometry_length(g) for g in roads.geometry) / 1000
    assert total["硬化村道"]["done"] == pytest.approx(km, rel=1e-3)
    by_town = sum(r["done"] for r in rows if r["item"] == "硬化村道" and r["town_code"])
    assert by_town == pytest.approx(total["硬化村道"]["done"], rel=1e-3)
    # the chart: each measured item's share done, as stored, and the village roads' from the layer
    bars = next(iter(_bars(_chart(report, "图1")).values()))
    expected = {s.label: min(s.share, 2.0) * 100 for s in stored if s.share is not None}
    assert len(expected) > 1 and bars == pytest.approx(expected, abs=0.006)  # shares stored to 4 places
    assert bars["硬化村道"] == pytest.approx(min(km / total["硬化村道"]["planned"], 2.0) * 100, rel=2e-3)
    path = write(report, "csv", tmp_path / "p.csv", TEMPLATES)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert lines[0] == ["乡镇代码", "乡镇", "项目", "单位", "计划", "完成", "完成比例"]
    assert len(lines) == len(rows) + 1
    assert report.sections[1].rows and report.sections[1].rows[0]["year"] == 2011


def test_households_and_changes(import_engine: Engine, catalog: Catalog, run: dict, on_layers: pd.DataFrame) -> None:
    report = build_report(import_engine, catalog, "households", run["run_id"])
    rows = report.sections[0].rows
    with import_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM coverage_households WHERE run_id = :r"), {"r": run["run_id"]}
        ).scalar_one()
    assert stored == sum(v["water"]["households"] for v in run["villages"])
    no_water = sum(v["water"]["households"] - v["water"]["households_covered"] for v in run["villages"])
    assert sum(1 for r in rows if not r["water_ok"]) == no_water
    all_ok = sum(v["household_checks"]["all_ok"] for v in run["villages"])
    unmet = [r for r in rows if r["n_missing"] == 0]
    assert all(not r["water_ok"] or not r["near_road"] for r in unmet)
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
    # the headline: households with a gap, and the same from the layers alone (a household or two apart)
    gaps = _num(dict(report.headline)["有缺项的户 / households with a gap"])
    on = on_layers
    assert gaps == len(rows) == stored - fields_ok
    complete = on["water"] & on["near_road"] & on["fields_ok"].fillna(False).astype(bool)
    assert gaps == pytest.approx((~complete).sum(), abs=3)

    loose = create_run(import_engine, CoverageSettings(water_distance_m=3000), catalog)
    changes = build_report(import_engine, catalog, "changes", loose["run_id"], since=run["run_id"])
    changed = {r["code"] for r in changes.sections[0].rows if r["field"] == "安全饮水户"}
    expected = {
        v["code"]
        for v, w in zip(run["villages"], loose["villages"], strict=True)
        if v["water"]["households_covered"] != w["water"]["households_covered"]
    }
    assert changed == expected and changed
    # the headline: villages changed and connected or no longer, compared in SQL on the two snapshots
    with import_engine.connect() as conn:
        moved = conn.execute(text(CHANGES_SQL), {"a": run["run_id"], "b": loose["run_id"]}).one()
    head = {k: _num(v) for k, v in changes.headline}
    assert head["有变化的村 / villages changed"] == moved.changed >= len(expected)
    assert head["新通硬化路的村 / newly connected"] == moved.newly
    assert head["不再通硬化路的村 / no longer connected"] == moved.lost


CHANGES_SQL = """
WITH a AS (SELECT code, result FROM coverage_villages WHERE run_id = :a),
b AS (SELECT code, result FROM coverage_villages WHERE run_id = :b),
f AS (SELECT code, r->'road_access'->'connected' AS connected, r->'road_access'->'gap_m' AS gap_m,
             r->'water'->'households_covered' AS water, r->'rai'->'population_within_2km' AS rai,
             (SELECT jsonb_object_agg(e.key, e.value->'ok') FROM jsonb_each(r->'checks') e) AS checks, side
      FROM (SELECT code, result AS r, 'a' AS side FROM a UNION ALL SELECT code, result, 'b' FROM b) x)
SELECT count(*) FILTER (WHERE fa.code IS NULL OR fb.code IS NULL OR (fa.connected, fa.gap_m, fa.water, fa.rai, fa.checks)
                              IS DISTINCT FROM (fb.connected, fb.gap_m, fb.water, fb.rai, fb.checks)) AS changed,
       count(*) FILTER (WHERE fa.connected = 'false' AND fb.connected = 'true') AS newly,
       count(*) FILTER (WHERE fa.connected = 'true' AND fb.connected = 'false') AS lost
FROM (SELECT * FROM f WHERE side = 'a') fa FULL JOIN (SELECT * FROM f WHERE side = 'b') fb USING (code)
"""


def test_pdf_prints_names_and_totals(import_engine: Engine, catalog: Catalog, run: dict, reports_dir: Path) -> None:
    for name, key in (("villages-lacking", "name"), ("summary", "name"), ("plan-vs-actual", "item")):
        report = build_report(import_engine, catalog, name, run["run_id"])
        path = write(report, "pdf", reports_dir / f"{name}.pdf", TEMPLATES)
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        assert "A4" in info
        words = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert report.zh in words and f"运行 {run['run_id']}" in words.replace("  ", " ")
        for row in report.sections[0].rows[:5] + report.sections[0].rows[-3:]:
            assert row[key] in words
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
    assert sorted(villages["name"]) == sorted(r["name"] for r in report.sections[0].rows)
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


def test_one_registry_names_the_reports_everywhere(client: TestClient, import_engine: Engine, catalog: Catalog) -> None:
    """The command line's report names and formats, the API's list and the download route all come
    from the registry: a report registered with one call is offered, built and checked everywhere."""
    from fupin_gis.cli.reports import ReportFormat, ReportName
    from fupin_gis.reports.build import REPORTS
    from fupin_gis.reports.model import Column, Report, Section
    from fupin_gis.reports.registry import ALL_FORMATS, REGISTRY, ReportKind, ReportRequest, register

    assert [n.value for n in ReportName] == list(REPORTS) and [f.value for f in ReportFormat] == list(ALL_FORMATS)
    listed = client.get("/api/reports").json()["reports"]
    assert [r["name"] for r in listed] == list(REPORTS)
    assert {r["name"] for r in listed if "shp" in r["formats"]} == {"villages-lacking", "summary"}
    refused = client.get("/reports/changes.shp")  # no geometry: refused before anything is built
    assert refused.status_code == 400 and refused.json()["field"] == "format"

    def tiny(q: ReportRequest) -> Report:
        rows = [{"code": q.area or "all", "n": q.run_id}]
        return Report(
            "tiny",
            "小表",
            "Tiny",
            {"run_id": q.run_id},
            [],
            [Section("t", "表", "T", [Column("code", "代码", "Code"), Column("n", "运行", "Run", "int")], rows)],
        )

    register(ReportKind("tiny", "小表", "Tiny", tiny, ("csv", "xlsx")))
    try:
        report = build_report(import_engine, catalog, "tiny", area="511921")
        assert report.sections[0].rows == [{"code": "511921", "n": latest_run(import_engine)}]
        answer = client.get("/reports/tiny.csv?township=511921")
        assert answer.status_code == 200 and "511921" in answer.content.decode("utf-8-sig")
        assert client.get("/reports/tiny.pdf").json()["field"] == "format"
        with pytest.raises(ValueError, match="twice"):
            register(ReportKind("tiny", "小表", "Tiny", tiny))
    finally:
        REGISTRY.pop("tiny")
