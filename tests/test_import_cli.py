"""``fupin-gis import``: exit 0 on success, 2 on a validation failure (nothing written), 1 on other
errors; with ``--json`` the report is the only thing on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from ingest_helpers import snapshot
from openpyxl import load_workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from fupin_gis.catalog import Catalog
from fupin_gis.cli import app


def _env(engine: Engine) -> dict[str, str]:
    return {"DATABASE_URL": engine.url.render_as_string(hide_password=False).replace("+psycopg", "")}


def _csv(path: Path, kind: str) -> Path:
    pd.DataFrame(
        {"编号": [f"W-CLI-{kind}"], "类型": [kind], "状态": ["现有"], "经度": [107.22], "纬度": [31.91]}
    ).to_csv(path, index=False)
    return path


def test_exit_codes_and_json(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["import", str(_csv(tmp_path / "ok.csv", "机压井")), "--layer", "water_points", "--json"],
        env=_env(import_engine),
    )
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.stdout)
    assert body["batch"] is not None and body["features_written"] == 1 and body["crs"]["source"] == "format"

    before = snapshot(import_engine, catalog)
    bad = tmp_path / "bad.csv"
    report = tmp_path / "问题清单.xlsx"
    failed = runner.invoke(
        app,
        ["import", str(_csv(bad, "水塔")), "--layer", "water_points", "--json", "--report", str(report)],
        env=_env(import_engine),
    )
    assert failed.exit_code == 2
    body = json.loads(failed.stdout)
    assert (
        body["batch"] is None
        and body["problems"][0]["code"] == "enum_unknown"
        and body["problems"][0]["value"] == "水塔"
    )
    assert load_workbook(report)["问题 Problems"]["F2"].value == "enum_unknown"
    assert snapshot(import_engine, catalog) == before

    missing = runner.invoke(app, ["import", str(bad), "--layer", "wells", "--json"], env=_env(import_engine))
    assert missing.exit_code == 1 and json.loads(missing.stdout)["code"] == "layer_not_found"
    text_mode = runner.invoke(
        app, ["import", str(bad), "--layer", "water_points", "--dry-run"], env=_env(import_engine)
    )
    assert text_mode.exit_code == 2 and "水塔" in text_mode.stdout and "未写入 nothing written" in text_mode.stdout
