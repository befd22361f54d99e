"""Import of the county-scale road layer: ``fupin-gis import`` against ``ogr2ogr -f PostgreSQL``.

Usage: ``.venv/bin/python bench/import_roads.py [--scale county|province] [--repeat N]``.
Both tools load the same files (GeoPackage and zipped Shapefile) into the same database, in one
run; ogr2ogr with PG_USE_COPY=YES and a GiST index, like ours. The ratio is ours / ogr2ogr.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, bench_database, record, timed  # noqa: E402

from fupin_gis.catalog import load_catalog  # noqa: E402
from fupin_gis.demo import DemoCounty, generate, load_demo, write_layer  # noqa: E402
from fupin_gis.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="county")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    county = generate(args.scale, 1)
    files = {"gpkg": OUT / f"roads-{args.scale}.gpkg", "shp.zip": OUT / f"roads-{args.scale}.zip"}
    for f in files.values():
        if not f.exists():
            write_layer(county, "roads", f)
    url = bench_database()
    engine = create_engine(url)
    catalog = load_catalog(Settings().catalog_dir)
    only_counties = DemoCounty(
        county.scale, county.seed, county.epsg, county.world, {"counties": county.layers["counties"]}
    )
    load_demo(engine, catalog, only_counties)
    n = len(county.layers["roads"].geom)
    pg = url.replace("postgresql+psycopg://", "postgresql://")
    u = engine.url
    ogr_dsn = f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username} password={u.password}"
    rows = []
    for kind, path in files.items():
        ours, theirs = [], []
        for _ in range(args.repeat):
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "TRUNCATE roads, feature_history CASCADE; DELETE FROM batches WHERE layer = 'roads'; DROP TABLE IF EXISTS roads_ogr"
                    )
                )
            # A 2M-segment Shapefile inflates past the default 2 GiB unpack limit: raise it here.
            env = {"DATABASE_URL": pg, "FUPIN_INGEST__MAX_UNPACKED_MB": "16384"}
            ours.append(timed([sys.executable, "-m", "fupin_gis", "import", str(path), "--layer", "roads"], env))
            src = path if kind == "gpkg" else f"/vsizip/{path}/roads.shp"
            theirs.append(
                timed(
                    [
                        "ogr2ogr",
                        "-f",
                        "PostgreSQL",
                        ogr_dsn,
                        str(src),
                        "-nln",
                        "roads_ogr",
                        "-lco",
                        "GEOMETRY_NAME=geom",
                        "-lco",
                        "SPATIAL_INDEX=GIST",
                        "-nlt",
                        "PROMOTE_TO_MULTI",
                        "-t_srs",
                        "EPSG:4490",
                        "-overwrite",
                    ],
                    {"PG_USE_COPY": "YES"},
                )
            )
            with engine.connect() as conn:
                got = conn.execute(text("SELECT count(*) FROM roads")).scalar_one()
                ogr = conn.execute(text("SELECT count(*) FROM roads_ogr")).scalar_one()
            assert got == ogr == n, (got, ogr, n)
        t_ours = statistics.median(r.seconds for r in ours)
        t_ogr = statistics.median(r.seconds for r in theirs)
        rows.append((kind, n, t_ours, max(r.max_rss_mb for r in ours), t_ogr, max(r.max_rss_mb for r in theirs)))
    body = [
        f"`{' '.join(['.venv/bin/python', 'bench/import_roads.py', '--scale', args.scale])}` — {platform.machine()}, "
        f"median of {args.repeat}; ours validates every feature (types, enums, geometry, inside the county) and commits one batch.",
        "",
        "| file | features | fupin-gis import | peak MB | ogr2ogr | peak MB | ratio (ours/ogr2ogr) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, n_, t1, m1, t2, m2 in rows:
        body.append(f"| {kind} | {n_:,} | {t1:.1f} s | {m1:.0f} | {t2:.1f} s | {m2:.0f} | {t1 / t2:.2f} |")
    record(f"Import: roads, {args.scale} scale", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
