"""OGC API Features over HTTP and OWSLib against a real server: documents, 33 CQL2 filters (text, JSON and
GDAL's cql-text) equal to the same SQL, an injection attempt, refusals naming the token, CRS outputs
against ST_Transform, bbox-crs and filter-crs, keyset paging with signed cursors, and the tiles."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import cql2
import httpx
import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from ogc_helpers import Account, make_accounts, serve
from owslib.ogcapi.features import Features
from sqlalchemy import Engine, text

from fupin_gis.errors import InvalidInput
from fupin_gis.main import create_app
from fupin_gis.ogc.cursor import cursor_key, sign, verify
from fupin_gis.ogc.pages import count_within
from fupin_gis.settings import OgcSettings, Settings


@pytest.fixture(scope="module")
def accounts(ogc_engine: Engine) -> dict[str, Account]:
    return make_accounts(ogc_engine, "feat")


@pytest.fixture(scope="module")
def server(settings: Settings, ogc_engine: Engine, accounts: dict[str, Account]) -> Iterator[str]:
    with serve(settings, ogc_engine, cursor_secret="feature-tests") as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str, accounts: dict[str, Account]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server}/ogc", headers=accounts["admin"].bearer, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def box(ogc_engine: Engine) -> list[float]:
    """A box over part of the roads."""
    with ogc_engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM roads) s")
        ).one()
    return [x0 + (x1 - x0) * 0.2, y0 + (y1 - y0) * 0.4, x0 + (x1 - x0) * 0.5, y0 + (y1 - y0) * 0.7]


def all_ids(client: httpx.Client, layer: str, **params: Any) -> list[str]:
    """Every feature id of a query, page after page (following next links)."""
    answer = client.get(f"/collections/{layer}/items", params={"limit": 10_000, **params})
    assert answer.status_code == 200, answer.text[:500]
    ids = [f["id"] for f in answer.json()["features"]]
    nxt = [link["href"] for link in answer.json()["links"] if link["rel"] == "next"]
    while nxt:
        page = client.get(nxt[0]).json()
        ids += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
    return ids


def sql_ids(engine: Engine, layer: str, condition: str, params: dict[str, Any] | None = None) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(text(f"SELECT code FROM {layer} t WHERE {condition} ORDER BY id"), params or {}).scalars()
        )


def filters(box: list[float], village: str) -> list[tuple[str, str, str]]:
    """(layer, CQL2 text, the same as SQL)."""
    x0, y0, x1, y1 = box
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    env = f"ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 4490)"
    return [
        ("roads", "surface = 'hardened'", "surface = 'hardened'"),
        ("roads", "width_m > 4.5", "width_m > 4.5"),
        ("roads", "width_m >= 3.5 AND width_m <= 5", "width_m >= 3.5 AND width_m <= 5"),
        ("roads", "width_m BETWEEN 3 AND 4.5", "width_m BETWEEN 3 AND 4.5"),
        ("roads", "road_class IN ('village', 'group')", "road_class IN ('village', 'group')"),
        ("roads", "road_class NOT IN ('village', 'group')", "road_class NOT IN ('village', 'group')"),
        ("roads", "structure IS NULL", "structure IS NULL"),
        ("roads", "structure IS NOT NULL", "structure IS NOT NULL"),
        ("roads", "name LIKE 'X%'", "name LIKE 'X%'"),
        ("roads", "name NOT LIKE '%村%'", "NOT (name LIKE '%村%')"),
        ("roads", "CASEI(code) LIKE CASEI('r00000%')", "lower(code) LIKE 'r00000%'"),
        ("roads", "CASEI(surface) = CASEI('HARDENED')", "lower(surface) = 'hardened'"),
        ("roads", "year_built < 2000 OR year_built IS NULL", "year_built < 2000 OR year_built IS NULL"),
        ("roads", "NOT (status = 'existing')", "NOT (status = 'existing')"),
        ("roads", "status <> 'existing'", "status <> 'existing'"),
        ("roads", "plan_year = 2010", "plan_year = 2010"),
        (
            "roads",
            "(surface = 'gravel' OR surface = 'earth') AND width_m < 4",
            "surface IN ('gravel', 'earth') AND width_m < 4",
        ),
        ("roads", "width_m IN (3.5, 4.5, 6.5)", "width_m IN (3.5, 4.5, 6.5)"),
        ("roads", '"width_m" > 5', "width_m > 5"),
        ("roads", f"village_code = '{village}'", f"village_code = '{village}'"),
        ("roads", f"village_code LIKE '{village[:10]}%'", f"village_code LIKE '{village[:10]}%'"),
        ("roads", "value_yuan IS NULL AND owner = '县交通运输局'", "value_yuan IS NULL AND owner = '县交通运输局'"),
        ("roads", f"S_INTERSECTS(geometry, BBOX({x0}, {y0}, {x1}, {y1}))", f"ST_Intersects(geom, {env})"),
        (
            "roads",
            f"S_INTERSECTS(geom, POLYGON(({x0} {y0}, {x1} {y0}, {xm} {y1}, {x0} {y0})))",
            f"ST_Intersects(geom, ST_GeomFromText('POLYGON(({x0} {y0}, {x1} {y0}, {xm} {y1}, {x0} {y0}))', 4490))",
        ),
        (
            "roads",
            f"S_INTERSECTS(geometry, LINESTRING({x0} {ym}, {x1} {ym})) AND surface <> 'hardened'",
            f"ST_Intersects(geom, ST_GeomFromText('LINESTRING({x0} {ym}, {x1} {ym})', 4490)) AND surface <> 'hardened'",
        ),
        ("villages", f"S_INTERSECTS(geometry, POINT({xm} {ym}))", f"ST_Intersects(geom, ST_Point({xm}, {ym}, 4490))"),
        ("villages", "poverty_village = TRUE AND population > 300", "poverty_village AND population > 300"),
        ("water_points", "safe = FALSE OR working = FALSE", "NOT safe OR NOT working"),
        (
            "water_points",
            "kind IN ('well', 'spring') AND households_served >= 10",
            "kind IN ('well', 'spring') AND households_served >= 10",
        ),
        ("roads", "TRUE", "TRUE"),
        ("roads", "name = 'x'' OR 1=1 --'", "name = $$x' OR 1=1 --$$"),  # an injection attempt, read as text
    ]


def test_cql2_text_and_json_filters_answer_as_sql(client: httpx.Client, ogc_engine: Engine, box: list[float]) -> None:
    with ogc_engine.connect() as conn:
        village = conn.execute(
            text("SELECT village_code FROM roads GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        ).scalar()
    nonempty = 0
    cases = filters(box, village)
    assert len(cases) >= 30
    for layer, cql, where in cases:
        expected = sql_ids(ogc_engine, layer, where)
        nonempty += bool(expected)
        got = all_ids(client, layer, filter=cql, **{"filter-lang": "cql2-text"})
        assert got == expected, (cql, len(got), len(expected))
        as_json = json.dumps(cql2.parse_text(cql).to_json())
        assert all_ids(client, layer, filter=as_json, **{"filter-lang": "cql2-json"}) == expected, cql
    assert nonempty >= len(cases) - 2  # all but the injection (and at most one other) select something
    assert sql_ids(ogc_engine, "roads", "TRUE")  # the table is still there
    # GDAL's dialect: cql-text with ILIKE
    gdal = all_ids(client, "roads", filter="(name ILIKE 'x1%') AND (width_m >= 4)", **{"filter-lang": "cql-text"})
    assert gdal == sql_ids(ogc_engine, "roads", "name ILIKE 'x1%' AND width_m >= 4") and gdal
    # equality per queryable, with bbox
    x0, y0, x1, y1 = box
    got = all_ids(client, "roads", surface="gravel", bbox=f"{x0},{y0},{x1},{y1}")
    assert got == sql_ids(
        ogc_engine, "roads", f"surface = 'gravel' AND ST_Intersects(geom, ST_MakeEnvelope({x0},{y0},{x1},{y1},4490))"
    )


@pytest.mark.parametrize(
    ("cql", "token"),
    [
        ("nonesuch = 1", "nonesuch"),
        ("width_m = 'wide'", "="),
        ("T_AFTER(plan_year, TIMESTAMP('2020-01-01T00:00:00Z'))", "t_after"),
        ("S_WITHIN(geometry, POINT(107 32))", "s_within"),
        ("width_m + 1 > 2", "+"),
        ("name ILIKE 'x'", "ILIKE"),
        ("code = 'R1'); DROP TABLE roads; --", ";"),
        ("geometry = 'x'", "geometry"),
        ("ACCENTI(name) = ACCENTI('x')", "accenti"),
    ],
)
def test_a_filter_outside_the_vocabulary_is_a_400_naming_the_token(client: httpx.Client, cql: str, token: str) -> None:
    answer = client.get("/collections/roads/items", params={"filter": cql})
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["field"] == "filter" and token in body["message_en"] and body["message"], body


def test_unknown_filter_language_and_crs_are_400(client: httpx.Client) -> None:
    assert client.get("/collections/roads/items", params={"filter": "TRUE", "filter-lang": "xml"}).status_code == 400
    wrong = client.get("/collections/roads/items", params={"crs": "EPSG:2000"})
    assert wrong.status_code == 400 and "EPSG/0/4490" in wrong.json()["message_en"]
    for bad in (
        {"limit": 0},
        {"limit": "many"},
        {"bbox": "1,2,3"},
        {"bbox": "200,0,210,1"},
        {"sortby": "name"},
    ):
        assert client.get("/collections/roads/items", params=bad).status_code == 400, bad
    capped = client.get("/collections/roads/items", params={"limit": 50_000}).json()  # more than the maximum
    assert "limit=10000" in next(x["href"] for x in capped["links"] if x["rel"] == "self")  # is the maximum


def _coords(feature: dict[str, Any]) -> list[list[float]]:
    return [list(p) for part in feature["geometry"]["coordinates"] for p in part]


@pytest.mark.parametrize(
    ("crs", "sql", "header"),
    [
        (None, "ST_AsGeoJSON(geom, 9, 0)", "OGC/1.3/CRS84"),
        ("EPSG:4490", "ST_AsGeoJSON(ST_FlipCoordinates(geom), 9, 0)", "EPSG/0/4490"),
        (
            "http://www.opengis.net/def/crs/EPSG/0/4326",
            "ST_AsGeoJSON(ST_FlipCoordinates(ST_Transform(geom, 4326)), 9, 0)",
            "EPSG/0/4326",
        ),
        ("EPSG:3857", "ST_AsGeoJSON(ST_Transform(geom, 3857), 4, 0)", "EPSG/0/3857"),
        ("[EPSG:4545]", "ST_AsGeoJSON(ST_FlipCoordinates(ST_Transform(geom, 4545)), 4, 0)", "EPSG/0/4545"),
        (
            "urn:ogc:def:crs:EPSG::4524",
            "ST_AsGeoJSON(ST_FlipCoordinates(ST_Transform(geom, 4524)), 4, 0)",
            "EPSG/0/4524",
        ),
    ],
)
def test_crs_outputs_equal_st_transform(
    client: httpx.Client, ogc_engine: Engine, crs: str | None, sql: str, header: str
) -> None:
    params = {"limit": 50, **({"crs": crs} if crs else {})}
    answer = client.get("/collections/roads/items", params=params)
    assert answer.status_code == 200 and answer.headers["content-crs"] == f"<http://www.opengis.net/def/crs/{header}>"
    with ogc_engine.connect() as conn:
        truth = dict(conn.execute(text(f"SELECT code, {sql} FROM roads ORDER BY id LIMIT 50")).all())
    for feature in answer.json()["features"]:
        assert _coords(feature) == _coords({"geometry": json.loads(truth[feature["id"]])}), (crs, feature["id"])
    one = client.get(f"/collections/roads/items/{feature['id']}", params=params)
    assert one.headers["content-crs"].endswith(f"{header}>") and _coords(one.json()) == _coords(feature)


def test_bbox_crs_and_filter_crs_are_read_in_their_axis_order(
    client: httpx.Client, ogc_engine: Engine, box: list[float]
) -> None:
    x0, y0, x1, y1 = box
    plain = all_ids(client, "roads", bbox=f"{x0},{y0},{x1},{y1}")
    assert plain and all_ids(client, "roads", bbox=f"{y0},{x0},{y1},{x1}", **{"bbox-crs": "EPSG:4490"}) == plain
    with ogc_engine.connect() as conn:
        mx0, my0, mx1, my1 = conn.execute(
            text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                "(SELECT ST_Transform(ST_MakeEnvelope(:a, :b, :c, :d, 4490), 3857) b) s"
            ),
            {"a": x0, "b": y0, "c": x1, "d": y1},
        ).one()
    mercator = all_ids(client, "roads", bbox=f"{mx0},{my0},{mx1},{my1}", **{"bbox-crs": "EPSG:3857"})
    assert mercator == plain
    cql = f"S_INTERSECTS(geometry, BBOX({y0}, {x0}, {y1}, {x1}))"
    assert all_ids(client, "roads", filter=cql, **{"filter-crs": "EPSG:4490"}) == plain


def test_keyset_pages_with_signed_cursors(
    client: httpx.Client, ogc_engine: Engine, accounts: dict[str, Account], server: str
) -> None:
    first = client.get("/collections/roads/items", params={"limit": 700}).json()
    total = len(sql_ids(ogc_engine, "roads", "TRUE"))
    assert first["numberMatched"] == total and first["numberReturned"] == 700
    ids, page = [f["id"] for f in first["features"]], first
    while True:
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        assert "cursor=" in nxt[0] and "offset" not in nxt[0] and nxt[0].startswith(server)
        page = client.get(nxt[0]).json()
        assert page["numberMatched"] == total  # counted once, carried by the cursor
        ids += [f["id"] for f in page["features"]]
    assert ids == sql_ids(ogc_engine, "roads", "TRUE")
    for sortby, order in (("-code", "code DESC"), ("+village_code", "village_code NULLS LAST, id"), ("code", "code")):
        got = all_ids(client, "roads", sortby=sortby, limit=600)
        with ogc_engine.connect() as conn:
            assert got == list(conn.execute(text(f"SELECT code FROM roads ORDER BY {order}")).scalars()), sortby
    link = next(x["href"] for x in first["links"] if x["rel"] == "next")
    token = link.split("cursor=")[1]
    forged = link.replace(token, token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"))
    assert client.get(forged).status_code == 400
    assert client.get(link + "&surface=gravel").status_code == 400  # a cursor of another query
    assert httpx.get(link, headers=accounts["viewer"].bearer).status_code == 400  # of another account
    with ogc_engine.begin() as conn:  # the data changes between two pages: the count is no longer known
        conn.execute(text("INSERT INTO batches (layer, source, status) VALUES ('roads', 'test', 'rolled_back')"))
    later = client.get(link).json()
    assert "numberMatched" not in later and later["numberReturned"] == 700
    hits = client.get("/collections/roads/items", params={"resultType": "hits", "surface": "earth"}).json()
    assert hits["numberMatched"] == len(sql_ids(ogc_engine, "roads", "surface = 'earth'")) and hits["features"] == []


def test_later_pages_leave_empty_fields_out_and_the_count_follows_the_data(
    client: httpx.Client, ogc_engine: Engine, catalog: Any
) -> None:
    fields = [f.name for f in catalog.layer("roads").fields]
    first = client.get("/collections/roads/items", params={"limit": 400}).json()
    assert all(list(f["properties"]) == fields for f in first["features"])  # every field, in catalog order
    second = client.get(next(x["href"] for x in first["links"] if x["rel"] == "next")).json()
    with ogc_engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT r.code, to_json(r)::text AS j FROM (SELECT {', '.join(fields)} FROM roads) r")
        ).all()
    truth = {row.code: {k: v for k, v in json.loads(row.j).items() if v is not None} for row in rows}
    assert [f["properties"] for f in second["features"]] == [truth[f["id"]] for f in second["features"]]
    assert any(len(f["properties"]) < len(fields) for f in second["features"])  # empty fields left out
    with ogc_engine.begin() as conn:  # the data changes: the first page counts again
        conn.execute(text("DELETE FROM roads WHERE id = (SELECT max(id) FROM roads)"))
        conn.execute(text("INSERT INTO batches (layer, source, status) VALUES ('roads', 'test', 'committed')"))
    again = client.get("/collections/roads/items", params={"limit": 400}).json()
    assert again["numberMatched"] == first["numberMatched"] - 1 == len(sql_ids(ogc_engine, "roads", "TRUE"))


def test_streamed_gzip_and_head(client: httpx.Client) -> None:
    raw = client.get("/collections/roads/items", params={"limit": 3000}, headers={"Accept-Encoding": "identity"})
    zipped = client.get("/collections/roads/items", params={"limit": 3000}, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in raw.headers
    assert [f["id"] for f in zipped.json()["features"]] == [f["id"] for f in raw.json()["features"]]
    head = client.head("/collections/roads/items", params={"crs": "EPSG:3857"})
    assert head.status_code == 200 and head.content == b"" and head.headers["content-crs"].endswith("3857>")
    assert head.headers["cache-control"] == "private, no-store"


def test_count_gives_up_in_time_and_the_transaction_goes_on(ogc_engine: Engine) -> None:
    with ogc_engine.begin() as conn:
        slow = "SELECT count(*) FROM generate_series(1, 200000000)"
        assert count_within(conn, slow, {}, 30) is None
        assert conn.execute(text("SELECT current_setting('statement_timeout')")).scalar_one() == "0"
        assert count_within(conn, "SELECT count(*) FROM roads", {}, 5000) > 0


def test_documents_describe_what_makes_clients_fast(client: httpx.Client, server: str, catalog: Any) -> None:
    landing = client.get("/")
    rels = {link["rel"]: link for link in landing.json()["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["href"] == f"{server}/ogc/api"
    api = client.get("/api")
    assert api.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert len(api.content) < 400_000
    doc = api.json()
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert limit == {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1000}
    for spec in catalog.ordered():
        params = doc["paths"][f"/collections/{spec.name}/items"]["get"]["parameters"]
        assert {"$ref": "#/components/parameters/limit"} in params
        lang = next(p for p in params if p.get("name") == "filter-lang")
        assert "cql-text" in lang["schema"]["enum"] and "cql2-json" in lang["schema"]["enum"]
        assert {f.name for f in spec.fields} <= {p.get("name") for p in params}
    conformance = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in conformance
    queryables = client.get("/collections/roads/queryables")
    assert queryables.headers["content-type"] == "application/schema+json"
    surface = queryables.json()["properties"]["surface"]
    assert surface["enum"] == ["hardened", "gravel", "earth"] and surface["oneOf"][0]["title"] == "硬化"
    assert queryables.json()["properties"]["geometry"]["format"] == "geometry-multilinestring"
    schema = client.get("/collections/roads/schema").json()
    assert schema["properties"]["properties"]["properties"]["plan_year"]["type"] == "integer"
    assert client.get("/api.html").headers["content-type"].startswith("text/html")
    for path in ("/", "/collections", "/collections/roads/items?limit=1", "/collections/nonesuch", "/api"):
        assert client.get(path).headers["cache-control"] == "private, no-store", path


def test_owslib_reads_collections_queryables_and_items(
    server: str, accounts: dict[str, Account], ogc_engine: Engine, box: list[float]
) -> None:
    api = Features(f"{server}/ogc", headers=accounts["admin"].bearer)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    names = [c["id"] for c in api.collections()["collections"]]
    assert "roads" in names and "households" in names  # the admin may see personal data
    assert api.collection("roads")["title"] == "道路"
    assert "surface" in api.collection_queryables("roads")["properties"]
    items = api.collection_items("roads", bbox=box, limit=10_000)
    x0, y0, x1, y1 = box
    expected = sql_ids(ogc_engine, "roads", f"ST_Intersects(geom, ST_MakeEnvelope({x0},{y0},{x1},{y1},4490))")
    assert [f["id"] for f in items["features"]] == expected and items["numberMatched"] == len(expected)
    viewer = Features(f"{server}/ogc", headers=accounts["viewer"].bearer)
    assert "households" not in [c["id"] for c in viewer.collections()["collections"]]


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_tiles_tilejson_and_style_serve_the_maps_tiles_in_scope(
    server: str, accounts: dict[str, Account], ogc_engine: Engine, box: list[float]
) -> None:
    eng_a = accounts["eng_a"]
    with httpx.Client(base_url=server, headers=eng_a.bearer, timeout=60) as c:
        assert c.get("/ogc/tileMatrixSets").json()["tileMatrixSets"][0]["id"] == "WebMercatorQuad"
        tms = c.get("/ogc/tileMatrixSets/WebMercatorQuad").json()
        assert tms["tileMatrices"][14]["matrixWidth"] == 2**14
        sets = c.get("/ogc/collections/roads/tiles").json()["tilesets"]
        template = next(x["href"] for x in sets[0]["links"] if x["rel"] == "item")
        assert template.endswith("/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
        tilejson = c.get("/ogc/collections/roads/tiles/WebMercatorQuad/tilejson.json").json()
        assert tilejson["tilejson"] == "3.0.0" and tilejson["tiles"][0].endswith("/{z}/{y}/{x}")
        assert tilejson["vector_layers"][0]["id"] == "roads"
        style = c.get("/ogc/collections/roads/styles/default")
        assert style.headers["content-type"] == "application/vnd.mapbox.style+json"
        colours = json.dumps(style.json()["layers"])
        assert style.json()["version"] == 8 and "#cb181d" in colours and '"_s"' in colours  # hardened roads in red
        with ogc_engine.connect() as conn:
            lon, lat = conn.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM roads WHERE left(village_code, 9) = :t LIMIT 1) s"
                ),
                {"t": eng_a.scope},
            ).one()
        x, y = _tile_of(lon, lat, 13)
        ogc_tile = c.get(
            f"/ogc/collections/roads/tiles/WebMercatorQuad/13/{y}/{x}", headers={"Accept-Encoding": "gzip"}
        )
        assert ogc_tile.status_code == 200 and ogc_tile.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert ogc_tile.headers["cache-control"] == "private, no-store"
        map_tile = c.get(f"/tiles/roads/13/{x}/{y}.mvt")
        assert ogc_tile.content == map_tile.content  # the map's renderer and its cache
        features = mapbox_vector_tile.decode(ogc_tile.content)["roads"]["features"]
        ids = {f["id"] for f in features}
        with ogc_engine.connect() as conn:
            mine = set(
                conn.execute(
                    text("SELECT id FROM roads WHERE left(village_code, 9) = :t"), {"t": eng_a.scope}
                ).scalars()
            )
        assert ids and ids <= mine  # nothing of another township
        assert c.get("/ogc/collections/roads/tiles/WebMercatorQuad/99/0/0").status_code == 400
        assert c.get("/ogc/collections/roads/tiles/Other/1/0/0").status_code == 404
    map_cache = httpx.get(f"{server}/tiles/roads/13/{x}/{y}.mvt", headers=eng_a.bearer)
    assert map_cache.headers["cache-control"] == "private, no-cache"  # revalidated by the browser, kept by no proxy


def test_the_cursor_key_is_made_once_and_kept_private(tmp_path: Any) -> None:
    settings = OgcSettings(secret_file=tmp_path / "var" / "ogc-cursor.key")
    key = cursor_key(settings)
    assert cursor_key(settings) == key and (tmp_path / "var" / "ogc-cursor.key").stat().st_mode & 0o777 == 0o600
    assert cursor_key(OgcSettings(cursor_secret="shared")) == cursor_key(OgcSettings(cursor_secret="shared")) != key
    token = sign({"i": 5}, key)
    assert verify(token, key) == {"i": 5}
    with pytest.raises(InvalidInput):
        verify(token, cursor_key(OgcSettings(cursor_secret="other")))


def test_links_use_the_public_url_and_extents_the_callers_scope(
    settings: Settings, ogc_engine: Engine, server: str, accounts: dict[str, Account]
) -> None:
    eng_a = accounts["eng_a"]
    mine = httpx.get(f"{server}/ogc/collections/roads", headers=eng_a.bearer).json()["extent"]["spatial"]["bbox"][0]
    with ogc_engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom) e FROM roads WHERE left(village_code, 9) = :t) s"
            ),
            {"t": eng_a.scope},
        ).one()
    assert mine == pytest.approx([x0, y0, x1, y1], abs=1e-12)  # the township's roads, not the county's
    code = httpx.get(f"{server}/ogc/collections/roads/items", params={"limit": 1}, headers=eng_a.bearer).json()
    head = httpx.head(f"{server}/ogc/collections/roads/items/{code['features'][0]['id']}", headers=eng_a.bearer)
    assert head.status_code == 200 and head.headers["etag"] and head.content == b""
    url = ogc_engine.url.render_as_string(hide_password=False)
    public = "https://gis.example.cn/ogc"
    behind = settings.model_copy(
        update={"database_url": url, "ogc": settings.ogc.model_copy(update={"public_url": public})}
    )
    with TestClient(create_app(behind)) as client:  # accounts off: the system
        links = client.get("/ogc").json()["links"]
    assert links and all(link["href"].startswith(public + "/") for link in links)
