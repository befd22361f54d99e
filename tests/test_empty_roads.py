"""A coverage run on an empty roads layer (a county before its road survey is imported) succeeds:
every village is unconnected and says why; the map, the reports and the topology check still answer
(it was an IndexError in road_access)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from fupin_gis.main import create_app
from fupin_gis.settings import Settings


@pytest.fixture(scope="module")
def client(settings: Settings, import_engine: Engine) -> Iterator[TestClient]:
    with import_engine.begin() as conn:
        conn.execute(text("DELETE FROM roads"))
    url = import_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(settings.model_copy(update={"database_url": url}))) as c:
        yield c


def test_coverage_run_without_roads_leaves_every_village_unconnected(client: TestClient, import_engine: Engine) -> None:
    with import_engine.connect() as conn:
        villages = conn.execute(text("SELECT count(*) FROM villages")).scalar_one()
    assert villages > 0
    response = client.post("/api/coverage/runs")
    assert response.status_code == 201, response.text[:500]
    run = response.json()
    assert len(run["villages"]) == villages
    for village in run["villages"]:
        access = village["road_access"]
        assert access["connected"] is False and access["gap_m"] is None, village["code"]
        assert "roads layer is empty" in access["reason"] and "道路图层为空" in access["reason"]
    county = next(s for code, s in run["summary"].items() if len(code) == 6)
    assert county["connected"] == 0 and county["villages"] == villages and county["rai"] == 0.0
    assert run["network"]["edges"] == 0
    assert run["harden_plan"]["length_m"] == 0.0 and run["harden_plan"]["segments"] == []
    # the other rules still count: water does not need roads
    assert county["households_covered"] > 0


def test_reports_map_and_topology_of_a_run_without_roads(client: TestClient) -> None:
    client.post("/api/coverage/runs")
    lacking = client.get("/api/reports/villages-lacking", params={"rule": "road"}).json()
    rows = lacking["sections"][0]["rows"]
    assert rows and all(r["connected"] is False for r in rows)
    for url in ("/reports/villages-lacking.html", "/reports/summary.html", "/", "/api/coverage/topology"):
        assert client.get(url).status_code == 200, url
    assert client.get("/api/coverage/topology").json()["summary"]["near_misses"] == 0
    assert client.get("/tiles/coverage/0/0/0.mvt").status_code == 200
