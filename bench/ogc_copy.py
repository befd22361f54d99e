"""Copying the county's roads over OGC API Features: fupin-gis ``/ogc`` against tipg on the same table.

Usage: ``.venv/bin/python bench/ogc_copy.py [--scale county]``. One bench database holds the demo's
counties, townships, villages and roads; both servers run in this process with uvicorn, each in a
thread, on the same database: ours with accounts on and a county engineer's token (Basic, the token
as password), so every page runs under row-level security; tipg (from PyPI, ``pip install -e
'.[bench]'``) as the table's owner. Each copy: Debian's ``ogr2ogr`` with ``-oo PAGE_SIZE=10000``
into a GeoPackage, and ``pyogrio.read_dataframe`` (the GDAL of its wheel, default page size) in a
child process. Ours is checked identical to PostGIS (every key once, attributes and coordinates);
the time of each of our pages at the server is measured by an ASGI wrapper (request to last byte).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
import uvicorn
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, bench_database, record  # noqa: E402

from fupin_gis.auth.accounts import add_user, new_token  # noqa: E402
from fupin_gis.catalog import load_catalog  # noqa: E402
from fupin_gis.demo import DemoCounty, generate, load_demo  # noqa: E402
from fupin_gis.main import create_app  # noqa: E402
from fupin_gis.settings import Settings  # noqa: E402

READ = """
import json, sys, time, pyogrio
url, layer, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
start = time.perf_counter()
frame = pyogrio.read_dataframe(url, layer=layer, **options)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(frame), "gdal": pyogrio.__gdal_version_string__}))
"""


class PageTimer:
    """ASGI wrapper: how long each items request takes at the server, from its start to its last byte."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pages: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/items"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.pages.append(time.perf_counter() - start)

        await self.app(scope, receive, timed)


