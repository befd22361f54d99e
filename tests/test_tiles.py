"""Vector tiles: content decoded from real MVT, compression and ETags, invalidation by import and rollback."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from ingest_helpers import do_import
from sqlalchemy import Engine, text

from fupin_gis.api.background import warm_in_background
from fupin_gis.catalog import Catalog
from fupin_gis.ingest.batches import rollback
from fupin_gis.main import create_app
from fupin_gis.mapping.build import home_view
from fupin_gis.settings import Settings
from fupin_gis.tiles.cache import home_tiles
from fupin_gis.tiles.mvt import EXTENT, tile_ranges


@pytest.fixture(scope="module")
def client(base_settings: Settings, import_engine: Engine) -> Iterator[TestClient]:
    url = import_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(base_settings.model_copy(update={"database_url": url}))) as c:
        yield c


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def lonlat(z: int, x: int, y: int, px: float, py: float) -> tuple[float, float]:
    """Tile coordinates (MVT extent, y up as decoded) back to lon/lat."""
    n = 1 << z
    fx, fy = x + px / EXTENT, y + (EXTENT - py) / EXTENT
    return fx / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * fy / n))))


def decode(client: TestClient, url: str) -> dict:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    return mapbox_vector_tile.decode(answer.content) if answer.content else {}


def test_road_tile_has_the_right_road_in_the_right_place(client: TestClient, import_engine: Engine) -> None:
    with import_engine.connect() as conn:
        road = conn.execute(
            text(
                "SELECT id, code, surface, ST_X(p) AS lon, ST_Y(p) AS lat FROM roads, "
                "LATERAL ST_PointN(ST_GeometryN(geom, 1), 1) p WHERE surface = 'gravel' ORDER BY id LIMIT 1"
            )
        ).one()
    z = 15
    x, y = tile_of(road.lon, road.lat, z)
    layers = decode(client, f"/tiles/roads/{z}/{x}/{y}.mvt")
    features = {f["id"]: f for f in layers["roads"]["features"]}
    mine = features[road.id]
    assert mine["properties"]["surface"] == "gravel" and mine["properties"]["code"] == road.code
    assert mine["properties"]["_s"] == "gravel"
    points = mine["geometry"]["coordinates"]
    points = points[0] if mine["geometry"]["type"] == "MultiLineString" else points
    lon, lat = lonlat(z, x, y, *min(points, key=lambda p: math.dist(lonlat(z, x, y, *p), (road.lon, road.lat))))
    metres = math.hypot((lon - road.lon) * 111_320 * math.cos(math.radians(lat)), (lat - road.lat) * 110_570)
    assert metres < 2.0  # a z15 tile unit is about 1.2 m


def test_low_zoom_is_light(client: TestClient, import_engine: Engine) -> None:
    with import_engine.connect() as conn:
        lon, lat, households = conn.execute(
            text(
                "SELECT ST_X(ST_Centroid(ST_Extent(geom))), ST_Y(ST_Centroid(ST_Extent(geom))), count(*) FROM households"
            )
        ).one()
    x, y = tile_of(lon, lat, 8)
    layers = decode(client, f"/tiles/households/8/{x}/{y}.mvt")
    points = layers["households"]["features"]
    assert 0 < len(points) < households / 2  # one point per pixel at the county's zoom
    assert set(points[0]["properties"]) == {"_s"}  # style only; popups need zooming in
    detail = decode(client, f"/tiles/households/14/{tile_of(lon, lat, 14)[0]}/{tile_of(lon, lat, 14)[1]}.mvt")
    if detail:
        assert "members" in detail["households"]["features"][0]["properties"]  # a popup field


def test_compression_etag_and_bad_addresses(client: TestClient) -> None:
    url = "/tiles/villages/10/817/415.mvt"
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert zipped.headers["cache-control"] == "private, no-cache" and zipped.headers["etag"]
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content
    again = client.get(url, headers={"If-None-Match": zipped.headers["etag"]})
    assert again.status_code == 304
    for bad, status, field in [
        ("/tiles/villages/23/0/0.mvt", 400, "z"),
        ("/tiles/villages/3/8/0.mvt", 400, "x"),
        ("/tiles/villages/3/0/-1.mvt", 400, "y"),
        ("/tiles/nope/3/0/0.mvt", 404, None),
        ("/tiles/villages/a/0/0.mvt", 422, "z"),
    ]:
        answer = client.get(bad)
        assert answer.status_code == status, bad
        assert answer.json()["message"] and answer.json()["message_en"]
        if field:
            assert answer.json()["field"] == field


def test_import_and_rollback_invalidate_exactly_their_tiles(
    client: TestClient, import_engine: Engine, catalog: Catalog, tmp_path: Path
) -> None:
    with import_engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(seat), ST_Y(seat) FROM villages ORDER BY code LIMIT 1")).one()
        far = conn.execute(text("SELECT ST_X(seat), ST_Y(seat) FROM villages ORDER BY code DESC LIMIT 1")).one()
    z = 14
    here, there = tile_of(lon, lat, z), tile_of(*far, z)
    assert here != there
    before = decode(client, f"/tiles/roads/{z}/{here[0]}/{here[1]}.mvt")
    decode(client, f"/tiles/roads/{z}/{there[0]}/{there[1]}.mvt")

    def cached(xy: tuple[int, int]) -> bool:
        with import_engine.connect() as conn:
            return bool(
                conn.execute(
                    text("SELECT count(*) FROM tile_cache WHERE layer = 'roads' AND z = :z AND x = :x AND y = :y"),
                    {"z": z, "x": xy[0], "y": xy[1]},
                ).scalar_one()
            )

    assert cached(here) and cached(there)
    line = [[lon - 0.0004, lat - 0.0002], [lon + 0.0004, lat + 0.0002]]
    survey = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {
                    "道路编号": "TILE-TEST-1",
                    "道路名称": "瓦片测试路",
                    "道路等级": "村道",
                    "路面类型": "土路",
                    "建设状态": "规划",
                },
            }
        ],
    }
    path = tmp_path / "tile-test.geojson"
    path.write_text(json.dumps(survey, ensure_ascii=False), encoding="utf-8")
    report = do_import(import_engine, catalog, path, "roads")
    assert report.ok and report.batch
    assert not cached(here) and cached(there)  # only the touched tiles were dropped
    with import_engine.connect() as conn:  # the layer's low-zoom overview is rebuilt on next use
        assert not conn.execute(text("SELECT count(*) FROM tile_overview WHERE layer = 'roads'")).scalar_one()
    after = decode(client, f"/tiles/roads/{z}/{here[0]}/{here[1]}.mvt")
    codes = {f["properties"].get("code") for f in after["roads"]["features"]}
    assert "TILE-TEST-1" in codes
    assert len(after["roads"]["features"]) == len(before.get("roads", {"features": []})["features"]) + 1
    rollback(import_engine, catalog, report.batch)
    assert not cached(here)
    again = decode(client, f"/tiles/roads/{z}/{here[0]}/{here[1]}.mvt")
    assert "TILE-TEST-1" not in {f["properties"].get("code") for f in again.get("roads", {"features": []})["features"]}


def test_low_zoom_roads_come_from_the_overview(client: TestClient, import_engine: Engine) -> None:
    with import_engine.connect() as conn:
        lon, lat, total, *box = conn.execute(
            text(
                "SELECT ST_X(ST_Centroid(ST_Extent(geom))), ST_Y(ST_Centroid(ST_Extent(geom))), "
                "sum(ST_Length(geom::geography)), min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), "
                "max(ST_YMax(geom)) FROM roads"
            )
        ).one()
    x, y = tile_of(lon, lat, 9)
    roads = decode(client, f"/tiles/roads/9/{x}/{y}.mvt")["roads"]["features"]
    with import_engine.connect() as conn:
        built = conn.execute(text("SELECT band FROM tile_overview_built WHERE layer = 'roads'")).scalars().all()
        kept = conn.execute(
            text("SELECT sum(ST_Length(geom::geography)) FROM tile_overview WHERE layer = 'roads' AND band = 10")
        ).scalar_one()
        pieces = conn.execute(
            text("SELECT count(*), count(DISTINCT s) FROM tile_overview WHERE layer = 'roads' AND band = 10")
        ).one()
    assert built == [10]
    assert {f["properties"]["_s"] for f in roads} <= {"hardened", "gravel", "earth"}
    assert 0.9 * total < kept <= 1.01 * total  # merged and simplified, not lost
    # one multiline per style value and zoom-10 cell: a handful of features for the browser to draw
    z10, x0, x1, y0, y1 = tile_ranges(box, 10, grow=0)[10]
    assert len(roads) <= pieces[0] <= pieces[1] * (x1 - x0 + 1) * (y1 - y0 + 1)
    assert all(f["geometry"]["type"] in ("LineString", "MultiLineString") for f in roads)


def test_several_layers_in_one_tile(client: TestClient) -> None:
    both = decode(client, "/tiles/all/10/817/415.mvt?layers=roads,villages")
    roads = decode(client, "/tiles/roads/10/817/415.mvt")
    assert set(both) == {"roads", "villages"}
    assert len(both["roads"]["features"]) == len(roads["roads"]["features"])
    for bad, status in [("", 400), ("roads,nope", 404)]:
        answer = client.get(f"/tiles/all/10/817/415.mvt?layers={bad}")
        assert answer.status_code == status and answer.json()["message_en"]


def test_tile_ranges_cover_the_box() -> None:
    ranges = tile_ranges((107.0, 31.5, 107.5, 32.0), max_zoom=14)
    assert ranges[0] == (0, 0, 0, 0, 0)
    z, x0, x1, y0, y1 = ranges[14]
    for lon, lat in [(107.0, 31.5), (107.5, 32.0), (107.25, 31.75)]:
        x, y = tile_of(lon, lat, 14)
        assert x0 <= x <= x1 and y0 <= y <= y1


def test_map_page_is_small_and_uses_tiles(client: TestClient, catalog: Catalog) -> None:
    html = client.get("/").text
    assert len(html.encode()) < 100_000
    for spec in catalog.ordered():  # one switch per layer; one tile layer draws those switched on
        assert f'fupinGroup("{spec.name}"' in html
    assert "L.vectorGrid.protobuf" in html
    assert client.get("/static/map.js").status_code == 200


def test_cgcs2000_grid_for_tianditu_c(client: TestClient, import_engine: Engine) -> None:
    """The "_c" grid (Leaflet EPSG:4326, 天地图 CGCS2000): tiles in degrees, the road in the right place."""
    with import_engine.connect() as conn:
        road = conn.execute(
            text(
                "SELECT id, ST_X(p) AS lon, ST_Y(p) AS lat FROM roads, "
                "LATERAL ST_PointN(ST_GeometryN(geom, 1), 1) p ORDER BY id LIMIT 1"
            )
        ).one()
    z = 14  # a tile 180/2^14 degrees wide, 256 pixels
    size = 180 / (1 << z)
    x, y = int((road.lon + 180) / size), int((90 - road.lat) / size)
    layers = decode(client, f"/tiles/roads/{z}/{x}/{y}.mvt?grid=c")
    mine = {f["id"]: f for f in layers["roads"]["features"]}[road.id]
    points = mine["geometry"]["coordinates"]
    points = points[0] if mine["geometry"]["type"] == "MultiLineString" else points

    def back(px: float, py: float) -> tuple[float, float]:
        return -180 + (x + px / EXTENT) * size, 90 - (y + (EXTENT - py) / EXTENT) * size

    lon, lat = min((back(*p) for p in points), key=lambda q: math.dist(q, (road.lon, road.lat)))
    metres = math.hypot((lon - road.lon) * 111_320 * math.cos(math.radians(lat)), (lat - road.lat) * 110_570)
    assert metres < 2.0
    assert client.get("/tiles/roads/3/16/0.mvt?grid=c").status_code == 400  # x < 2^(z+1)
    assert client.get("/tiles/roads/3/15/8.mvt?grid=c").status_code == 400  # y < 2^z
    assert client.get("/tiles/roads/3/0/0.mvt?grid=x").json()["field"] == "grid"
    ranges = tile_ranges((road.lon, road.lat, road.lon, road.lat), max_zoom=z, grid="c")
    _, x0, x1, y0, y1 = ranges[z]
    assert x0 <= x <= x1 and y0 <= y <= y1


def test_tianditu_c_map(base_settings: Settings, import_engine: Engine) -> None:
    url = import_engine.url.render_as_string(hide_password=False)
    tianditu = base_settings.map.model_copy(update={"basemap": "tianditu", "tianditu_key": "KEY", "tianditu_grid": "c"})
    settings = base_settings.model_copy(update={"database_url": url, "map": tianditu})
    with TestClient(create_app(settings)) as c:
        html = c.get("/").text
    assert "L.CRS.EPSG4326" in html and "vec_c/wmts" in html and "TILEMATRIXSET=c" in html
    assert '"zoomOffset": 1' in html and 'grid=c"' in html  # the vector tiles in the same grid


def test_overviews_are_built_in_the_background(
    base_settings: Settings, import_engine: Engine, catalog: Catalog
) -> None:
    url = import_engine.url.render_as_string(hide_password=False)
    warm = base_settings.map.model_copy(update={"warm_overviews": True})
    with TestClient(create_app(base_settings.model_copy(update={"database_url": url, "map": warm}))) as c:
        first = c.app.state.warmer  # type: ignore[attr-defined]
        # an import while it works asks the same thread for another round instead of starting one
        assert warm_in_background(c.app) is first or not first.is_alive()  # type: ignore[arg-type]
        first.join(60)
        assert not first.is_alive() and c.app.state.warm_again is False  # type: ignore[attr-defined]
        again = warm_in_background(c.app)  # type: ignore[arg-type]
        assert again is not None and again is not first  # done: the next call starts a new round
        again.join(60)
        with import_engine.connect() as conn:
            built = conn.execute(text("SELECT layer, band FROM tile_overview_built ORDER BY 1, 2")).all()
            cached_rows = [tuple(r) for r in conn.execute(text("SELECT layer, z, x, y FROM tile_cache")).all()]
    assert ("roads", 8) in built and ("roads", 10) in built and ("roads", 11) in built
    assert ("water_points", 8) in built and not any(layer == "villages" for layer, _ in built)  # polygons: none
    # then the tiles the map's first view asks for: the switched-on layers over the data's box
    view = home_view(import_engine, catalog, warm)
    (s, w), (n, e) = view.bounds
    tiles = home_tiles((w, s, e, n), view.grid)
    assert (0, 0, 0) in tiles and max(z for z, _, _ in tiles) >= 8
    assert "roads" in view.first_tiles() and "households" not in view.first_tiles()
    stored = set(cached_rows)
    assert {(layer, *t) for layer in view.first_tiles() for t in tiles} <= stored
