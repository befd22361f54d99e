"""Data completeness where the rules read: the shares against plain SQL on the plan demo, a change
of data and of setting showing in them, the declaration against the rules' SQL, and the same
figures from the CLI, the API (only the scope's features), the reports page and the summary report."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from fupin_gis.auth.accounts import add_user, new_token
from fupin_gis.catalog import Catalog
from fupin_gis.cli import app
from fupin_gis.coverage.checklists import load_checklists
from fupin_gis.coverage.completeness import READS, completeness
from fupin_gis.coverage.netcache import CURRENT
from fupin_gis.coverage.snapshots import create_run
from fupin_gis.errors import InvalidInput
from fupin_gis.main import create_app
from fupin_gis.reports.build import build_report
from fupin_gis.settings import CoverageSettings, Settings

COVERAGE = CoverageSettings()
# Which SQL each rule runs on which layer (coverage/sql, and netcache.py's query of the roads).
RULE_SQL = {
    "road": {"roads": ["sql/roads.sql", "netcache.py"]},
    "water": {
        "water_points": ["sql/water_points.sql"],
        "water_lines": ["sql/pipelines.sql"],
        "households": ["sql/households.sql"],
    },
    "rai": {"roads": ["sql/roads.sql"], "households": ["sql/households.sql"]},
    "facilities": {"facilities": ["sql/facilities.sql"]},
    "farmland": {"slope_farmland": ["sql/farmland.sql"]},
}
# Columns those queries select only to name or place what they return (no rule decides by them).
NOT_DECIDING = {"id", "code", "geom", "kind@water_points", "village_code@households", "structure@rai"}
PASSWORD = "correct horse"


def _plain(engine: Engine, layer: str, field: str, where: str = "true", params: dict | None = None) -> tuple[int, int]:
    """Features and empty values of ``layer.field``, counted with plain SQL (NULL or blank text)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT count(*), count(*) FILTER (WHERE {field} IS NULL OR trim({field}::text) = '') "
                f"FROM {layer} WHERE {where}"
            ),
            params or {},
        ).one()
    return int(row[0]), int(row[1])


def _by_key(rows: list[dict]) -> dict[tuple[str, str, str], dict]:
    return {(r["rule"], r["layer"], r["field"]): r for r in rows}


def test_the_rules_fields_and_their_shares(import_engine: Engine, catalog: Catalog) -> None:
    with import_engine.connect() as conn:
        rows = completeness(conn, catalog, COVERAGE)
    got = _by_key(rows)
    household_fields = [h.field for h in load_checklists(COVERAGE.checklist_file, catalog).household]
    assert len(household_fields) == 7
    assert {k for k in got if k[0] == "checks"} == {("checks", "households", f) for f in household_fields}
    assert {("road", "roads", f) for f in ("surface", "width_m", "status", "structure")} <= set(got)
    assert {("water", "water_points", f) for f in ("safe", "working", "status")} <= set(got)
    assert {("rai", "households", "members"), ("facilities", "facilities", "meets_standard")} <= set(got)
    assert ("farmland", "slope_farmland", "slope_grade") in got
    for (_, layer, field), row in got.items():
        features, empty = _plain(import_engine, layer, field)
        assert (row["features"], row["empty"]) == (features, empty), (layer, field)
        assert row["share_empty"] == (round(empty / features, 4) if features else None)
        assert row["label"] == catalog.layer(layer).field(field).label and row["meaning"] and row["meaning_en"]
    assert got[("road", "roads", "structure")]["empty"] > 0  # most roads are no bridge: the share says so
    assert got[("water", "water_points", "working")]["meaning_en"] == "counted as working"
    assert got[("water", "water_points", "safe")]["meaning_en"] == "counted as not safe"
    assert "FUPIN_COVERAGE__UNKNOWN_WIDTH_OK=true" in got[("road", "roads", "width_m")]["meaning_en"]


