"""Rule 1 (village road access with gaps) against the plain PostGIS/pgRouting way, same data, one run.

Usage: ``.venv/bin/python bench/rule1_pgrouting.py [--scale county]``.

pgRouting way: road parts to a metric edge table, pgr_extractVertices, source/target from its
in/out edges, pgr_connectedComponents on the usable edges, seats to the nearest vertex (KNN,
500 m), and for villages in another component than their township seat, pgr_dijkstra from the
township vertex (usable edges nearly free, others their length) for the gap. It has no snap
tolerance, joins seats at vertices rather than the nearest point of a road, and does not split
crossings, so its answers differ from ours where the data has those faults; both counts are shown.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_database, record, timed  # noqa: E402

from fupin_gis.coverage.network import build_network  # noqa: E402
from fupin_gis.coverage.road_access import road_access  # noqa: E402
from fupin_gis.coverage.run import load_roads, load_seats, metric_srid  # noqa: E402
from fupin_gis.settings import CoverageSettings  # noqa: E402

PGROUTING = [
    "CREATE TEMP TABLE e AS SELECT row_number() OVER () AS id, ST_Transform((ST_Dump(geom)).geom, :srid) AS geom, "
    "surface = 'hardened' AND coalesce(width_m >= 3.5, true) AND status IN ('existing', 'completed') AS usable, "
    "NULL::bigint AS source, NULL::bigint AS target FROM roads",
    "CREATE TEMP TABLE v AS SELECT * FROM pgr_extractVertices('SELECT id, geom FROM e ORDER BY id')",
    "UPDATE e SET source = s.vid FROM (SELECT id AS vid, unnest(out_edges) AS eid FROM v) s WHERE e.id = s.eid",
    "UPDATE e SET target = s.vid FROM (SELECT id AS vid, unnest(in_edges) AS eid FROM v) s WHERE e.id = s.eid",
    "CREATE INDEX ON v USING gist (geom)",
    "CREATE TEMP TABLE comp AS SELECT node, component FROM pgr_connectedComponents("
    "'SELECT id, source, target, ST_Length(geom) AS cost, ST_Length(geom) AS reverse_cost FROM e WHERE usable')",
    "CREATE INDEX ON comp (node)",
    "CREATE TEMP TABLE seat AS SELECT s.kind, s.code, s.township, n.id AS vertex FROM ("
    "  SELECT 'village' AS kind, code, left(code, 9) AS township, ST_Transform(seat, :srid) AS g FROM villages"
    "  UNION ALL SELECT 'township', code, NULL, ST_Transform(seat, :srid) FROM townships) s "
    "LEFT JOIN LATERAL (SELECT id FROM v WHERE ST_DWithin(v.geom, s.g, 500) ORDER BY v.geom <-> s.g LIMIT 1) n ON true",
    "CREATE TEMP TABLE answer AS SELECT sv.code, sv.vertex AS vv, st.vertex AS tv, "
    "coalesce(cv.component = ct.component, sv.vertex = st.vertex) AS connected "
    "FROM seat sv JOIN seat st ON st.kind = 'township' AND st.code = sv.township "
    "LEFT JOIN comp cv ON cv.node = sv.vertex LEFT JOIN comp ct ON ct.node = st.vertex WHERE sv.kind = 'village'",
    "CREATE TEMP TABLE gaps AS SELECT d.start_vid, d.end_vid, d.agg_cost FROM pgr_dijkstra("
    "'SELECT id, source, target, CASE WHEN usable THEN 1e-7 * ST_Length(geom) ELSE ST_Length(geom) END AS cost, "
    "CASE WHEN usable THEN 1e-7 * ST_Length(geom) ELSE ST_Length(geom) END AS reverse_cost FROM e', "
    "'SELECT DISTINCT tv AS source, vv AS target FROM answer WHERE NOT connected AND vv IS NOT NULL AND tv IS NOT NULL') d "
    "WHERE d.end_vid = d.node",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="county")
    args = parser.parse_args()
    url = bench_database("fupin_bench_rule1")
    timed(
        [sys.executable, "-m", "fupin_gis", "demo", "--scale", args.scale, "--seed", "1"],
        {"DATABASE_URL": url.replace("+psycopg", "")},
    )
    engine = create_engine(url)
    settings = CoverageSettings()
    # as the tables stand once autovacuum has passed after the load (hint bits set, statistics
    # gathered): otherwise whichever way runs first pays for the fresh load
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    with engine.connect() as conn:
        srid = metric_srid(conn, settings)
        t0 = time.perf_counter()
        roads = load_roads(conn, srid, settings)
        villages, townships, _ = load_seats(conn, srid)
        ours = road_access(
            build_network(roads, settings.snap_tolerance_m), villages, townships, settings.access_distance_m
        )
        t_ours = time.perf_counter() - t0
    with engine.begin() as conn:
        t0 = time.perf_counter()
        for sql in PGROUTING:
            conn.execute(text(sql), {"srid": srid})
        theirs = conn.execute(text("SELECT count(*) FILTER (WHERE connected), count(*) FROM answer")).one()
        n_gaps = conn.execute(text("SELECT count(*) FROM gaps")).scalar_one()
        t_pgr = time.perf_counter() - t0
    connected = sum(a.connected for a in ours)
    with_gap = sum(1 for a in ours if a.gap_m)
    line = f"| {args.scale} | {len(ours):,} | {t_ours:.1f} s | {connected:,} / {with_gap:,} | {t_pgr:.1f} s | {theirs[0]:,} / {n_gaps:,} | {t_pgr / t_ours:.1f}× |"
    print(line)
    record(
        f"Rule 1 against pgRouting, {args.scale} scale",
        f"`.venv/bin/python bench/rule1_pgrouting.py --scale {args.scale}` — both from the database tables to the answer "
        "(connected villages and gaps). Ours: fetch, node with snapping/splitting, components, bounded Dijkstra. "
        "pgRouting: pgr_extractVertices, source/target, pgr_connectedComponents, KNN seats, pgr_dijkstra for gaps "
        "(no snapping or splitting, so it connects fewer villages on this data). Goal (issue 4): at least 3× faster.\n\n"
        "| scale | villages | fupin-gis | connected / with a gap | pgRouting | connected / with a gap | speed-up |\n"
        "|---|---|---|---|---|---|---|\n" + line,
    )


if __name__ == "__main__":
    main()
