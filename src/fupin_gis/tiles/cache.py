"""The tile cache: a table of gzipped tiles, invalidated in the transaction that changes the data.

An import or rollback deletes the cached tiles its features touch (old and new geometry), in the
same transaction, so a tile is never served stale; a new coverage run has tiles of its own.
"""

from __future__ import annotations

import gzip
import hashlib

from sqlalchemy import Connection, Engine, text

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.db.sql import ident
from fupin_gis.tiles.mvt import DETAIL_ZOOM, GRIDS, band, ensure_overview, render, tile_ranges


def _key(layer: str, run: int | None, scope_key: str, grid: str) -> str:
    """The cache key of a layer's tile: the coverage's names its run (a catalog layer's does not depend
    on it), then the scope and the grid."""
    return (
        (f"{layer}:{run}" if layer == "coverage" else layer)
        + (f"@{scope_key}" if scope_key else "")
        + ("#c" if grid == "c" else "")
    )


def get_tiles(
    engine: Engine,
    catalog: Catalog,
    layers: list[str],
    z: int,
    x: int,
    y: int,
    run: int | None = None,
    scope_key: str = "",
    overview: bool = True,
    grid: str = "w",
) -> list[tuple[bytes, str]]:
    """Each layer's gzipped tile and ETag: the cached ones read at once, the others rendered and stored
    (``run``: of the coverage layer, if asked for).

    ``engine`` carries the asker's scope (row-level security); cached tiles are kept per
    ``scope_key``; only askers who see everything may draw from the shared overviews.
    """
    keys = [_key(layer, run, scope_key, grid) for layer in layers]
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT layer, data, etag FROM tile_cache WHERE layer = ANY(:l) AND z = :z AND x = :x AND y = :y"),
            {"l": keys, "z": z, "x": x, "y": y},
        ).all()
        found = {r.layer: (bytes(r.data), r.etag) for r in rows}
        made = False
        for layer, key in zip(layers, keys, strict=True):
            if key in found:
                continue
            raw = render(conn, catalog, layer, z, x, y, run, overview, grid)
            data = gzip.compress(raw, compresslevel=5, mtime=0)
            found[key] = (data, '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"')
            conn.execute(
                text(
                    "INSERT INTO tile_cache (layer, z, x, y, data, etag) VALUES (:l, :z, :x, :y, :d, :e) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"l": key, "z": z, "x": x, "y": y, "d": data, "e": found[key][1]},
            )
            made = True
        if made:
            conn.commit()
    return [found[key] for key in keys]


def combine(parts: list[tuple[bytes, str]]) -> tuple[bytes, str]:
    """Several layers' tiles as one gzipped MVT (their layers concatenated) and an ETag of the parts."""
    raw = b"".join(gzip.decompress(data) for data, _ in parts)
    etag = '"' + hashlib.blake2b("".join(e for _, e in parts).encode(), digest_size=12).hexdigest() + '"'
    return gzip.compress(raw, compresslevel=5, mtime=0), etag


def _drop_overviews(conn: Connection, layers: list[str]) -> None:
    conn.execute(text("DELETE FROM tile_overview WHERE layer = ANY(:l)"), {"l": layers})
    conn.execute(text("DELETE FROM tile_overview_built WHERE layer = ANY(:l)"), {"l": layers})


def _cached(conn: Connection, layers: list[str]) -> bool:
    """Whether any tile of ``layers`` (or of the coverage, which draws the villages) is cached."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM tile_cache c WHERE split_part(split_part(c.layer, '#', 1), '@', 1) = ANY(:l) "
                "OR (:cov AND c.layer LIKE 'coverage:%'))"
            ),
            {"l": layers, "cov": "villages" in layers},
        ).scalar_one()
    )


def invalidate(conn: Connection, layers: list[str], bbox: tuple[float, float, float, float] | None) -> int:
    """Inside the changing transaction: drop the cached tiles of ``layers`` that ``bbox`` touches."""
    if bbox is None or not layers:
        return 0
    coverage = "villages" in layers
    _drop_overviews(conn, layers)
    dropped = 0
    for grid in GRIDS:  # each grid's keys with its own tile ranges ("#c" marks the CGCS2000 grid)
        values = ", ".join(f"({z}, {x0}, {x1}, {y0}, {y1})" for z, x0, x1, y0, y1 in tile_ranges(bbox, grid=grid))
        dropped += conn.execute(
            text(
                f"DELETE FROM tile_cache c USING (VALUES {values}) r(z, x0, x1, y0, y1) "
                "WHERE (split_part(split_part(c.layer, '#', 1), '@', 1) = ANY(:l) OR (:cov AND c.layer LIKE 'coverage:%')) "
                "AND (c.layer LIKE '%#c') = :c "
                "AND c.z = r.z AND c.x BETWEEN r.x0 AND r.x1 AND c.y BETWEEN r.y0 AND r.y1"
            ),
            {"l": layers, "cov": coverage, "c": grid == "c"},
        ).rowcount
    return dropped


def batch_extent(conn: Connection, spec: LayerSpec, batch: int) -> tuple[float, float, float, float] | None:
    """The lon/lat box of what ``batch`` wrote to ``spec`` and of what it replaced (geometry and seat)."""
    columns = ["geom", spec.seat.name] if spec.seat else ["geom"]
    table = ident(spec.name)
    parts = [f"SELECT ST_Extent({ident(c)})::geometry AS g FROM {table} WHERE batch_id = :b" for c in columns]
    parts += [
        f"SELECT ST_Extent((jsonb_populate_record(NULL::{table}, old)).{ident(c)})::geometry "
        "FROM feature_history WHERE batch_id = :b"
        for c in columns
    ]
    row = conn.execute(
        text(
            "SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1 "
            f"FROM (SELECT ST_Extent(g) AS e FROM ({' UNION ALL '.join(parts)}) p) s"
        ),
        {"b": batch},
    ).one()
    return None if row.x0 is None else (float(row.x0), float(row.y0), float(row.x1), float(row.y1))


def invalidate_batch(conn: Connection, spec: LayerSpec, batch: int) -> int:
    """Drop the cached tiles a batch touches (call after an import writes, before a rollback deletes)."""
    if not _cached(conn, [spec.name]):  # nothing to find: skip the batch's extent (a second at 2M rows)
        _drop_overviews(conn, [spec.name])
        return 0
    return invalidate(conn, [spec.name], batch_extent(conn, spec, batch))


def clear(conn: Connection) -> None:
    """Drop every cached tile and overview (bulk loads such as the demo)."""
    conn.execute(text("DELETE FROM tile_cache"))
    conn.execute(text("DELETE FROM tile_overview"))
    conn.execute(text("DELETE FROM tile_overview_built"))


def warm_overviews(engine: Engine, catalog: Catalog) -> None:
    """Build the overviews of every line and point layer, so the first low-zoom view after a start
    or an import does not wait for them (run in the background; a tile request for an overview
    being built waits for it instead of building it twice)."""
    for spec in catalog.ordered():
        bands = {b for b in (band(spec, z) for z in range(DETAIL_ZOOM)) if b is not None}
        for b in sorted(bands):
            with engine.begin() as conn:
                ensure_overview(conn, spec, b)


HOME_TILES = 16  # the first view's zooms: up to the first whose tiles over the data's box number more


def home_tiles(bbox: tuple[float, float, float, float], grid: str = "w") -> list[tuple[int, int, int]]:
    """The tiles (z, x, y) a first view of the whole lon/lat box may ask for, whatever the screen: the
    likeliest first (a zoom whose tiles over the box are about 2 × 2, a screen of 512-pixel tiles)."""
    zooms = []
    for z, x0, x1, y0, y1 in tile_ranges(bbox, DETAIL_ZOOM - 1, grid, grow=0):
        if (x1 - x0 + 1) * (y1 - y0 + 1) > HOME_TILES:
            break
        zooms.append([(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)])
    zooms.sort(key=lambda tiles: (abs(len(tiles) - 4), -tiles[0][0]))
    return [t for tiles in zooms for t in tiles]


def warm_home_view(
    engine: Engine,
    catalog: Catalog,
    layers: list[str],
    run: int | None,
    bbox: tuple[float, float, float, float],
    grid: str = "w",
    scope_key: str = "",
    overview: bool = True,
) -> None:
    """Render into the cache the tiles of ``layers`` (``coverage`` of ``run`` included) a first view
    of ``bbox`` asks for, so that view is served at once after a start or an import (``engine`` and
    ``scope_key`` as in ``get_tiles``: an account's scope gets tiles of its own)."""
    for z, x, y in home_tiles(bbox, grid):
        get_tiles(engine, catalog, layers, z, x, y, run, scope_key, overview, grid)
