"""Shared pieces of the benchmarks: a bench database, timing of commands, the results file."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fupin_gis.db.setup import create_scratch_database
from fupin_gis.settings import Settings

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
RESULTS = BENCH / "RESULTS.md"


@dataclass
class Run:
    """One timed command."""

    seconds: float
    max_rss_mb: float
    output: str


def bench_database(name: str = "fupin_bench", keep: bool = False) -> str:
    """A fresh, migrated scratch database for benchmarks (never the configured one); ``keep``: the
    one of that name as it is (migrated)."""
    if keep:
        from sqlalchemy.engine import make_url

        from fupin_gis.db import migrate
        from fupin_gis.db.setup import bring_up

        url = make_url(bring_up(Settings())).set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(Settings(), url)
        return url
    return create_scratch_database(Settings(), name)


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