def test_widths_set_empty_move_the_share_and_the_setting_the_meaning(import_engine: Engine, catalog: Catalog) -> None:
    with import_engine.connect() as conn:
        trans = conn.begin()
        before = _by_key(completeness(conn, catalog, COVERAGE))[("road", "roads", "width_m")]
        cleared = conn.execute(
            text(
                "UPDATE roads SET width_m = NULL WHERE id IN "
                "(SELECT id FROM roads WHERE width_m IS NOT NULL ORDER BY id LIMIT 25) RETURNING id"
            )
        ).all()
        assert len(cleared) == 25
        strict = COVERAGE.model_copy(update={"unknown_width_ok": False})
        after = _by_key(completeness(conn, catalog, strict))
        trans.rollback()
    for rule in ("road", "rai"):
        row = after[(rule, "roads", "width_m")]
        assert row["empty"] == before["empty"] + 25 and row["features"] == before["features"]
        assert row["share_empty"] == round((before["empty"] + 25) / before["features"], 4)
        assert row["meaning_en"] == "counted as too narrow (setting FUPIN_COVERAGE__UNKNOWN_WIDTH_OK=false)"
    with import_engine.connect() as conn:
        assert _by_key(completeness(conn, catalog, COVERAGE))[("road", "roads", "width_m")] == before


def test_the_declaration_is_what_the_rules_sql_reads(catalog: Catalog) -> None:
    """Each rule's SQL reads exactly the declared fields of each layer (besides names and places)."""
    package = resources.files("fupin_gis.coverage")
    for rule, layers in RULE_SQL.items():
        for layer, files in layers.items():
            sql_text = " ".join(
                CURRENT if f == "netcache.py" else package.joinpath(f).read_text("utf-8") for f in files
            )
            words = set(re.findall(r"[a-z_][a-z0-9_]*", sql_text))
            read = {f for f in catalog.layer(layer).field_names if f in words}
            read -= {
                f for f in read if f in NOT_DECIDING or f"{f}@{layer}" in NOT_DECIDING or f"{f}@{rule}" in NOT_DECIDING
            }
            declared = {r.field for r in READS if r.rule == rule and r.layer == layer}
            assert read == declared, (rule, layer)
    assert {r.rule for r in READS} == set(RULE_SQL)


def test_a_bad_area_is_refused(import_engine: Engine, catalog: Catalog) -> None:
    with import_engine.connect() as conn, pytest.raises(InvalidInput) as caught:
        completeness(conn, catalog, COVERAGE, "51192")
    assert caught.value.details["field"] == "township"


def test_cli_prints_it(import_engine: Engine, catalog: Catalog) -> None:
    env = {"DATABASE_URL": import_engine.url.render_as_string(hide_password=False), "COLUMNS": "250"}
    runner = CliRunner()
    answer = runner.invoke(app, ["layers", "completeness", "--json"], env=env)
    assert answer.exit_code == 0, answer.output
    with import_engine.connect() as conn:
        assert json.loads(answer.stdout) == completeness(conn, catalog, COVERAGE)
    table = runner.invoke(app, ["layers", "completeness"], env=env)
    assert table.exit_code == 0, table.output
    width = _by_key(json.loads(answer.stdout))[("road", "roads", "width_m")]
    line = next(x for x in table.stdout.splitlines() if "roads.width_m" in x)
    assert f"{width['share_empty'] * 100:.1f}%" in line and "FUPIN_COVERAGE__UNKNOWN_WIDTH_OK=true" in line
    bad = runner.invoke(app, ["layers", "completeness", "--json", "--township", "x"], env=env)
    assert bad.exit_code == 2 and json.loads(bad.stdout)["field"] == "township"


@pytest.fixture(scope="module")
def town(import_engine: Engine) -> str:
    with import_engine.connect() as conn:
        return conn.execute(text("SELECT code FROM townships ORDER BY code LIMIT 1")).scalar_one()


