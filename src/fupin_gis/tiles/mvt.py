"""Render Mapbox vector tiles with ST_AsMVT, from the catalog: style value and popup fields as properties.

Low zooms (below ``DETAIL_ZOOM``) carry only the style value: line and point layers are drawn from
an overview (lines merged per style value and cell, simplified to half a pixel, points one per
two pixels), built on first use and dropped by any import into the layer; polygons are simplified to a
pixel and dropped under a pixel. So a whole-county tile stays small; from ``DETAIL_ZOOM`` on,
features are exact and carry the popup fields.
"""

from __future__ import annotations

import math

from sqlalchemy import Connection, text

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.coverage.classes import MAP_RULES, STEEP_LEFT
from fupin_gis.db.sql import column, ident, literal
from fupin_gis.errors import InvalidInput

EXTENT = 4096
BUFFER = 64
DETAIL_ZOOM = 12
MAX_ZOOM = 22


def check_tile(z: int, x: int, y: int, grid: str = "w") -> None:
    """A tile address inside the grid's pyramid (Web Mercator, or 天地图 CGCS2000), or InvalidInput naming the bad part."""
    if grid not in GRIDS:
        raise InvalidInput(
            f"瓦片网格 “{grid}” 无效：w 或 c", f"Invalid tile grid '{grid}': w or c", field="grid", value=grid
        )
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"缩放级别 {z} 超出 0–{MAX_ZOOM}", f"zoom {z} is outside 0–{MAX_ZOOM}", field="z", value=z)
    n = 1 << z
    for name, v, top in (("x", x, n * 2 if grid == "c" else n), ("y", y, n)):
        if not 0 <= v < top:
            raise InvalidInput(
                f"瓦片{name} = {v} 超出缩放级别 {z} 的范围 0–{top - 1}",
                f"tile {name} = {v} is outside 0–{top - 1} at zoom {z}",
                field=name,
                value=v,
            )


def pixel_degrees(z: int) -> float:
    """About one screen pixel (256-pixel tiles) in degrees at zoom ``z``."""
    return 360.0 / (1 << z) / 256.0


GRIDS = ("w", "c")
# 天地图's CGCS2000 grid ("_c", Leaflet's EPSG:4326): a zoom-z tile spans 180/2^z degrees, the
# width of a Web Mercator tile one zoom deeper; its tiles divide this square of degrees. The grid is
# CGCS2000 by definition (EPSG:4490), whatever the storage CRS (the catalog's, bound as :srid).
CGCS2000 = 4490
CGCS_SQUARE = f"ST_MakeEnvelope(-180, -270, 180, 90, {CGCS2000})"


def grid_zoom(z: int, grid: str) -> int:
    """The Web Mercator zoom whose pixel matches a zoom-``z`` tile of ``grid`` (for simplification)."""
    return z + 1 if grid == "c" else z


def _frame(grid: str) -> str:
    """``WITH q``: ``e`` the tile in the tile's CRS, ``g`` the tile grown by the buffer in the storage
    CRS (``:srid``, the catalog's)."""
    margin = BUFFER / EXTENT
    if grid == "c":
        return (
            f"WITH q AS (SELECT ST_TileEnvelope(:z + 1, :x, :y, {CGCS_SQUARE}) AS e, "
            f"ST_Transform(ST_TileEnvelope(:z + 1, :x, :y, {CGCS_SQUARE}, margin => {margin}), :srid) AS g) "
        )
    return (
        "WITH q AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e, "
        f"ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {margin}), :srid) AS g) "
    )


def _to_tile(expr: str, grid: str) -> str:
    """Geometry in the tile's CRS: Web Mercator, or CGCS2000 degrees (a no-op when stored so)."""
    return f"ST_Transform({expr}, {CGCS2000 if grid == 'c' else 3857})"


def _style_expr(spec: LayerSpec) -> str:
    by = spec.style.by
    if by is None:
        return "NULL::text"
    if spec.field(by).type == "boolean":
        return f"lower({column('l', by)}::text)"
    return f"{column('l', by)}::text"


