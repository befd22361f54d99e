"""The embedded cluster: up, idempotent, status, down, and recovery after a forced stop."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from fupin_gis.cli import app
from fupin_gis.db.cluster import LocalCluster
from fupin_gis.settings import DbSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cluster() -> LocalCluster:
    home = ROOT / "var" / f"pg-test-{os.getpid()}"
    c = LocalCluster(DbSettings(local_dir=home))
    yield c
    c.down()
    shutil.rmtree(c.data_dir.parent, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


def _query(url: str) -> str:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return conn.execute("SELECT postgis_lib_version()").fetchone()[0]


def test_up_down_and_recover(cluster: LocalCluster) -> None:
    url = cluster.up()
    assert _query(url).startswith("3.")
    assert cluster.up() == url  # idempotent
    st = cluster.status()
    assert st.initialised and st.running and st.port == int(url.split(":")[-1].split("/")[0])

    # A crash: kill the postmaster; its pid file stays behind.
    os.kill(st.pid, signal.SIGKILL)
    for _ in range(50):
        if not Path(f"/proc/{st.pid}").exists():
            break
        time.sleep(0.1)
    assert (cluster.data_dir / "postmaster.pid").exists()
    assert not cluster.status().running
    url2 = cluster.up()
    assert _query(url2).startswith("3.")

    assert cluster.down() is True
    assert not cluster.status().running
    assert cluster.down() is False


def test_cli_status_says_where_data_lives(cluster: LocalCluster) -> None:
    cluster.up()
    env = {"FUPIN_DB__LOCAL_DIR": str(cluster.settings.local_dir), "DATABASE_URL": ""}
    result = CliRunner().invoke(app, ["db", "status"], env=env)
    assert result.exit_code == 0, result.output
    assert str(cluster.data_dir) in result.output
    assert "yes, pid" in result.output
    url = CliRunner().invoke(app, ["db", "url"], env=env)
    assert url.output.strip() == cluster.url()
