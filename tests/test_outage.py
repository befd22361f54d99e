"""The database away and back, on a cluster of this module's own (stopped and started here, so the
shared test cluster is never touched): the running server answers 503 ``database_unavailable``
(JSON for the API and tiles, a bilingual page for a browser), the cluster comes back on the same
port, and the same server answers again without a restart; a full disk is a clear 507."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from fupin_gis.auth.accounts import add_user, new_token
from fupin_gis.db import migrate
from fupin_gis.db.cluster import LocalCluster
from fupin_gis.main import create_app
from fupin_gis.settings import DbSettings, Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A throwaway embedded cluster (under var/, where the server user can reach it when run as root)."""
    home = ROOT / "var" / f"pg-outage-{os.getpid()}"
    c = LocalCluster(DbSettings(local_dir=home))
    yield c
    c.down()
    shutil.rmtree(c.data_dir.parent, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def outage_settings(base_settings: Settings, cluster: LocalCluster) -> Settings:
    url = cluster.up()
    settings = base_settings.model_copy(update={"database_url": url, "db": cluster.settings})
    migrate.upgrade(settings, url)
    return settings


def _serve(settings: Settings) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.1)
    assert srv.started
    return f"http://127.0.0.1:{port}", srv, thread


@pytest.fixture
def served(outage_settings: Settings) -> Iterator[str]:
    url, srv, thread = _serve(outage_settings)
    yield url
    srv.should_exit = True
    thread.join(10)


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.request.url, response.status_code, response.text[:300])
    assert response.headers["retry-after"]


def test_outage_is_a_503_and_the_same_server_recovers(served: str, cluster: LocalCluster) -> None:
    with httpx.Client(base_url=served, timeout=30) as client:
        assert client.get("/api/layers").status_code == 200  # the pool holds a connection now
        port = cluster.status().port
        assert cluster.down() is True
        try:
            for url in ("/api/layers", "/api/coverage/runs", "/api/health", "/tiles/roads/0/0/0.mvt", "/reports"):
                response = client.get(url)
                _unavailable(response)
                body = response.json()
                assert body["code"] == "database_unavailable", url
                assert "数据库" in body["message"] and "database" in body["message_en"], url
            page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
            _unavailable(page)
            assert page.headers["content-type"].startswith("text/html")
            assert "数据库暂时不可用" in page.text and "The database is unavailable" in page.text
            assert "database_unavailable" in page.text and "Traceback" not in page.text
        finally:
            cluster.up()
        # the same port after the restart (TIME-WAIT sockets of the old server counted as busy), so
        # the running server's pool finds the database again by itself
        assert cluster.status().port == port
        assert client.get("/api/layers").status_code == 200
        assert client.get("/").status_code == 200
        assert client.get("/api/health").json()["database"] == "ok"


def test_server_started_while_the_database_was_away_serves_scoped_accounts(
    outage_settings: Settings, cluster: LocalCluster
) -> None:
    """Nothing learnt at start-up stays wrong: row-level security, unknown while the database was
    away, is asked again when it is back (scoped accounts were refused until a restart)."""
    engine = create_engine(outage_settings.external_url or "")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO counties (code, name, geom) VALUES ('511921', '通江县', ST_GeomFromText(:w, 4490))"),
            {"w": "MULTIPOLYGON(((107 31.8,107.5 31.8,107.5 32.2,107 32.2,107 31.8)))"},
        )
    add_user(engine, "outage-viewer", "a long enough password", "viewer", "511921")
    token = new_token(engine, "outage-viewer")
    engine.dispose()
    secured = outage_settings.model_copy(update={"auth": outage_settings.auth.model_copy(update={"required": True})})
    cluster.down()
    url, srv, thread = _serve(secured)  # its start-up finds no database
    try:
        headers = {"Authorization": f"Bearer {token}"}
        _unavailable(httpx.get(f"{url}/api/layers", headers=headers))
        cluster.up()
        response = httpx.get(f"{url}/api/layers", headers=headers, timeout=30)
        assert response.status_code == 200, response.text[:300]
        counties = next(layer for layer in response.json() if layer["name"] == "counties")
        assert counties["count"] == 1
    finally:
        cluster.up()
        srv.should_exit = True
        thread.join(10)


def test_full_disk_is_a_clear_507(served: str, outage_settings: Settings) -> None:
    """PostgreSQL's disk_full (SQLSTATE 53100) when a tile is written to the cache; raised by the
    database itself, from a trigger, since filling a real disk would need a file system of its own."""
    engine = create_engine(outage_settings.external_url or "")
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$"
            )
        )
        conn.execute(
            text("CREATE TRIGGER full_disk BEFORE INSERT ON tile_cache FOR EACH ROW EXECUTE FUNCTION full_disk()")
        )
    try:
        response = httpx.get(f"{served}/tiles/roads/3/6/3.mvt", timeout=30)
        assert response.status_code == 507, response.text[:300]
        body = response.json()
        assert body["code"] == "database_disk_full"
        assert "磁盘已满" in body["message"] and "disk is full" in body["message_en"]
        page = httpx.get(f"{served}/tiles/roads/3/6/2.mvt", headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 507 and page.headers["content-type"].startswith("application/json")  # tiles: JSON
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER full_disk ON tile_cache"))
            conn.execute(text("DROP FUNCTION full_disk()"))
        engine.dispose()
    assert httpx.get(f"{served}/tiles/roads/3/6/3.mvt", timeout=30).status_code == 200
