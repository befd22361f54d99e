"""The village page, its map and JSON, and the search: real demo data, real coverage run."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.demo import DemoCounty
from fupin_gis.main import create_app
from fupin_gis.settings import Settings


@pytest.fixture(scope="module")
def client(settings: Settings, demo: DemoCounty) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def run(client: TestClient) -> dict:
    made = client.post("/api/coverage/runs")
    assert made.status_code == 201
    return made.json()


def test_village_json_and_page(client: TestClient, run: dict, engine: Engine, catalog: Catalog) -> None:
    cut_off = next(v for v in run["villages"] if not v["road_access"]["connected"] and v["road_access"]["gap_segments"])
    body = client.get(f"/api/villages/{cut_off['code']}").json()
    assert body["name"] == cut_off["name"] and body["run"]["id"] == run["run_id"]
    assert body["result"]["road_access"]["gap_segments"] == cut_off["road_access"]["gap_segments"]
    assert len(body["checks"]) == 7 and body["checks"][0]["label"].startswith("①")
    assert body["checks"][0]["ok"] is False  # the road check follows rule 1
    assert "卫生室" in body["checks"][1]["reason"]  # facility kinds by their catalog labels
    with engine.connect() as conn:
        roads = conn.execute(
            text("SELECT count(*) FROM roads WHERE village_code = :c"), {"c": cut_off["code"]}
        ).scalar_one()
    listed = {a["layer"]: len(a["rows"]) for a in body["assets"]}
    assert listed.get("roads", 0) == min(roads, 500)
    page = client.get(f"/villages/{cut_off['code']}").text
    assert cut_off["name"] in page and "村七有" in page and "未达标" in page
    for check in body["checks"]:
        assert check["label"] in page
    assert f"{cut_off['road_access']['gap_m']:.0f} 米" in page
    village_map = client.get(f"/villages/{cut_off['code']}/map").text
    assert "#d50000" in village_map  # the road to harden is highlighted
    assert not re.findall(r'(?:src|href)\s*=\s*["\'](https?:)?//', village_map)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/villages/abc", 400),
        ("/api/villages/12345", 400),
        ("/villages/000000000000", 404),
        ("/villages/000000000000/map", 404),
    ],
)
def test_bad_village_codes(client: TestClient, url: str, status: int) -> None:
    answer = client.get(url)
    assert answer.status_code == status
    assert answer.json()["message"] and answer.json()["message_en"]


def test_search(client: TestClient, engine: Engine) -> None:
    with engine.connect() as conn:
        town = conn.execute(text("SELECT code, name FROM townships ORDER BY code LIMIT 1")).one()
        village = conn.execute(text("SELECT code, name FROM villages ORDER BY code DESC LIMIT 1")).one()
    hits = client.get("/api/search", params={"q": town.name}).json()
    assert hits[0] == {**hits[0], "kind": "township", "code": town.code, "name": town.name}
    by_code = client.get("/api/search", params={"q": village.code}).json()
    assert [h["code"] for h in by_code] == [village.code] and by_code[0]["kind"] == "village"
    assert by_code[0]["bbox"][0] < by_code[0]["bbox"][2]
    assert client.get("/api/search", params={"q": "%"}).json() == []  # LIKE wildcards are literal
    for bad in ({"q": ""}, {"q": "x" * 51}, {}):
        answer = client.get("/api/search", params=bad)
        assert answer.status_code == 422 and answer.json()["field"] == "q"
