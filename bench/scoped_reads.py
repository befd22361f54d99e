"""Scoped reads against unscoped ones on the county demo with 200,000 extra water points that carry
no village code (so row-level security tests their geometry against the scope's polygons).

Usage: ``.venv/bin/python bench/scoped_reads.py [--repeat N] [--reuse]``. The same requests, in one
run, as the admin (no filter), a county viewer and a township viewer: ``/api/layers`` (a count
under row-level security on every layer), a village report as JSON and a z14 tile; median seconds
and the ratio scoped / admin. Goal (issue 16): scoped within 1.5× of unscoped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_database, record  # noqa: E402

from fupin_gis.auth.accounts import add_user, new_token  # noqa: E402
from fupin_gis.catalog import load_catalog  # noqa: E402
from fupin_gis.demo import generate, load_demo  # noqa: E402
from fupin_gis.main import create_app  # noqa: E402
from fupin_gis.settings import Settings  # noqa: E402

EXTRA_POINTS = 200_000


def prepare(url: str, reuse: bool) -> None:
    """The county demo and the extra water points (kept between runs with --reuse)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM water_points WHERE code LIKE 'SCOPE-%'")).scalar_one()
    if reuse and have == EXTRA_POINTS:
        return
    catalog = load_catalog(Settings().catalog_dir)
    load_demo(engine, catalog, generate("county", 1))
    with engine.begin() as conn:
        conn.execute(
            text(
                "WITH h AS (SELECT geom, row_number() OVER (ORDER BY id) - 1 AS i FROM households), "
                "n AS (SELECT count(*) AS n FROM households) "
                "INSERT INTO water_points (code, kind, status, safe, working, geom) "
                "SELECT 'SCOPE-' || g, 'hand_pump_well', 'existing', true, true, "
                "ST_SetSRID(ST_MakePoint(ST_X(h.geom) + 0.0003 * ((g % 7) - 3), ST_Y(h.geom) + 0.0003 * ((g % 5) - 2)), ST_SRID(h.geom)) "
                "FROM generate_series(1, :n) g CROSS JOIN n JOIN h ON h.i = g % n.n"
            ),
            {"n": EXTRA_POINTS},
        )
        conn.execute(text("ANALYZE water_points"))
        conn.execute(text("DELETE FROM users WHERE username LIKE 'bench_%'"))
        county = conn.execute(text("SELECT code FROM counties ORDER BY code LIMIT 1")).scalar_one()
        town = conn.execute(text("SELECT code FROM townships ORDER BY code LIMIT 1")).scalar_one()
    add_user(engine, "bench_admin", "bench-password", "admin", "*")
    add_user(engine, "bench_county", "bench-password", "viewer", county)
    add_user(engine, "bench_town", "bench-password", "viewer", town)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    url = bench_database("fupin_bench_scope", keep=args.reuse)
    prepare(url, args.reuse)
    engine = create_engine(url)
    tokens = {who: new_token(engine, f"bench_{who}") for who in ("admin", "county", "town")}
    with engine.connect() as conn:
        x, y = conn.execute(text("SELECT ST_X(seat), ST_Y(seat) FROM villages ORDER BY code LIMIT 1")).one()
    import math

    z, n = 14, 1 << 14
    tx, ty = int((x + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(y))) / math.pi) / 2 * n)
    requests = {
        "/api/layers": "/api/layers",
        "report JSON": "/api/reports/villages-lacking",
        "tile z14": f"/tiles/water_points/{z}/{tx}/{ty}.mvt",
    }
    settings = Settings().model_copy(update={"database_url": url})
    settings = settings.model_copy(update={"map": settings.map.model_copy(update={"warm_overviews": False})})
    times: dict[tuple[str, str], list[float]] = {}
    with TestClient(create_app(settings)) as client:
        for _ in range(args.repeat):
            for label, path in requests.items():
                for who, token in tokens.items():
                    start = time.perf_counter()
                    answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
                    times.setdefault((label, who), []).append(time.perf_counter() - start)
                    assert answer.status_code in (200, 204, 404), (path, who, answer.status_code, answer.text[:200])
    rows = []
    for label in requests:
        admin = statistics.median(times[(label, "admin")])
        county = statistics.median(times[(label, "county")])
        town = statistics.median(times[(label, "town")])
        rows.append(
            f"| {label} | {admin:.3f} s | {county:.3f} s ({county / admin:.2f}×) | {town:.3f} s ({town / admin:.2f}×) |"
        )
    table = "| request | admin (no filter) | county viewer | township viewer |\n|---|---|---|---|\n" + "\n".join(rows)
    print(table)
    record(
        "Scoped reads, county scale",
        "`.venv/bin/python bench/scoped_reads.py` — the county demo plus 200,000 water points without a "
        f"village code (row-level security tests their geometry); median of {args.repeat}, same requests "
        "as the admin, a county and a township viewer, in one run. Goal (issue 16): scoped within 1.5×.\n\n" + table,
    )


if __name__ == "__main__":
    main()
