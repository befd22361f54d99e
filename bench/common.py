"""Shared pieces of the benchmarks: a bench database, timing of commands, the results file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from fupin_gis.db.setup import create_scratch_database
from fupin_gis.settings import Settings

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
# where results are recorded (FUPIN_BENCH_RESULTS: another file, for a trial run)
RESULTS = Path(os.environ.get("FUPIN_BENCH_RESULTS") or BENCH / "RESULTS.md")


@dataclass
class Run:
    """One timed command."""

    seconds: float
    max_rss_mb: float
    output: str


def database_exists(name: str) -> bool:
    """True when the bench database ``name`` is on the server (an earlier run made it)."""
    from sqlalchemy.engine import make_url

    from fupin_gis.db.setup import bring_up

    server = make_url(bring_up(Settings())).set(database="postgres", drivername="postgresql")
    with psycopg.connect(server.render_as_string(hide_password=False)) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def bench_database(name: str = "fupin_bench", keep: bool = False) -> str:
    """A fresh, migrated scratch database for benchmarks (never the configured one); ``keep``: the
    one of that name as it is (migrated), or a fresh one when there is none yet."""
    if keep and database_exists(name):
        from sqlalchemy.engine import make_url

        from fupin_gis.db import migrate
        from fupin_gis.db.setup import bring_up

        url = make_url(bring_up(Settings())).set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(Settings(), url)
        return url
    return create_scratch_database(Settings(), name)


def holds_demo(url: str) -> bool:
    """True when the database at ``url`` (a psycopg URL) has a demo county loaded."""
    with psycopg.connect(url) as conn:
        return bool(
            conn.execute("SELECT EXISTS (SELECT 1 FROM roads) AND EXISTS (SELECT 1 FROM villages)").fetchone()[0]
        )


def demo_database(name: str, scale: str = "county", reuse: bool = False) -> str:
    """The bench database ``name`` with the demo at ``scale`` (seed 1) as a psycopg URL: the one an
    earlier run left if ``reuse`` and it holds one, else built now (``--reuse`` with nothing to reuse
    builds the data instead of failing)."""
    url = bench_database(name, keep=reuse).replace("+psycopg", "")
    if not (reuse and holds_demo(url)):
        timed([sys.executable, "-m", "fupin_gis", "demo", "--scale", scale, "--seed", "1"], {"DATABASE_URL": url})
    return url


def timed(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` under GNU time: wall seconds and peak memory."""
    full = ["/usr/bin/time", "-v", *cmd]
    start = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0,):
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return Run(seconds, int(rss.group(1)) / 1024 if rss else float("nan"), proc.stdout + proc.stderr)


def record(section: str, body: str) -> None:
    """Replace (or add) a ``## section`` of bench/RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    block = f"## {section}\n\n{body.strip()}\n\n"
    text = pattern.sub(block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text)
