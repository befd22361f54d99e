"""Backups: the plan demo backed up, emptied (``db reset``), restored; counts, schema, accounts and
scopes checked on the real database afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from fupin_gis.auth.accounts import SYSTEM, add_user, by_session, login, record
from fupin_gis.catalog import Catalog
from fupin_gis.db.backup import backup, restore
from fupin_gis.db.check import schema_problems
from fupin_gis.db.setup import empty_layers, layer_counts
from fupin_gis.errors import InvalidInput
from fupin_gis.settings import AuthSettings, Settings

PASSWORD = "correct horse"


def _settings_for(base_settings: Settings, engine: Engine) -> Settings:
    """The embedded cluster as a user has it, pointed at the scratch database (or DATABASE_URL's server)."""
    if base_settings.external_url:
        return base_settings.model_copy(update={"database_url": engine.url.render_as_string(hide_password=False)})
    return base_settings.model_copy(update={"db": base_settings.db.model_copy(update={"name": engine.url.database})})


def _actions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT action FROM audit_log ORDER BY id")).scalars())


def test_backup_reset_restore_round_trip(
    tmp_path: Path, base_settings: Settings, import_engine: Engine, catalog: Catalog
) -> None:
    settings = _settings_for(base_settings, import_engine)
    with import_engine.connect() as conn:
        town = conn.execute(text("SELECT code FROM townships ORDER BY code LIMIT 1")).scalar_one()
        town_villages = conn.execute(
            text("SELECT count(*) FROM villages WHERE code LIKE :t"), {"t": town + "%"}
        ).scalar_one()
    add_user(import_engine, "backup_eng", PASSWORD, "engineer", town)
    before = layer_counts(import_engine, catalog)
    assert before["villages"] > town_villages > 0 and before["households"] > 0

    archive = backup(settings, tmp_path / "plan.dump")
    assert archive.path.read_bytes()[:5] == b"PGDMP" and archive.size > 100_000
    assert not (tmp_path / "plan.dump.part").exists()
    assert _actions(import_engine)[-1] == "db_backup"

    empty_layers(import_engine, catalog)  # what `db reset` does
    assert set(layer_counts(import_engine, catalog).values()) == {0}
    record(import_engine, SYSTEM, "written_after_the_backup", {})

    restore(settings, archive.path)
    assert layer_counts(import_engine, catalog) == before
    with import_engine.connect() as conn:
        assert schema_problems(conn, catalog) == []  # `db check` is clean
        policies = set(
            conn.execute(text("SELECT tablename FROM pg_policies WHERE policyname = 'fupin_scope'")).scalars()
        )
    # every layer and the two coverage snapshot tables (and the ledger's, which have their own tests)
    assert {s.name for s in catalog.ordered()} | {"coverage_villages", "coverage_households"} <= policies
    actions = _actions(import_engine)
    # the trail written after the dump survives the restore: the backup's own row and the probe
    assert actions[-3:] == ["db_backup", "written_after_the_backup", "db_restore"]
    assert actions.count("db_backup") == 1 and "user_add" in actions

    made = login(import_engine, "backup_eng", PASSWORD, AuthSettings(), "10.9.0.1")
    assert made is not None
    principal = by_session(import_engine, made[0])
    assert principal is not None and principal.scope == town
    with principal.scoped(import_engine).connect() as conn:
        seen = conn.execute(text("SELECT code FROM villages")).scalars().all()
    assert len(seen) == town_villages and all(code.startswith(town) for code in seen)


def test_restore_refuses_a_file_that_is_not_a_backup(
    tmp_path: Path, base_settings: Settings, import_engine: Engine, catalog: Catalog
) -> None:
    settings = _settings_for(base_settings, import_engine)
    before = layer_counts(import_engine, catalog)
    junk = tmp_path / "notes.dump"
    junk.write_text("not a dump")
    with pytest.raises(InvalidInput, match="pg_dump"):
        restore(settings, junk)
    with pytest.raises(InvalidInput):
        restore(settings, tmp_path / "missing.dump")
    with pytest.raises(InvalidInput, match="No such folder"):
        backup(settings, tmp_path / "no" / "such" / "x.dump")
    assert layer_counts(import_engine, catalog) == before