def layer_query(spec: LayerSpec, z: int, grid: str = "w") -> str:
    """The SQL that renders one tile of ``spec`` (``z``: the Web Mercator zoom of its detail; parameters :z :x :y :tol)."""
    kind = spec.style.kind
    detail = z >= DETAIL_ZOOM
    props = [f"{_style_expr(spec)} AS _s"]
    if detail:
        props += [column("l", name) for name in spec.style.popup if name != spec.style.by]
        if spec.style.by and spec.style.by in spec.style.popup:
            props.append(column("l", spec.style.by))
    geom = "l.geom"
    where = "l.geom && q.g"
    distinct = ""
    if not detail:
        if kind == "point":
            distinct = "DISTINCT ON (ST_SnapToGrid(l.geom, :tol))"
        else:
            geom = "ST_Simplify(l.geom, :tol / 2, true)"
            if kind == "polygon":  # a polygon under a pixel is invisible; a short road is part of a line
                where += " AND (ST_XMax(l.geom) - ST_XMin(l.geom)) + (ST_YMax(l.geom) - ST_YMin(l.geom)) >= :tol"
    return (
        _frame(grid) + f"SELECT ST_AsMVT(t.*, {literal(spec.name)}, {EXTENT}, 'geom', 'id') FROM ("
        f"SELECT {distinct} l.id, {', '.join(props)}, "
        f"ST_AsMVTGeom({_to_tile(geom, grid)}, q.e, {EXTENT}, {BUFFER}, true) AS geom "
        f"FROM {ident(spec.name)} l, q WHERE {where}) t WHERE t.geom IS NOT NULL"
    )


def coverage_query(z: int, grid: str = "w") -> str:
    """Villages of run :run with their class by each map rule (``MAP_RULES``) and the figures behind
    them (``z``: the Web Mercator zoom of the tile's detail)."""
    geom = "ST_Simplify(l.geom, :tol / 2, true)" if z < DETAIL_ZOOM else "l.geom"
    return (
        _frame(grid) + f"SELECT ST_AsMVT(t.*, 'coverage', {EXTENT}, 'geom', 'id') FROM ("
        "SELECT l.id, l.code, l.name, "
        + "".join(f"{rule.sql} AS {ident(rule.field)}, " for rule in MAP_RULES.values())
        + "round((c.result->'road_access'->>'gap_m')::numeric)::int AS gap_m, "
        "(c.result->'water'->>'households_covered')::int AS hh_water, (c.result->'water'->>'households')::int AS hh, "
        "(c.result->'rai'->>'population_within_2km')::int AS pop_2km, (c.result->'rai'->>'population')::int AS pop, "
        f"CASE WHEN c.result->'farmland' IS NOT NULL THEN round({STEEP_LEFT}, 1)::float END AS steep_left, "
        f"ST_AsMVTGeom({_to_tile(geom, grid)}, q.e, {EXTENT}, {BUFFER}, true) AS geom "
        "FROM villages l JOIN coverage_villages c ON c.code = l.code AND c.run_id = :run, q WHERE l.geom && q.g"
        ") t WHERE t.geom IS NOT NULL"
    )


def band(spec: LayerSpec, z: int) -> int | None:
    """The overview band a low-zoom tile of a line or point layer is drawn from (None: from the layer)."""
    if z >= DETAIL_ZOOM or spec.style.kind == "polygon":
        return None
    return 8 if z <= 8 else (10 if z <= 10 else 11)


def overview_build(spec: LayerSpec, b: int) -> str:
    """SQL that fills ``tile_overview`` for ``spec`` at band ``b``: lines merged per style value and
    cell (a tile of zoom ``b``), simplified to half a pixel, pieces under a pixel dropped, and
    collected into one multiline per value and cell; points
    reduced to one per two pixels and value."""
    px = pixel_degrees(b)
    style = _style_expr(spec)
    name, table = literal(spec.name), ident(spec.name)
    if spec.style.kind == "point":
        return (
            f"INSERT INTO tile_overview (layer, band, s, geom) SELECT DISTINCT {name}, {b}, s, g FROM ("
            f"SELECT {style} AS s, ST_SnapToGrid((ST_Dump(l.geom)).geom, {2 * px}) AS g FROM {table} l) x"
        )
    # One multiline per value and cell: the browser draws a few hundred features for a county, not
    # the tens of thousands of pieces a road network stays after merging lines at its junctions.
    return (
        f"INSERT INTO tile_overview (layer, band, s, geom) SELECT {name}, {b}, s, ST_Multi(ST_Collect(g)) FROM ("
        f"SELECT s, c, (ST_Dump(ST_Simplify(ST_LineMerge(ST_Collect(geom)), {px / 2}))).geom AS g FROM ("
        f"SELECT {style} AS s, d.geom, ST_SnapToGrid(ST_StartPoint(d.geom), {px * 256}) AS c "
        f"FROM {table} l, LATERAL ST_Dump(l.geom) d) parts GROUP BY s, c) merged "
        f"WHERE NOT ST_IsEmpty(g) AND ST_Length(g) >= {px} GROUP BY s, c"
    )


