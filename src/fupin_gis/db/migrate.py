"""Run the Alembic migrations programmatically (``fupin-gis db up`` and the test fixture)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from fupin_gis.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings, url: str) -> Config:
    """An Alembic config pointing at the package's migrations and at ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings, url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``, then the row-level security policies of the catalog's layers."""
    command.upgrade(alembic_config(settings, url), revision)
    if revision == "head":
        from sqlalchemy import create_engine

        from fupin_gis.catalog import load_catalog
        from fupin_gis.db.security import apply_row_security

        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                apply_row_security(conn, load_catalog(settings.catalog_dir))
        finally:
            engine.dispose()


def current(settings: Settings, url: str) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
