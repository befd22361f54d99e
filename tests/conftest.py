"""Test fixtures: a throwaway database on a real PostGIS, brought up with the same code as
``fupin-gis db up`` (the embedded cluster) or on the server ``DATABASE_URL`` names."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from ogc_helpers import ogc_engine, ogc_template  # noqa: F401  (fixtures of tests/test_ogc_*.py)
from sqlalchemy import Connection, Engine, create_engine

from fupin_gis.catalog import Catalog, load_catalog
from fupin_gis.db.setup import bring_up, create_scratch_database, drop_scratch_database
from fupin_gis.demo import DemoCounty, generate, load_demo
from fupin_gis.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"  # public files, each with its SOURCE.md (see the README there)
OUTPUT = ROOT / "test-output"
DEMO_SEED = 7


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """Settings as a user has them (embedded cluster under var/pg unless DATABASE_URL), accounts off:
    the app answers as the system. tests/test_accounts.py and the sign-in browser test turn them on."""
    settings = Settings()
    return settings.model_copy(
        update={
            "auth": settings.auth.model_copy(update={"required": False}),
            # overviews built on demand only: tests count them
            "map": settings.map.model_copy(update={"warm_overviews": False}),
        }
    )


def _make_database(base_settings: Settings, name: str) -> str:
    return create_scratch_database(base_settings, name)


def _drop_database(base_settings: Settings, name: str) -> None:
    drop_scratch_database(base_settings, name)


@pytest.fixture(scope="session")
def test_db_url(base_settings: Settings) -> Iterator[str]:
    """URL of a fresh, migrated test database. Fails (never skips) when PostGIS is missing."""
    name = f"fupin_test_{os.getpid()}"
    bring_up(base_settings)
    url = _make_database(base_settings, name)
    yield url
    _drop_database(base_settings, name)


@pytest.fixture(scope="module")
def import_engine(base_settings: Settings, test_db_url: str, catalog: Catalog) -> Iterator[Engine]:
    """A database of its own for a module of import tests, with the plan demo as deployment."""
    name = f"fupin_import_{os.getpid()}"
    url = _make_database(base_settings, name)
    eng = create_engine(url)
    load_demo(eng, catalog, generate("plan", DEMO_SEED))
    yield eng
    eng.dispose()
    _drop_database(base_settings, name)


@pytest.fixture(scope="session")
def settings(base_settings: Settings, test_db_url: str) -> Settings:
    """Settings pointing at the test database."""
    return base_settings.model_copy(update={"database_url": test_db_url})


@pytest.fixture(scope="session")
def catalog(base_settings: Settings) -> Catalog:
    """The project's layer catalog."""
    return load_catalog(base_settings.catalog_dir)


@pytest.fixture(scope="session")
def engine(test_db_url: str) -> Iterator[Engine]:
    """An engine on the test database."""
    eng = create_engine(test_db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def demo(engine: Engine, catalog: Catalog) -> DemoCounty:
    """The plan-scale demo county, loaded once per session."""
    county = generate("plan", DEMO_SEED)
    load_demo(engine, catalog, county)
    return county


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        trans = connection.begin()
        yield connection
        trans.rollback()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave screenshots and files for people to look at."""
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT
