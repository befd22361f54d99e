"""Housekeeping: the audit log refuses TRUNCATE, coverage runs pruned, stale upload folders swept."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from fupin_gis.auth.accounts import audit
from fupin_gis.catalog import Catalog
from fupin_gis.coverage.prune import prune_runs, referenced_runs
from fupin_gis.coverage.snapshots import create_run
from fupin_gis.errors import InvalidInput
from fupin_gis.main import create_app
from fupin_gis.scratch import sweep
from fupin_gis.settings import CoverageSettings, Settings


def test_audit_log_refuses_truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (username, action) VALUES ('t', 'truncate_probe')"))
        before = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == before


def _runs(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM coverage_runs ORDER BY id")).scalars())


def test_prune_keeps_the_newest_and_the_referenced_runs(import_engine: Engine) -> None:
    with import_engine.begin() as conn:
        ids = [
            conn.execute(
                text("INSERT INTO coverage_runs (rules, summary) VALUES ('{}', '{}') RETURNING id")
            ).scalar_one()
            for _ in range(6)
        ]
        for run in ids:
            conn.execute(
                text("INSERT INTO coverage_villages (run_id, code, result) VALUES (:r, '511921102201', '{}')"),
                {"r": run},
            )
            conn.execute(
                text(
                    "INSERT INTO coverage_households (run_id, household_id, village_code, water_ok, near_road, missing) "
                    "VALUES (:r, 1, '511921102201', true, true, '{}')"
                ),
                {"r": run},
            )
        # a report exported from the second run, and a table of someone's pointing at the first
        audit(conn, "planner", "export", {"report": "summary", "format": "pdf", "run": ids[1], "area": None})
        conn.execute(text("CREATE TABLE report_ledger (run_id bigint REFERENCES coverage_runs (id))"))
        conn.execute(text("INSERT INTO report_ledger VALUES (:r)"), {"r": ids[0]})

    with pytest.raises(InvalidInput):
        prune_runs(import_engine, 0)
    pruned = prune_runs(import_engine, 2, username="admin")
    assert pruned.deleted == ids[2:4] and pruned.referenced == ids[:2]
    assert _runs(import_engine) == [ids[0], ids[1], ids[4], ids[5]]
    with import_engine.connect() as conn:
        parts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM coverage_villages WHERE run_id = ANY(:d)) "
                "+ (SELECT count(*) FROM coverage_households WHERE run_id = ANY(:d))"
            ),
            {"d": ids[2:4]},
        ).scalar_one()
        row = conn.execute(
            text("SELECT username, detail FROM audit_log WHERE action = 'coverage_prune' ORDER BY id DESC LIMIT 1")
        ).one()
    assert parts == 0  # their village and household rows went with them
    assert row.username == "admin" and row.detail == {"keep": 2, "deleted": ids[2:4], "referenced": ids[:2]}
    assert prune_runs(import_engine, 2).deleted == []  # nothing more to do


def test_retention_setting_prunes_after_each_run(import_engine: Engine, catalog: Catalog) -> None:
    with import_engine.connect() as conn:
        named = referenced_runs(conn)
    assert named  # the previous test's export and ledger rows
    result = create_run(import_engine, CoverageSettings(keep_runs=1), catalog)
    assert _runs(import_engine) == sorted(named | {result["run_id"]})
    assert CoverageSettings().keep_runs is None  # by default every run is kept


def _aged(path: Path, seconds: float) -> Path:
    path.mkdir()
    (path / "upload.zip").write_bytes(b"x")
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_start_up_sweeps_stale_upload_folders(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = _aged(tmp_path / "fupin-upload-killed", 2 * 3600)
    stale_import = _aged(tmp_path / "fupin-import-killed", 3601)
    fresh = _aged(tmp_path / "fupin-upload-running", 60)
    foreign = _aged(tmp_path / "someone-elses", 5 * 3600)
    plain = tmp_path / "fupin-upload-note.txt"
    plain.write_text("a file, not a folder")
    os.utime(plain, (time.time() - 7200, time.time() - 7200))
    assert sorted(sweep(tmp_path)) == sorted([stale, stale_import])
    assert fresh.exists() and foreign.exists() and plain.exists()

    again = _aged(tmp_path / "fupin-upload-killed-again", 2 * 3600)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the app's temp dir is this folder
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/health").status_code == 200
    assert not again.exists() and fresh.exists()
