"""Shared by tests/test_ogc_*.py: a plan-demo database per module (cloned from one template made once
a session, so each module costs a second, not a demo load), the real app on a real port over it with
accounts on, and the accounts and tokens a county engineer, a township engineer and an admin have."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
import pyogrio
import pytest
import uvicorn
from psycopg import sql
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from fupin_gis.auth.accounts import add_user, new_token
from fupin_gis.catalog import Catalog
from fupin_gis.db.setup import create_scratch_database, drop_scratch_database
from fupin_gis.demo import generate, load_demo
from fupin_gis.main import create_app
from fupin_gis.settings import Settings

PASSWORD = "ogc-tests-password"
DEMO_SEED = 7  # as tests/conftest.py


def _server(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def ogc_template(base_settings: Settings, test_db_url: str, catalog: Catalog) -> Iterator[str]:
    """A migrated database with the plan demo, made once a session, to clone per module."""
    name = f"fupin_ogc_template_{os.getpid()}"
    url = create_scratch_database(base_settings, name)
    engine = create_engine(url)
    load_demo(engine, catalog, generate("plan", DEMO_SEED))
    engine.dispose()
    yield url
    drop_scratch_database(base_settings, name)


@pytest.fixture(scope="module")
def ogc_engine(request: pytest.FixtureRequest, base_settings: Settings, ogc_template: str) -> Iterator[Engine]:
    """This module's own copy of the template (``CREATE DATABASE … TEMPLATE``)."""
    name = f"fupin_ogc_{request.module.__name__.rsplit('_', 1)[-1]}_{os.getpid()}"
    template = make_url(ogc_template).database
    with psycopg.connect(_server(ogc_template), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    engine = create_engine(make_url(ogc_template).set(database=name))
    yield engine
    engine.dispose()
    drop_scratch_database(base_settings, name)


@dataclass(frozen=True)
class Account:
    """A test account: name, role, scope and an API token."""

    name: str
    role: str
    scope: str
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        """The Authorization header with the token."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def userpwd(self) -> str:
        """GDAL's USERPWD: the account name and its token as password."""
        return f"{self.name}:{self.token}"


def scopes(engine: Engine) -> dict[str, str]:
    """The demo's county and its first two townships (those that hold roads)."""
    with engine.connect() as conn:
        county = conn.execute(text("SELECT code FROM counties ORDER BY code LIMIT 1")).scalar_one()
        towns = (
            conn.execute(
                text(
                    "SELECT left(village_code, 9) AS t FROM roads WHERE village_code IS NOT NULL "
                    "GROUP BY 1 ORDER BY count(*) DESC LIMIT 2"
                )
            )
            .scalars()
            .all()
        )
    return {"county": county, "town_a": towns[0], "town_b": towns[1]}


def make_accounts(engine: Engine, prefix: str) -> dict[str, Account]:
    """An admin (everything), a county viewer, a county engineer and engineers of two townships."""
    where = scopes(engine)
    wanted = {
        "admin": ("admin", "*"),
        "viewer": ("viewer", where["county"]),
        "county": ("engineer", where["county"]),
        "eng_a": ("engineer", where["town_a"]),
        "eng_b": ("engineer", where["town_b"]),
        "planner": ("planner", where["county"]),
    }
    found = {}
    for key, (role, scope) in wanted.items():
        name = f"{prefix}_{key}"
        add_user(engine, name, PASSWORD, role, scope)
        found[key] = Account(name, role, scope, new_token(engine, name))
    return found


@contextmanager
def serve(settings: Settings, engine: Engine, **ogc: Any) -> Iterator[str]:
    """The app (accounts on) on 127.0.0.1 and a free port, over ``engine``'s database; its base URL."""
    url = engine.url.render_as_string(hide_password=False)
    app_settings = settings.model_copy(
        update={
            "database_url": url,
            "auth": settings.auth.model_copy(update={"required": True}),
            "ogc": settings.ogc.model_copy(update=ogc),
        }
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(app_settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


READ = """
import json, sys, time, pyogrio
url, layer, out, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
start = time.perf_counter()
frame = pyogrio.read_dataframe(url, layer=layer, **options)
seconds = time.perf_counter() - start
pyogrio.write_dataframe(frame, out, layer=layer, driver="GPKG")
print(json.dumps({"seconds": seconds, "rows": len(frame), "gdal": pyogrio.__gdal_version_string__}))
"""


def pyogrio_read(url: str, layer: str, out: Path, **options: Any) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """``pyogrio.read_dataframe(url, layer, **options)`` with the GDAL of pyogrio's wheel, in a child
    process (it holds the interpreter lock while GDAL opens the URL, so a server in one of this
    process's threads could not answer), kept as a GeoPackage and read back; and the child's report."""
    done = subprocess.run(
        [sys.executable, "-c", READ, url, layer, str(out), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return pyogrio.read_dataframe(out, layer=layer), json.loads(done.stdout.strip().splitlines()[-1])
