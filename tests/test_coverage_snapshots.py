"""Snapshots end to end: run, fix a gravel gap by importing a corrected survey, run again, diff."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ingest_helpers import do_import
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.snapshots import create_run, diff_runs, get_run, rules_from_file
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.main import create_app
from fupin_gis.settings import CoverageSettings, Settings


def test_harden_a_gap_then_diff(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    first = create_run(import_engine, CoverageSettings(), catalog)
    single = [
        v for v in first["villages"] if not v["road_access"]["connected"] and len(v["road_access"]["gap_segments"]) == 1
    ]
    assert single, "the demo has villages cut off by one gravel piece"
    village = single[0]
    (road_id,) = village["road_access"]["gap_segments"]
    with import_engine.connect() as conn:
        code, road_class, geometry, width = conn.execute(
            text("SELECT code, road_class, ST_AsGeoJSON(geom, 15), width_m FROM roads WHERE id = :i"), {"i": road_id}
        ).one()
    survey = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(geometry),
                "properties": {
                    "道路编号": code,
                    "道路等级": road_class,
                    "路面类型": "水泥路",
                    "路面宽度": max(width or 0, 4.5),
                    "建设状态": "已完工",
                    "建设年度": 2011,
                },
            }
        ],
    }
    path = tmp_path / "硬化竣工.geojson"
    path.write_text(json.dumps(survey, ensure_ascii=False), encoding="utf-8")
    report = do_import(import_engine, catalog, path, "roads")
    assert report.ok and report.updated == 1
    # the piece was gravel, narrow or unfinished: the correction changes at least one of those
    assert set(report.changes) & {"路面类型", "路面宽度(米)", "建设状态"} and "道路名称" not in report.changes, (
        report.changes
    )
    with import_engine.connect() as conn:
        name, surface = conn.execute(text("SELECT name, surface FROM roads WHERE id = :i"), {"i": road_id}).one()
    assert name and surface == "hardened"  # the survey had no name column: the name is kept
    second = create_run(import_engine, CoverageSettings(), catalog)
    assert second["data_version"] > first["data_version"]
    after = {v["code"]: v for v in second["villages"]}[village["code"]]["road_access"]
    assert after["connected"] is True and after["gap_m"] == 0
    diff = diff_runs(import_engine, first["run_id"], second["run_id"])
    changed = {c["code"]: c for c in diff["changes"]}
    assert changed[village["code"]]["fields"]["connected"] == {"from": False, "to": True}
    assert diff["newly_connected"] >= 1 and diff["no_longer_connected"] == 0
    stored = get_run(import_engine, first["run_id"], village["code"])
    assert stored["village"]["road_access"]["connected"] is False


def test_rules_file_changes_the_answer(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("water_distance_m = 100\npipe_distance_m = 0\n")
    strict = create_run(import_engine, rules_from_file(rules, CoverageSettings()), catalog)
    loose = create_run(import_engine, CoverageSettings(water_distance_m=2000), catalog)
    county = next(k for k in strict["summary"] if len(k) == 6)
    assert strict["rules"]["water_distance_m"] == 100
    assert strict["summary"][county]["households_covered"] < loose["summary"][county]["households_covered"]
    bad = tmp_path / "bad.toml"
    bad.write_text("water_distance_m = 'far'\n")
    with pytest.raises(InvalidInput, match="bad.toml"):
        rules_from_file(bad, CoverageSettings())
    with pytest.raises(NotFound):
        get_run(import_engine, 999_999)


@pytest.fixture(scope="module")
def client(base_settings: Settings, import_engine: Engine) -> Iterator[TestClient]:
    url = import_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(base_settings.model_copy(update={"database_url": url}))) as c:
        yield c


def test_coverage_api(client: TestClient) -> None:
    made = client.post("/api/coverage/runs")
    assert made.status_code == 201
    run_id = made.json()["run_id"]
    assert any(r["id"] == run_id for r in client.get("/api/coverage/runs").json())
    body = client.get(f"/api/coverage/runs/{run_id}").json()
    code = body["villages"][0]["code"]
    assert client.get(f"/api/coverage/runs/{run_id}/villages/{code}").json()["village"]["code"] == code
    assert client.get(f"/api/coverage/diff?a={run_id}&b={run_id}").json()["villages_changed"] == 0
    assert client.get("/api/coverage/runs/999999").status_code == 404
    assert client.get(f"/api/coverage/runs/{run_id}/villages/000000000000").status_code == 404
    assert client.get("/api/coverage/diff?a=x&b=1").status_code == 422


def test_a_run_reports_its_stages(import_engine: Engine, catalog: Catalog) -> None:
    from fupin_gis.coverage.run import STAGES

    stages: list[str] = []
    create_run(import_engine, CoverageSettings(), catalog, stages.append)
    assert len(stages) == STAGES and len(set(stages)) == STAGES  # the progress bar's total is right
    assert stages[0].startswith("读取道路") and stages[-1].startswith("保存")
