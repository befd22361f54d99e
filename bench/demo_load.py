"""Generate and load a demo county: ``fupin-gis demo --scale SCALE`` timed end to end.

Usage: ``.venv/bin/python bench/demo_load.py [--scale county|province]``. Runs against a scratch
database (never the configured one) and records wall time and peak memory in RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_database, record, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="county")
    args = parser.parse_args()
    url = bench_database("fupin_bench_demo")
    run = timed(
        [sys.executable, "-m", "fupin_gis", "demo", "--scale", args.scale, "--seed", "1"],
        {"DATABASE_URL": url.replace("+psycopg", "")},
    )
    with create_engine(url).connect() as conn:
        roads = conn.execute(text("SELECT count(*) FROM roads")).scalar_one()
        villages = conn.execute(text("SELECT count(*) FROM villages")).scalar_one()
        households = conn.execute(text("SELECT count(*) FROM households")).scalar_one()
    line = (
        f"| {args.scale} | {villages:,} | {roads:,} | {households:,} | {run.seconds:.0f} s | {run.max_rss_mb:,.0f} MB |"
    )
    print(line)
    record(
        f"Demo: generate and load, {args.scale} scale",
        "`.venv/bin/python bench/demo_load.py --scale "
        + args.scale
        + "` (one transaction, COPY; progress bar on the terminal)\n\n"
        "| scale | villages | road segments | households | wall time | peak memory |\n|---|---|---|---|---|---|\n"
        + line,
    )


if __name__ == "__main__":
    main()
