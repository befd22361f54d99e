"""HTTP: health, the layer catalog with counts, errors as JSON, and an offline map page."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from fupin_gis.catalog import Catalog
from fupin_gis.demo import DemoCounty
from fupin_gis.main import create_app
from fupin_gis.settings import Settings


@pytest.fixture(scope="module")
def client(settings: Settings, demo: DemoCounty) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def test_health(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["postgis"].startswith("3.")


def same_page(html: str) -> str:
    """A page without its per-answer script nonces."""
    return re.sub(r' nonce="[^"]+"', "", html)


def test_security_headers_on_pages_api_and_errors(client: TestClient) -> None:
    for url in ("/", "/api/layers", "/api/layers/nope", "/static/fupin.js"):
        headers = client.get(url).headers
        policy = headers["content-security-policy"]
        assert "object-src 'none'" in policy and "base-uri 'none'" in policy and "frame-ancestors 'self'" in policy
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin"
    page = client.get("/")
    nonce = page.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert "'strict-dynamic'" in page.headers["content-security-policy"] and len(nonce) >= 16
    tags = re.findall(r"<script[^>]*>", page.text)
    assert tags and all(f'nonce="{nonce}"' in t for t in tags)
    assert nonce not in client.get("/").headers["content-security-policy"]  # a fresh one each time
    assert int(page.headers["content-length"]) == len(page.content)


def test_layers_with_counts(client: TestClient, catalog: Catalog, conn: Connection) -> None:
    body = client.get("/api/layers").json()
    assert [b["name"] for b in body] == [s.name for s in catalog.ordered()]
    for layer in body:
        assert layer["count"] == conn.execute(text(f"SELECT count(*) FROM {layer['name']}")).scalar_one()
        assert layer["srid"] == 4490
    roads = next(b for b in body if b["name"] == "roads")
    surface = next(f for f in roads["fields"] if f["name"] == "surface")
    assert {"key": "hardened", "label": "硬化"}.items() <= surface["values"][0].items()


def test_unknown_layer_is_404_json(client: TestClient) -> None:
    response = client.get("/api/layers/nope")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "layer_not_found" and "nope" in body["message"] and "nope" in body["message_en"]


def test_map_page_has_every_layer_and_no_cdn(client: TestClient, catalog: Catalog) -> None:
    html = client.get("/").text
    for spec in catalog.ordered():
        assert spec.label in html, spec.name
    external = re.findall(r'(?:src|href)\s*=\s*["\'](https?:)?//', html)
    assert external == []
    assert "cdn" not in html.lower()
    for path in re.findall(r'(?:src|href)="(/vendor/[^"]+)"', html):
        assert client.get(path).status_code == 200, path


def test_map_page_is_cached_until_data_changes(client: TestClient, engine) -> None:  # noqa: ANN001
    first = client.get("/").text
    assert same_page(client.get("/").text) == same_page(first)  # from the cache: only the nonce differs
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO batches (layer, source) VALUES ('roads', 'test')"))
        conn.execute(
            text(
                "INSERT INTO roads (geom, road_class, surface, status, name) VALUES (ST_Multi(ST_SetSRID("
                "ST_MakeLine(ST_MakePoint(107.2, 31.9), ST_MakePoint(107.21, 31.91)), 4490)), 'village', 'earth', 'planned', '测试新路')"
            )
        )
    try:
        html = client.get("/").text

        def roads_count(page: str) -> int:
            return int(re.search(r" Roads \(([\d,]+)\)", page).group(1).replace(",", ""))

        assert roads_count(html) == roads_count(first) + 1
        assert "测试新路" not in first
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM roads WHERE name = '测试新路'"))
            conn.execute(text("DELETE FROM batches WHERE source = 'test'"))


def test_map_shows_the_latest_coverage(client: TestClient, engine) -> None:  # noqa: ANN001
    run = client.post("/api/coverage/runs")
    assert run.status_code == 201
    villages = run.json()["villages"]
    html = client.get("/").text
    assert "Village road access" in html and "村通硬化路" in html
    assert f"/tiles/coverage/{{z}}/{{x}}/{{y}}.mvt?run={run.json()['run_id']}" in html
    cut_off = next(v for v in villages if not v["road_access"]["connected"] and v["road_access"]["gap_m"])
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(seat), ST_Y(seat) FROM villages WHERE code = :c"), {"c": cut_off["code"]}
        ).one()
    z, n = 13, 1 << 13
    x, y = int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    tile = mapbox_vector_tile.decode(client.get(f"/tiles/coverage/{z}/{x}/{y}.mvt").content)
    mine = next(f["properties"] for f in tile["coverage"]["features"] if f["properties"]["code"] == cut_off["code"])
    assert mine["name"] == cut_off["name"] and mine["_s"] == "gap"
    assert mine["gap_m"] == round(cut_off["road_access"]["gap_m"])

    # every village of the tile carries its class by each rule the map can colour by, from the run
    def share(n: int, total: int) -> str:
        return "empty" if total == 0 else "all" if n >= total else "none" if n == 0 else "partial"

    by_code = {v["code"]: v for v in villages}
    features = tile["coverage"]["features"]
    assert len(features) > 3
    for f in features:
        p, v = f["properties"], by_code[f["properties"]["code"]]
        oks = [c["ok"] for c in v["checks"].values()]
        steep = v["farmland"]["steep_mu"] - v["farmland"]["steep_converted_mu"]
        assert p["w"] == share(v["water"]["households_covered"], v["water"]["households"])
        assert p["r"] == share(v["rai"]["population_within_2km"], v["rai"]["population"])
        assert p["k"] == ("failed" if False in oks else "met" if True in oks else "unknown")
        assert p["f"] == ("none" if v["farmland"]["steep_mu"] == 0 else "unconverted" if steep > 0.05 else "converted")
        assert (p["pop"], p["pop_2km"]) == (v["rai"]["population"], v["rai"]["population_within_2km"])


def test_feature_routes_answer_bad_input_in_both_languages(client: TestClient, conn: Connection) -> None:
    fid, code = conn.execute(text("SELECT id, code FROM roads ORDER BY id LIMIT 1")).one()
    feature = client.get(f"/api/layers/roads/features/{fid}").json()
    assert feature["type"] == "Feature" and feature["properties"]["code"] == code
    assert feature["geometry"]["type"] == "MultiLineString"
    page = client.get(f"/layers/roads/features/{fid}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and code in page.text and "道路" in page.text
    for url, status in [
        ("/api/layers/roads/features/999999999", 404),
        ("/api/layers/nope/features/1", 404),
        ("/api/layers/roads/features/abc", 422),
    ]:
        answer = client.get(url)
        assert answer.status_code == status and answer.json()["message"] and answer.json()["message_en"], url
    html = client.get("/layers/roads/features/999999999", headers={"Accept": "text/html"})
    assert html.status_code == 404 and "999999999" in html.text
    for body in ["not json", '{"properties": []}', '{"geometry": 5}']:
        answer = client.patch(
            f"/api/layers/roads/features/{fid}", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code in (400, 422) and answer.json()["message_en"], body
    assert conn.execute(text("SELECT code FROM roads WHERE id = :i"), {"i": fid}).scalar_one() == code


def test_map_and_reports_say_when_the_run_is_out_of_date(client: TestClient, conn: Connection) -> None:
    run = client.post("/api/coverage/runs").json()["run_id"]
    assert f"coverage run {run}" in client.get("/").text and "data changed since" not in client.get("/").text
    assert "The newest run reflects the data as it is" in client.get("/reports").text
    fid = conn.execute(text("SELECT id FROM water_points ORDER BY id LIMIT 1")).scalar_one()
    edit = client.patch(f"/api/layers/water_points/features/{fid}", json={"properties": {"name": "新名字"}})
    assert edit.status_code == 200
    assert "data changed since" in client.get("/").text
    assert "The data changed 1 times after run" in client.get("/reports").text
    assert client.delete(f"/api/imports/{edit.json()['batch']}").status_code == 200  # a rollback is a change too
    assert "The data changed 2 times after run" in client.get("/reports").text
