"""``db backup``, ``db restore`` and ``coverage prune`` on the command line, against the server
DATABASE_URL names (here: a scratch database with the plan demo, as its owner, not a superuser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from fupin_gis.catalog import Catalog
from fupin_gis.cli import app
from fupin_gis.db.setup import empty_layers, layer_counts


@pytest.fixture(scope="module")
def env(import_engine: Engine) -> dict[str, str]:
    url = import_engine.url.render_as_string(hide_password=False)
    return {"DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://")}


def test_db_backup_and_restore(tmp_path: Path, env: dict[str, str], import_engine: Engine, catalog: Catalog) -> None:
    runner = CliRunner()
    before = layer_counts(import_engine, catalog)
    target = tmp_path / "县库.dump"
    made = runner.invoke(app, ["db", "backup", str(target)], env=env)
    assert made.exit_code == 0, made.output
    assert "backed up" in made.output and target.stat().st_size > 100_000
    empty_layers(import_engine, catalog)
    back = runner.invoke(app, ["db", "restore", str(target), "--yes"], env=env)
    assert back.exit_code == 0, back.output
    assert "restored" in back.output
    assert layer_counts(import_engine, catalog) == before
    check = runner.invoke(app, ["db", "check"], env=env)
    assert check.exit_code == 0, check.output


def test_db_restore_refuses_what_is_not_a_backup(tmp_path: Path, env: dict[str, str]) -> None:
    junk = tmp_path / "x.dump"
    junk.write_bytes(b"PK\x03\x04 a zip, not a dump")
    result = CliRunner().invoke(app, ["db", "restore", str(junk), "--yes"], env=env)
    assert result.exit_code == 2
    assert "不是" in result.output and "not a backup" in result.output and "Traceback" not in result.output
    asked = CliRunner().invoke(app, ["db", "restore", str(junk)], env=env, input="n\n")
    assert asked.exit_code == 1  # declined: nothing done


def test_coverage_prune(env: dict[str, str], import_engine: Engine) -> None:
    with import_engine.begin() as conn:
        for _ in range(3):
            conn.execute(text("INSERT INTO coverage_runs (rules, summary) VALUES ('{}', '{}')"))
        newest = conn.execute(text("SELECT max(id) FROM coverage_runs")).scalar_one()
    runner = CliRunner()
    refused = runner.invoke(app, ["coverage", "prune", "--keep", "0"], env=env)
    assert refused.exit_code == 2 and "--keep" in refused.output
    unset = runner.invoke(app, ["coverage", "prune"], env=env)
    assert unset.exit_code == 2 and "FUPIN_COVERAGE__KEEP_RUNS" in unset.output
    result = runner.invoke(app, ["coverage", "prune"], env={**env, "FUPIN_COVERAGE__KEEP_RUNS": "1"})
    assert result.exit_code == 0, result.output
    assert "deleted" in result.output
    with import_engine.connect() as conn:
        assert conn.execute(text("SELECT array_agg(id) FROM coverage_runs")).scalar_one() == [newest]
