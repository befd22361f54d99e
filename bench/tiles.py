"""Vector tiles at county scale: render times per zoom, and throughput against tipg and the database alone.

Usage: ``.venv/bin/python bench/tiles.py [--reuse]``. Loads the county demo into a scratch database
(``--reuse`` keeps it), then on the roads layer (about 200,000 segments):

1. per zoom (8, 10, 12, 14), the time and size of rendering each tile: ours (``fupin_gis.tiles``:
   simplified below z12, popup fields from z12) against a minimal ``ST_AsMVT`` query (every
   feature exact, the same fields), both straight in PostGIS;
2. tiles per second over HTTP for the z12 and z14 tiles, gzip accepted, 8 concurrent clients:
   our server cold (empty cache) and warm, tipg (if ``var/venv-tipg`` has it: ``python3 -m venv
   var/venv-tipg && var/venv-tipg/bin/pip install tipg uvicorn``), and the database-only ceiling
   (the minimal query from 2 connections, no HTTP).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH, demo_database, record  # noqa: E402

from fupin_gis.catalog import load_catalog  # noqa: E402
from fupin_gis.settings import Settings  # noqa: E402
from fupin_gis.tiles.mvt import ensure_overview, render  # noqa: E402

DB = "fupin_bench_tiles"
BASELINE = (
    "WITH q AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e, "
    "ST_Transform(ST_TileEnvelope(:z, :x, :y), 4490) AS g) "
    "SELECT ST_AsMVT(t.*, 'roads', 4096, 'geom', 'id') FROM (SELECT l.id, l.surface, l.code, l.name, l.road_class, "
    "l.width_m, l.status, ST_AsMVTGeom(ST_Transform(l.geom, 3857), q.e) AS geom FROM roads l, q WHERE l.geom && q.g) t"
)


PG_BASELINE = BASELINE.replace(":z", "%(z)s").replace(":x", "%(x)s").replace(":y", "%(y)s")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def tiles_for(conn: psycopg.Connection, z: int, limit: int) -> list[tuple[int, int, int]]:
    """Tiles at zoom ``z`` that hold roads: all of them, or ``limit`` picked at random road points."""
    xmin, ymin, xmax, ymax = conn.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM roads) s"
    ).fetchone()
    x0, y0 = tile_of(xmin, ymax, z)
    x1, y1 = tile_of(xmax, ymin, z)
    every = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    if len(every) <= limit:
        return every
    points = conn.execute(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.5) p FROM roads "
        "TABLESAMPLE SYSTEM (5) REPEATABLE (1)) s"
    ).fetchall()
    random.Random(1).shuffle(points)
    return list(dict.fromkeys((z, *tile_of(lon, lat, z)) for lon, lat in points))[:limit]


def render_times(url: str, tiles: list[tuple[int, int, int]], sql: str | None) -> tuple[list[float], list[int]]:
    """Each tile rendered in PostGIS: by ``sql``, or by fupin-gis (``None``: overview below z12, built beforehand)."""
    times, sizes = [], []
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    catalog = load_catalog(Settings().catalog_dir)
    with engine.connect() as conn:
        # a new connection's server process loads PostGIS and PROJ and fills its catalog caches on its
        # first tile (40–100 ms): one tile untimed first, as a running server's pooled connections have done
        for i, (z, x, y) in enumerate([tiles[0], *tiles]):
            start = time.perf_counter()
            if sql is None:
                data = render(conn, catalog, "roads", z, x, y)
            else:
                data = conn.execute(text(sql), {"z": z, "x": x, "y": y}).scalar_one()
            if i:
                times.append((time.perf_counter() - start) * 1000)
                sizes.append(len(data or b""))
    engine.dispose()
    return times, sizes


def overview_builds(url: str) -> str:
    """Seconds to build the roads overview of each band (done once after each change of the layer)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    roads = load_catalog(Settings().catalog_dir).layer("roads")
    out = []
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM tile_overview; DELETE FROM tile_overview_built"))
    for b in (8, 10, 11):
        with engine.begin() as conn:
            start = time.perf_counter()
            ensure_overview(conn, roads, b)
            out.append(f"band {b}: {time.perf_counter() - start:.1f} s")
    engine.dispose()
    return ", ".join(out)


def throughput(urls: list[str], workers: int = 8) -> float:
    with httpx.Client(headers={"Accept-Encoding": "gzip"}, timeout=120) as client:

        def get(u: str) -> int:
            r = client.get(u)
            assert r.status_code == 200, (u, r.status_code, r.text[:200])
            return len(r.content)

        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(get, urls))
    return len(urls) / (time.perf_counter() - start)