@pytest.fixture(scope="module")
def client(base_settings: Settings, import_engine: Engine, town: str) -> Iterator[TestClient]:
    with import_engine.connect() as conn:
        county = conn.execute(text("SELECT code FROM counties LIMIT 1")).scalar_one()
    add_user(import_engine, "c_admin", PASSWORD, "admin", "*")
    add_user(import_engine, "c_planner", PASSWORD, "planner", county)
    add_user(import_engine, "c_engineer", PASSWORD, "engineer", town)
    url = import_engine.url.render_as_string(hide_password=False)
    settings = base_settings.model_copy(
        update={"database_url": url, "auth": base_settings.auth.model_copy(update={"required": True})}
    )
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        yield c


def _as(engine: Engine, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_token(engine, user)}"}


def test_api_counts_only_the_scopes_features(client: TestClient, import_engine: Engine, town: str) -> None:
    engineer = client.get("/api/layers/completeness", headers=_as(import_engine, "c_engineer"))
    assert engineer.status_code == 200, engineer.text
    rows = _by_key(engineer.json())
    in_town = (
        "left(village_code, 9) = :t OR (village_code IS NULL AND "
        "ST_Intersects(geom, (SELECT geom FROM townships WHERE code = :t)))"
    )
    for layer, field in [("roads", "width_m"), ("water_points", "working"), ("facilities", "meets_standard")]:
        rule = {"roads": "road", "water_points": "water", "facilities": "facilities"}[layer]
        features, empty = _plain(import_engine, layer, field, in_town, {"t": town})
        total, _ = _plain(import_engine, layer, field)
        assert 0 < features < total, layer  # a township's share of the county
        assert (rows[(rule, layer, field)]["features"], rows[(rule, layer, field)]["empty"]) == (features, empty)
    assert rows[("rai", "households", "members")]["features"] == 0  # engineers see no personal data
    assert rows[("rai", "households", "members")]["share_empty"] is None
    planner = _by_key(client.get("/api/layers/completeness", headers=_as(import_engine, "c_planner")).json())
    assert planner[("rai", "households", "members")]["features"] == _plain(import_engine, "households", "members")[0]
    admin = _as(import_engine, "c_admin")
    area = client.get("/api/layers/completeness", params={"township": town}, headers=admin)
    assert _by_key(area.json())[("road", "roads", "width_m")] == rows[("road", "roads", "width_m")]
    bad = client.get("/api/layers/completeness", params={"township": "abc"}, headers=admin)
    assert bad.status_code == 400 and bad.json()["field"] == "township"
    assert client.get("/api/layers/roads", headers=admin).json()["name"] == "roads"  # /{layer} still answers
    assert client.get("/api/layers/completeness").status_code == 401


def test_reports_page_and_summary_report(client: TestClient, import_engine: Engine, catalog: Catalog) -> None:
    run = create_run(import_engine, COVERAGE, catalog)
    with import_engine.connect() as conn:
        rows = completeness(conn, catalog, COVERAGE)
    width = _by_key(rows)[("road", "roads", "width_m")]
    page = client.get("/reports", headers=_as(import_engine, "c_planner"))
    assert page.status_code == 200 and "数据完整性" in page.text
    cell = re.search(r'data-field="roads.width_m">(.*?)</tr>', page.text, re.S)
    assert cell and f"{width['share_empty'] * 100:.1f}%" in cell[1] and "counted as wide enough" in cell[1]
    report = build_report(import_engine, catalog, "summary", run["run_id"])
    section = next(s for s in report.sections if s.key == "completeness")
    assert (section.zh, section.en) == ("数据完整性", "Data completeness")
    records = section.rows
    assert [(r["layer"], r["field"], r["features"], r["empty"], r["share_empty"]) for r in records] == [
        (r["layer"], r["field"], r["features"], r["empty"], r["share_empty"]) for r in rows
    ]
    body = client.get("/api/reports/summary", headers=_as(import_engine, "c_engineer")).json()
    scoped = next(s for s in body["sections"] if s["key"] == "completeness")["rows"]
    assert next(r for r in scoped if r["field"] == "width_m")["features"] < width["features"]
