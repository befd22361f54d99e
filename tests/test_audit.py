"""The audit trail in the core: rollbacks, coverage runs and exports write their row in the
transaction of the change, so the command line and the API leave the same trail, once; and one
boundary translates database errors for the command line as for the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from ingest_helpers import do_import
from sqlalchemy import Engine, exc, text
from typer.testing import CliRunner

from fupin_gis.catalog import Catalog
from fupin_gis.cli import app
from fupin_gis.coverage import snapshots
from fupin_gis.main import create_app
from fupin_gis.settings import CoverageSettings, Settings


def _last_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one())


def _trail(engine: Engine, after: int) -> list[tuple[str, str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, username, detail FROM audit_log WHERE id > :i ORDER BY id"), {"i": after}
        ).all()
    return [(r.action, r.username, r.detail) for r in rows]


def _wells(engine: Engine, catalog: Catalog, folder: Path, tag: str) -> int:
    """A committed batch of two water points to roll back."""
    with engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(seat), ST_Y(seat) FROM villages ORDER BY code LIMIT 1")).one()
    path = folder / f"wells-{tag}.csv"
    pd.DataFrame(
        {"编号": [f"AU-{tag}-1", f"AU-{tag}-2"], "类型": ["水井", "水井"], "状态": ["现有", "现有"],
         "经度": [lon, lon + 0.001], "纬度": [lat, lat]}
    ).to_csv(path, index=False)  # fmt: skip
    report = do_import(engine, catalog, path, "water_points")
    assert report.ok and report.batch, report.to_text()
    return int(report.batch)


@pytest.fixture
def env(import_engine: Engine) -> dict[str, str]:
    url = import_engine.url.render_as_string(hide_password=False)
    return {"DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://")}


def test_the_command_line_leaves_the_trail(
    import_engine: Engine, catalog: Catalog, env: dict[str, str], tmp_path: Path
) -> None:
    """A rollback, a coverage run and an export from the command line (which wrote none of these rows
    before): each its row, by the system; an export that fails records nothing."""
    batch = _wells(import_engine, catalog, tmp_path, "cli")
    start = _last_id(import_engine)
    runner = CliRunner()
    assert runner.invoke(app, ["rollback", str(batch)], env=env).exit_code == 0
    ran = runner.invoke(app, ["coverage", "run", "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    with import_engine.connect() as conn:
        run = conn.execute(text("SELECT max(id) FROM coverage_runs")).scalar_one()
    out = tmp_path / "summary.csv"
    made = runner.invoke(app, ["report", "summary", "-f", "csv", "-o", str(out)], env=env)
    assert made.exit_code == 0 and out.exists(), made.output
    refused = runner.invoke(app, ["report", "households", "-f", "pdf", "-o", str(tmp_path / "h.pdf")], env=env)
    assert refused.exit_code == 2 and "XLSX" in refused.output  # a county's household list is no printout
    trail = _trail(import_engine, start)
    assert [(a, u) for a, u, _ in trail] == [("rollback", "system"), ("coverage_run", "system"), ("export", "system")]
    assert trail[0][2] == {"batch": batch, "layer": "water_points", "removed": 2, "restored": 0}
    assert trail[1][2] == {"run": run}
    assert trail[2][2] == {"report": "summary", "format": "csv", "run": run, "area": None}


@pytest.fixture
def client(base_settings: Settings, import_engine: Engine) -> Iterator[TestClient]:
    url = import_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(base_settings.model_copy(update={"database_url": url}))) as c:
        yield c


def test_the_api_writes_each_row_once(
    client: TestClient, import_engine: Engine, catalog: Catalog, tmp_path: Path
) -> None:
    """The routes no longer record after the fact: one row per rollback, run and export, and none
    for an export refused."""
    batch = _wells(import_engine, catalog, tmp_path, "api")
    start = _last_id(import_engine)
    assert client.delete(f"/api/imports/{batch}").status_code == 200
    run = client.post("/api/coverage/runs").json()["run_id"]
    assert client.get(f"/reports/summary.xlsx?run={run}").status_code == 200
    assert client.get(f"/reports/summary.html?run={run}").status_code == 200
    assert client.get(f"/reports/households.pdf?run={run}").status_code == 400
    actions = [(a, d.get("format")) for a, _, d in _trail(import_engine, start)]
    assert actions == [("rollback", None), ("coverage_run", None), ("export", "xlsx"), ("export", "html")]


def test_a_run_and_its_audit_row_commit_together(
    import_engine: Engine, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row is in the run's transaction: a run that fails at its last step leaves neither."""
    with import_engine.connect() as conn:
        runs = conn.execute(text("SELECT count(*) FROM coverage_runs")).scalar_one()
    start = _last_id(import_engine)

    def broken(conn: Any, keep: int, username: str = "system") -> None:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(snapshots, "prune_in", broken)
    with pytest.raises(RuntimeError):
        snapshots.create_run(import_engine, CoverageSettings(keep_runs=50), catalog, username="planner1")
    with import_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM coverage_runs")).scalar_one() == runs
    assert _trail(import_engine, start) == []
    monkeypatch.undo()
    made = snapshots.create_run(import_engine, CoverageSettings(), catalog, username="planner1")
    assert _trail(import_engine, start) == [("coverage_run", "planner1", {"run": made["run_id"]})]


@pytest.mark.parametrize(
    ("error", "code", "zh", "en"),
    [
        (psycopg.errors.DiskFull("could not extend file"), 1, "磁盘已满", "disk is full"),
        (psycopg.errors.NumericValueOutOfRange("integer out of range"), 2, "值无效", "integer out of range"),
        (psycopg.OperationalError("server closed the connection"), 1, "数据库不可用", "database unavailable"),
    ],
)
def test_the_command_line_translates_database_errors_as_the_api_does(
    monkeypatch: pytest.MonkeyPatch, error: Exception, code: int, zh: str, en: str
) -> None:
    from fupin_gis.ingest import batches

    def failing(engine: Any, limit: int = 200) -> list[dict[str, Any]]:
        raise exc.DBAPIError.instance("SELECT 1", {}, error, psycopg.Error)

    monkeypatch.setattr(batches, "list_batches", failing)
    result = CliRunner().invoke(app, ["batches"])
    assert result.exit_code == code, result.output
    assert zh in result.output and en in result.output, result.output
    assert "Traceback" not in result.output
