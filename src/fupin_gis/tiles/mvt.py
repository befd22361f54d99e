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
from fupin_gis.errors import InvalidInput

EXTENT = 4096
BUFFER = 64
DETAIL_ZOOM = 12
MAX_ZOOM = 22


def check_tile(z: int, x: int, y: int) -> None:
    """A tile address inside the Web Mercator pyramid, or InvalidInput naming the bad part."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"缩放级别 {z} 超出 0–{MAX_ZOOM}", f"zoom {z} is outside 0–{MAX_ZOOM}", field="z", value=z)
    n = 1 << z
    for name, v in (("x", x), ("y", y)):
        if not 0 <= v < n:
            raise InvalidInput(
                f"瓦片{name} = {v} 超出缩放级别 {z} 的范围 0–{n - 1}",
                f"tile {name} = {v} is outside 0–{n - 1} at zoom {z}",
                field=name,
                value=v,
            )


def pixel_degrees(z: int) -> float:
    """About one screen pixel (256-pixel tiles) in degrees at zoom ``z``."""
    return 360.0 / (1 << z) / 256.0


def _style_expr(spec: LayerSpec) -> str:
    by = spec.style.by
    if by is None:
        return "NULL::text"
    if spec.field(by).type == "boolean":
        return f"lower(l.{by}::text)"
    return f"l.{by}::text"


def layer_query(spec: LayerSpec, z: int) -> str:
    """The SQL that renders one tile of ``spec`` at zoom ``z`` (parameters :z :x :y :tol)."""
    kind = spec.style.kind
    detail = z >= DETAIL_ZOOM
    props = [f"{_style_expr(spec)} AS _s"]
    if detail:
        props += [f"l.{name}" for name in spec.style.popup if name != spec.style.by]
        if spec.style.by and spec.style.by in spec.style.popup:
            props.append(f"l.{spec.style.by}")
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
        "WITH q AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e, "
        f"ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {BUFFER / EXTENT}), {4490}) AS g) "
        f"SELECT ST_AsMVT(t.*, '{spec.name}', {EXTENT}, 'geom', 'id') FROM ("
        f"SELECT {distinct} l.id, {', '.join(props)}, "
        f"ST_AsMVTGeom(ST_Transform({geom}, 3857), q.e, {EXTENT}, {BUFFER}, true) AS geom "
        f"FROM {spec.name} l, q WHERE {where}) t WHERE t.geom IS NOT NULL"
    )


COVERAGE_QUERY = (
    "WITH q AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e, "
    f"ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {BUFFER / EXTENT}), 4490) AS g) "
    f"SELECT ST_AsMVT(t.*, 'coverage', {EXTENT}, 'geom', 'id') FROM ("
    "SELECT l.id, l.code, l.name, "
    "CASE WHEN (c.result->'road_access'->>'connected')::boolean THEN 'connected' "
    "WHEN c.result->'road_access'->>'gap_m' IS NOT NULL THEN 'gap' ELSE 'no_road' END AS _s, "
    "round((c.result->'road_access'->>'gap_m')::numeric)::int AS gap_m, "
    "(c.result->'water'->>'households_covered')::int AS hh_water, (c.result->'water'->>'households')::int AS hh, "
    f"ST_AsMVTGeom(ST_Transform(CASE WHEN :z < {DETAIL_ZOOM} THEN ST_Simplify(l.geom, :tol / 2, true) ELSE l.geom END, 3857), "
    f"q.e, {EXTENT}, {BUFFER}, true) AS geom "
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
    cell (a tile of zoom ``b``) and simplified to half a pixel; points reduced to one per pixel and value."""
    px = pixel_degrees(b)
    style = _style_expr(spec)
    if spec.style.kind == "point":
        return (
            f"INSERT INTO tile_overview (layer, band, s, geom) SELECT DISTINCT '{spec.name}', {b}, s, g FROM ("
            f"SELECT {style} AS s, ST_SnapToGrid((ST_Dump(l.geom)).geom, {2 * px}) AS g FROM {spec.name} l) x"
        )
    return (
        f"INSERT INTO tile_overview (layer, band, s, geom) SELECT '{spec.name}', {b}, s, g FROM ("
        f"SELECT s, (ST_Dump(ST_Simplify(ST_LineMerge(ST_Collect(geom)), {px / 2}))).geom AS g FROM ("
        f"SELECT {style} AS s, d.geom, ST_SnapToGrid(ST_StartPoint(d.geom), {px * 256}) AS c "
        f"FROM {spec.name} l, LATERAL ST_Dump(l.geom) d) parts GROUP BY s, c) merged "
        f"WHERE NOT ST_IsEmpty(g) AND ST_Length(g) >= {px}"
    )


def overview_query(spec: LayerSpec, b: int) -> str:
    """The SQL that renders a low-zoom tile of ``spec`` from its overview at band ``b``."""
    return (
        "WITH q AS (SELECT ST_TileEnvelope(:z, :x, :y) AS e, "
        f"ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {BUFFER / EXTENT}), 4490) AS g) "
        f"SELECT ST_AsMVT(t.*, '{spec.name}', {EXTENT}, 'geom', 'id') FROM ("
        f"SELECT o.id, o.s AS _s, ST_AsMVTGeom(ST_Transform(o.geom, 3857), q.e, {EXTENT}, {BUFFER}, true) AS geom "
        f"FROM tile_overview o, q WHERE o.layer = '{spec.name}' AND o.band = {b} AND o.geom && q.g) t "
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
) -> bytes:
    """One tile of ``layer`` (a catalog layer, or ``coverage`` of run ``run``), uncompressed MVT bytes."""
    params = {"z": z, "x": x, "y": y, "tol": pixel_degrees(z), "run": run}
    if layer == "coverage":
        sql = COVERAGE_QUERY
    else:
        spec = catalog.layer(layer)
        b = band(spec, z) if overview else None
        if b is None:
            sql = layer_query(spec, z)
        else:
            ensure_overview(conn, spec, b)
            sql = overview_query(spec, b)
    data = conn.execute(text(sql), params).scalar_one()
    return bytes(data) if data else b""


def tile_ranges(
    bbox: tuple[float, float, float, float], max_zoom: int = MAX_ZOOM
) -> list[tuple[int, int, int, int, int]]:
    """Per zoom, the tiles (z, x0, x1, y0, y1) a lon/lat box touches, grown by one tile for buffers."""

    def tx(lon: float, n: int) -> int:
        return int((lon + 180.0) / 360.0 * n)

    def ty(lat: float, n: int) -> int:
        lat = max(min(lat, 85.0511), -85.0511)
        r = math.radians(lat)
        return int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)

    xmin, ymin, xmax, ymax = bbox
    out = []
    for z in range(max_zoom + 1):
        n = 1 << z
        out.append(
            (
                z,
                max(tx(xmin, n) - 1, 0),
                min(tx(xmax, n) + 1, n - 1),
                max(ty(ymax, n) - 1, 0),
                min(ty(ymin, n) + 1, n - 1),
            )
        )
    return out
