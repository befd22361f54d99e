"""The map page at county scale: HTML weight and time to the first complete view in Chromium.

Usage: ``.venv/bin/python bench/map_page.py [--reuse]`` (``--reuse`` keeps the county database of
``bench/tiles.py``). Serves the app on that database (accounts off) and opens ``/`` in the system
Chromium: once at once after the start (empty caches, the server warming them in the background),
then four times once it has built the low-zoom overviews and the first view's tiles; records the
page's size and the time from navigation to every visible tile layer loaded. Goals (issue 5):
the page ≤ 100 kB at any data size, the first view within 2 s at county scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx
import psycopg
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import demo_database, record  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from tiles import DB, serve_app  # noqa: E402

from fupin_gis.catalog import Catalog, load_catalog  # noqa: E402
from fupin_gis.mapping.build import home_view  # noqa: E402
from fupin_gis.settings import Settings  # noqa: E402
from fupin_gis.tiles.cache import home_tiles  # noqa: E402

READY = """() => { const m = Object.values(window).find(v => v instanceof L.Map); if (!m) return false;
  let ready = true, grids = 0; m.eachLayer(l => { if (l._vectorTiles) { grids++; if (l.isLoading()) ready = false; } });
  return ready && grids > 0; }"""


def wait_warm(url: str, catalog: Catalog, started: float) -> float:
    """Seconds from ``started`` until the server has built the low-zoom overviews and the first view's tiles."""
    settings = Settings()
    with psycopg.connect(url, autocommit=True) as conn:
        view = home_view(create_engine(url.replace("postgresql://", "postgresql+psycopg://")), catalog, settings.map)
        (s, w), (n, e) = view.bounds
        tiles = home_tiles((w, s, e, n), view.grid)
        expected = len(tiles) * len(view.first_tiles())
        overviews = 3 * sum(1 for spec in catalog.ordered() if spec.style.kind != "polygon")  # bands 8, 10, 11
        while (
            conn.execute("SELECT count(*) FROM tile_overview_built").fetchone()[0] < overviews
            or conn.execute("SELECT count(*) FROM tile_cache").fetchone()[0] < expected
        ):
            if time.perf_counter() - started > 300:
                raise RuntimeError("overviews and first-view tiles not built within 5 minutes")
            time.sleep(0.2)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    url = demo_database(DB, "county", reuse=args.reuse)  # --reuse builds it when there is none
    with psycopg.connect(url) as conn:
        segments = conn.execute("SELECT count(*) FROM roads").fetchone()[0]
        conn.execute("DELETE FROM tile_cache")
        conn.execute("DELETE FROM tile_overview")
        conn.execute("DELETE FROM tile_overview_built")
    catalog = load_catalog(Settings().catalog_dir)
    started = time.perf_counter()
    server, base = serve_app(url)
    try:
        times = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])

            def first_view() -> float:
                page = browser.new_page(viewport={"width": 1400, "height": 900})  # a new context: no browser cache
                start = time.perf_counter()
                page.goto(base + "/", wait_until="load")
                page.wait_for_function(READY, timeout=120_000, polling=50)
                page.close()
                return time.perf_counter() - start

            # at once after the start, while the server builds the overviews and the first view's tiles
            times.append(first_view())
            warming = wait_warm(url, catalog, started)
            start = time.perf_counter()
            size = len(httpx.get(base + "/", timeout=120).content)
            build = time.perf_counter() - start
            times += [first_view() for _ in range(4)]
            browser.close()
    finally:
        server.terminate()
        server.wait()
    line = (
        f"| county | {segments:,} | {size / 1024:.0f} kB | {warming:.0f} s | {build:.1f} s | {times[0]:.2f} s | "
        f"{statistics.median(times[1:]):.2f} s |"
    )
    print(line)
    record(
        "Map page, county scale",
        "`.venv/bin/python bench/map_page.py` — the app on the county demo (accounts off), the system Chromium, "
        "1400×900, a new browser context (no browser cache) per view: page size; how long after its start the server "
        "has built the low-zoom overviews and the first view's tiles in the background; the first build of the page "
        "(counts per layer); the time from navigation until every visible vector tile layer has loaded, once at "
        "once after the start (empty caches, the server busy warming them) and the median of four once warmed. "
        "Goals (issue 5): ≤ 100 kB at any data size, first view within 2 s at county scale.\n\n"
        "| scale | road segments | page | server warmed after | page build | first view at start (empty caches) "
        "| first view (warmed) |\n|---|---|---|---|---|---|---|\n" + line,
    )


if __name__ == "__main__":
    main()
