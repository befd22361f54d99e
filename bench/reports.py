"""The villages-lacking report at scale: ``fupin-gis report`` in CSV, XLSX and GeoPackage, timed end to end.

Usage: ``.venv/bin/python bench/reports.py [--scale province] [--reuse]``. Loads the demo into a scratch
database and stores a coverage run (``--reuse`` keeps the database of an earlier run of this
benchmark or of ``bench/coverage_run.py``), then times each format, interpreter start-up included,
against the database alone: ``psql`` copying the same figures out of the snapshot as CSV.
Goal (issue 6): the villages report at province scale within 60 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, demo_database, record, timed  # noqa: E402

BASELINE = (
    "COPY (SELECT left(code, 9), code, name, result->'road_access'->>'connected', result->'road_access'->>'gap_m', "
    "result->'water'->>'households', result->'water'->>'households_covered', result->'rai'->>'population', "
    "result->'rai'->>'population_within_2km', result->'farmland'->>'steep_mu', result->'farmland'->>'steep_converted_mu' "
    "FROM coverage_villages WHERE run_id = (SELECT max(id) FROM coverage_runs) ORDER BY code) TO STDOUT WITH CSV HEADER"
)
DB = "fupin_bench_coverage"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="county")
    parser.add_argument("--reuse", action="store_true", help="keep the bench database and its newest coverage run")
    args = parser.parse_args()
    url = demo_database(DB, args.scale, reuse=args.reuse)  # --reuse builds it when there is none
    with psycopg.connect(url) as conn:
        has_run = conn.execute("SELECT EXISTS (SELECT 1 FROM coverage_runs)").fetchone()[0]
    if not (args.reuse and has_run):
        timed([sys.executable, "-m", "fupin_gis", "coverage", "run", "--json"], {"DATABASE_URL": url})
    OUT.mkdir(exist_ok=True)
    env = {"DATABASE_URL": url}
    start = time.perf_counter()
    base_csv = OUT / "villages-baseline.csv"
    with base_csv.open("wb") as f:
        subprocess.run(["psql", url, "-qc", BASELINE], stdout=f, check=True)
    baseline = time.perf_counter() - start
    villages = sum(1 for _ in base_csv.open()) - 1
    lines = []
    rows = "?"
    for fmt in ("csv", "xlsx", "gpkg"):
        out = OUT / f"villages-lacking.{fmt}"
        run = timed([sys.executable, "-m", "fupin_gis", "report", "villages-lacking", "-f", fmt, "-o", str(out)], env)
        if fmt == "csv":
            rows = f"{sum(1 for _ in out.open(encoding='utf-8-sig')) - 1:,}"
        lines.append(
            f"| {args.scale} | {villages:,} | {fmt} | {rows} | {run.seconds:.1f} s | {run.max_rss_mb:,.0f} MB | "
            f"{baseline:.1f} s | {run.seconds / baseline:.1f} |"
        )
        print(lines[-1], flush=True)
    record(
        f"Reports: villages lacking, {args.scale} scale",
        f"`.venv/bin/python bench/reports.py --scale {args.scale}` — `fupin-gis report villages-lacking` from the newest "
        "coverage run, interpreter start-up included; baseline: `psql` copying the same figures out of the snapshot "
        "(JSONB extracted in SQL) as CSV. Goal (issue 6): the villages report at province scale within 60 s.\n\n"
        "| scale | villages | format | rows (villages lacking) | fupin-gis report | peak memory | psql COPY | ratio |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(lines),
    )


if __name__ == "__main__":
    main()