def overview_query(spec: LayerSpec, b: int, grid: str = "w") -> str:
    """The SQL that renders a low-zoom tile of ``spec`` from its overview at band ``b`` (features without
    an id: they stand for many of the layer's)."""
    return (
        _frame(grid) + f"SELECT ST_AsMVT(t.*, {literal(spec.name)}, {EXTENT}, 'geom') FROM ("
        f"SELECT o.s AS _s, ST_AsMVTGeom({_to_tile('o.geom', grid)}, q.e, {EXTENT}, {BUFFER}, true) AS geom "
        f"FROM tile_overview o, q WHERE o.layer = {literal(spec.name)} AND o.band = {b} AND o.geom && q.g) t "
        "WHERE t.geom IS NOT NULL"
    )


def ensure_overview(conn: Connection, spec: LayerSpec, b: int) -> None:
    """Build the overview of ``spec`` at band ``b`` unless it is there (one builder at a time)."""
    done = "SELECT 1 FROM tile_overview_built WHERE layer = :l AND band = :b"
    if conn.execute(text(done), {"l": spec.name, "b": b}).first():
        return
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('tile_overview:' || :l || ':' || :b))"), {"l": spec.name, "b": b}
    )
    if conn.execute(text(done), {"l": spec.name, "b": b}).first():
        return
    conn.execute(text(overview_build(spec, b)))
    conn.execute(text("INSERT INTO tile_overview_built (layer, band) VALUES (:l, :b)"), {"l": spec.name, "b": b})


def render(
    conn: Connection,
    catalog: Catalog,
    layer: str,
    z: int,
    x: int,
    y: int,
    run: int | None = None,
    overview: bool = True,
    grid: str = "w",
) -> bytes:
    """One tile of ``layer`` (a catalog layer, or ``coverage`` of run ``run``) in ``grid``, uncompressed MVT bytes."""
    ze = grid_zoom(z, grid)
    params = {"z": z, "x": x, "y": y, "tol": pixel_degrees(ze), "run": run, "srid": catalog.srid}
    if layer == "coverage":
        sql = coverage_query(ze, grid)
    else:
        spec = catalog.layer(layer)
        b = band(spec, ze) if overview else None
        if b is None:
            sql = layer_query(spec, ze, grid)
        else:
            ensure_overview(conn, spec, b)
            sql = overview_query(spec, b, grid)
    data = conn.execute(text(sql), params).scalar_one()
    return bytes(data) if data else b""


def tile_ranges(
    bbox: tuple[float, float, float, float], max_zoom: int = MAX_ZOOM, grid: str = "w", grow: int = 1
) -> list[tuple[int, int, int, int, int]]:
    """Per zoom, the tiles (z, x0, x1, y0, y1) of ``grid`` a lon/lat box touches, grown by ``grow``
    tiles (one by default: a tile's buffer reaches into its neighbours)."""

    def tx(lon: float, z: int) -> int:
        if grid == "c":
            return int((lon + 180.0) / (180.0 / (1 << z)))
        return int((lon + 180.0) / 360.0 * (1 << z))

    def ty(lat: float, z: int) -> int:
        if grid == "c":
            return int((90.0 - lat) / (180.0 / (1 << z)))
        lat = max(min(lat, 85.0511), -85.0511)
        return int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * (1 << z))

    xmin, ymin, xmax, ymax = bbox
    out = []
    for z in range(max_zoom + 1):
        n = 1 << z
        width = 2 * n if grid == "c" else n
        out.append(
            (
                z,
                max(tx(xmin, z) - grow, 0),
                min(tx(xmax, z) + grow, width - 1),
                max(ty(ymax, z) - grow, 0),
                min(ty(ymin, z) + grow, n - 1),
            )
        )
    return out