def database_ceiling(url: str, tiles: list[tuple[int, int, int]], connections: int = 2) -> float:
    chunks = [tiles[i::connections] for i in range(connections)]

    def work(part: list[tuple[int, int, int]]) -> None:
        with psycopg.connect(url) as conn:
            for z, x, y in part:
                conn.execute(PG_BASELINE, {"z": z, "x": x, "y": y}).fetchone()

    start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(tiles) / (time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(proc.stderr.read().decode()[-2000:] if proc.stderr else "server did not start")


def serve_app(url: str) -> tuple[subprocess.Popen, str]:
    """fupin-gis on ``url`` (accounts off, one worker, as ``fupin-gis serve``); the process and its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "fupin_gis.main:create_app", "--factory", "--port", str(port)]
    proc = serve([*cmd, "--log-level", "warning"], {"DATABASE_URL": url, "FUPIN_AUTH__REQUIRED": "false"}, port)
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    url = demo_database(DB, "county", reuse=args.reuse)  # --reuse builds it when there is none
    with psycopg.connect(url) as conn:
        segments = conn.execute("SELECT count(*) FROM roads").fetchone()[0]
        sets = {z: tiles_for(conn, z, n) for z, n in ((8, 50), (10, 50), (12, 100), (14, 300))}
        conn.execute("DELETE FROM tile_cache")
        conn.commit()
    builds = overview_builds(url)
    lines = []
    for z, tiles in sets.items():
        render_times(url, tiles[:5], None)  # warm the buffers, as a running server has them
        ours, size = render_times(url, tiles, None)
        minimal, minimal_size = render_times(url, tiles, BASELINE)
        lines.append(
            f"| {z} | {len(tiles)} | {statistics.median(ours):.1f} / {max(ours):.1f} ms | {max(size) / 1024:,.0f} kB | "
            f"{statistics.median(minimal):.1f} / {max(minimal):.1f} ms | {max(minimal_size) / 1024:,.0f} kB |"
        )
        print(lines[-1], flush=True)
    http_tiles = sets[12] + sets[14]
    ours_srv, base = serve_app(url)
    try:
        urls = [f"{base}/tiles/roads/{z}/{x}/{y}.mvt" for z, x, y in http_tiles]
        cold = throughput(urls)
        warm = throughput(urls * 3)
    finally:
        ours_srv.terminate()
        ours_srv.wait()
    ceiling = database_ceiling(url, http_tiles)
    tipg_rate = None
    tipg_python = BENCH.parent / "var" / "venv-tipg" / "bin" / "python"
    if tipg_python.exists():
        port = free_port()
        tipg = serve(
            [str(tipg_python), "-m", "uvicorn", "tipg.main:app", "--port", str(port), "--log-level", "warning"],
            {"DATABASE_URL": url, "TIPG_NAME": "bench"},
            port,
        )
        try:
            urls = [
                f"http://127.0.0.1:{port}/collections/public.roads/tiles/WebMercatorQuad/{z}/{x}/{y}"
                for z, x, y in http_tiles
            ]
            tipg_rate = throughput(urls)
        finally:
            tipg.terminate()
            tipg.wait()
    rates = (
        f"| {len(http_tiles)} (z12 + z14) | {cold:.0f} | {warm:.0f} | "
        + (f"{tipg_rate:.0f} | {warm / tipg_rate:.1f}× |" if tipg_rate else "not installed | |")
        + f" {ceiling:.0f} | {warm / ceiling:.2f}× |"
    )
    print(rates)
    record(
        "Vector tiles, county scale",
        f"`.venv/bin/python bench/tiles.py` — roads layer, {segments:,} segments; 2 cores shared by server, database and client. "
        "Render: each tile of the set straight in PostGIS, median / max and the largest tile (raw MVT); below z12 ours draws "
        f"from the layer's overview (built once after each change of the layer: {builds}), from z12 the exact features "
        "with popup fields; the baseline is a minimal `ST_AsMVT` of every feature, exact. Goals (issue 5): z12 ≤ 35 ms, "
        "z14 ≤ 5 ms, z8–z10 ≤ 100 ms and ≤ 500 kB.\n\n"
        "| zoom | tiles | ours | largest | minimal ST_AsMVT | largest |\n|---|---|---|---|---|---|\n"
        + "\n".join(lines)
        + "\n\nThroughput, tiles/s over HTTP with gzip, 8 concurrent clients (httpx threads), the z12 and z14 tiles above: "
        "ours cold (empty cache: render and store), ours warm (from `tile_cache`, three passes), tipg on the same table, and the "
        "database alone (the minimal query from 2 connections, no HTTP). Goals: ≥ 1.5× tipg, ≥ 0.7× the database ceiling.\n\n"
        "| tiles | ours cold | ours warm | tipg | warm / tipg | database only | warm / database |\n|---|---|---|---|---|---|---|\n"
        + rates,
    )


if __name__ == "__main__":
    main()