def start(app: Any) -> tuple[uvicorn.Server, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def ogr2ogr(url: str, layer: str, target: Path, *options: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{url}", layer, "-overwrite", *options],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return time.perf_counter() - started


def pyogrio_copy(url: str, layer: str, **options: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", READ, f"OAPIF:{url}", layer, json.dumps(options)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def identical(engine: Any, target: Path, fields: list[str]) -> int:
    """Check a copy against PostGIS (every key once, attributes, coordinates to 9 decimals); its size."""
    copy = pyogrio.read_dataframe(target).set_index("code").sort_index()
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT code, {', '.join(fields)}, ST_AsGeoJSON(geom, 9, 0) AS g FROM roads ORDER BY code")
        ).all()
    assert copy.index.is_unique and list(copy.index) == [r.code for r in rows], "keys differ"
    for i, name in enumerate(fields, start=1):
        ours = copy[name].to_numpy(dtype=object)
        theirs = np.array([r[i] for r in rows], dtype=object)
        same = [(a is None or a != a) and b is None or a == b for a, b in zip(ours, theirs, strict=True)]
        assert all(same), f"{name} differs"
    truth = shapely.from_geojson([r.g for r in rows])
    for a, b in zip(copy.geometry.to_numpy(), truth, strict=True):
        assert np.array_equal(shapely.get_coordinates(a), shapely.get_coordinates(b)), "coordinates differ"
    return len(rows)


def _pages(times: list[float]) -> str:
    """Sum, median and slowest of the page times, but the first request (the client's sample)."""
    pages = times[1:]
    return f"{sum(pages):.1f} s ({statistics.median(pages):.2f} s, {max(pages):.2f} s; {len(pages)} pages)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="county")
    parser.add_argument("--reuse", action="store_true", help="keep the bench database of an earlier run")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    settings = Settings()
    catalog = load_catalog(settings.catalog_dir)
    name = "fupin_bench_ogc" if args.scale == "county" else f"fupin_bench_ogc_{args.scale}"
    url = bench_database(name, keep=args.reuse)
    engine = create_engine(url)
    with engine.connect() as conn:
        loaded = conn.execute(text("SELECT count(*) FROM roads")).scalar_one()
    if not loaded:
        county = generate(args.scale, 1)
        wanted = ("counties", "townships", "villages", "roads")
        layers = {k: county.layers[k] for k in wanted}
        load_demo(engine, catalog, DemoCounty(county.scale, county.seed, county.epsg, county.world, layers))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username = 'bench_county'"))
        code = conn.execute(text("SELECT code FROM counties ORDER BY code LIMIT 1")).scalar_one()
        n = conn.execute(text("SELECT count(*) FROM roads")).scalar_one()
        conn.execute(text("ANALYZE"))
    add_user(engine, "bench_county", "bench-password", "engineer", code)
    token = new_token(engine, "bench_county")
    ours_settings = settings.model_copy(
        update={
            "database_url": url,
            "map": settings.map.model_copy(update={"warm_overviews": False}),
            "ogc": settings.ogc.model_copy(update={"cursor_secret": "bench"}),
        }
    )
    timer = PageTimer(create_app(ours_settings))
    ours, ours_url = start(timer)
    os.environ.update(
        {"DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"), "TIPG_DB_TABLES": '["public.roads"]'}
    )
    try:
        from tipg.main import app as tipg_app  # reads DATABASE_URL when imported

        tipg_version = __import__("tipg").__version__
    except ImportError as exc:  # the report says why
        raise SystemExit(f"tipg cannot be imported ({exc}): pip install -e '.[bench]'") from exc
    tipg_timer = PageTimer(tipg_app)
    tipg, tipg_url = start(tipg_timer)
    load_before = os.getloadavg()[0]
    userpwd = f"bench_county:{token}"
    fields = [f.name for f in catalog.layer("roads").fields if f.name != "code"]
    results: dict[str, float] = {}
    results["ours ogr2ogr"] = ogr2ogr(f"{ours_url}/ogc", "roads", OUT / "ogc-ours.gpkg", "-oo", "PAGE_SIZE=10000",
                                      "-oo", f"USERPWD={userpwd}")  # fmt: skip
    big_pages = list(timer.pages)
    assert identical(engine, OUT / "ogc-ours.gpkg", fields) == n
    results["tipg ogr2ogr"] = ogr2ogr(tipg_url, "public.roads", OUT / "ogc-tipg.gpkg", "-oo", "PAGE_SIZE=10000")
    tipg_big = list(tipg_timer.pages)
    assert pyogrio.read_info(OUT / "ogc-tipg.gpkg")["features"] == n
    timer.pages.clear()
    tipg_timer.pages.clear()
    mine = pyogrio_copy(f"{ours_url}/ogc", "roads", USERPWD=userpwd)
    small_pages = list(timer.pages)
    theirs = pyogrio_copy(tipg_url, "public.roads")
    tipg_small = list(tipg_timer.pages)
    assert mine["rows"] == theirs["rows"] == n
    results["ours pyogrio"], results["tipg pyogrio"] = mine["seconds"], theirs["seconds"]
    ours.should_exit = tipg.should_exit = True
    gdal = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True, check=True).stdout.split(",")[0]
    body = [
        f"`.venv/bin/python bench/ogc_copy.py --scale {args.scale}` — {platform.machine()}, {os.cpu_count()} cores, "
        f"one run; {n:,} road segments; both servers in one process on one database; ours as a county engineer "
        f"(row-level security on every page), tipg {tipg_version} as the table's owner.",
        "",
        "| client | page size | fupin-gis /ogc | tipg | tipg / ours | our pages at the server: sum (median, slowest) "
        "| tipg's pages at the server: sum (median, slowest) |",
        "|---|---|---|---|---|---|---|",
        f"| ogr2ogr ({gdal}) → GPKG | 10,000 | {results['ours ogr2ogr']:.1f} s | {results['tipg ogr2ogr']:.1f} s "
        f"| {results['tipg ogr2ogr'] / results['ours ogr2ogr']:.1f}× | {_pages(big_pages)} | {_pages(tipg_big)} |",
        f"| pyogrio read_dataframe (GDAL {mine['gdal']}) | default (1,000) | {mine['seconds']:.1f} s "
        f"| {theirs['seconds']:.1f} s | {theirs['seconds'] / mine['seconds']:.1f}× | {_pages(small_pages)} "
        f"| {_pages(tipg_small)} |",
        "",
        "Our copy is checked identical to PostGIS (every key once, every attribute, every coordinate to 9 decimals). "
        "The first items request of each client (GDAL's sample for the layer's fields: a whole page for GDAL 3.6, "
        "20 features for pyogrio's) is left out of the page times; the sums say how much of a copy is the server's, the rest is the client's. "
        f"Load average before and after the run: {load_before:.1f}, {os.getloadavg()[0]:.1f} "
        "(the machine is shared).",
    ]
    record(f"OGC API Features: copying the roads, {args.scale} scale", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
