"""The topology report on hand-built networks with known answers, and through the CLI and API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from test_road_access import G, H, rows
from typer.testing import CliRunner

from fupin_gis.cli import app
from fupin_gis.coverage.network import build_network
from fupin_gis.coverage.road_access import Seat
from fupin_gis.coverage.topology import find_problems
from fupin_gis.demo import DemoCounty
from fupin_gis.main import create_app
from fupin_gis.settings import CoverageSettings, Settings

SETTINGS = CoverageSettings()


def problems(*roads, seats=((0.0, 0.0),)):  # noqa: ANN001, ANN002, ANN202
    net = build_network(rows(*roads), SETTINGS.snap_tolerance_m)
    return find_problems(net, [Seat(str(i), s) for i, s in enumerate(seats)], SETTINGS, 4545)


def test_end_short_of_a_road_is_a_near_miss() -> None:
    # road 2 stops 20 m below road 1: not joined (over the 5 m tolerance), reported with the gap
    found = problems(([(0, 0), (2000, 0)], H), ([(1000, -20), (1000, -800)], G))
    assert len(found.near_misses) == 1
    miss = found.near_misses[0]
    assert (miss["road_id"], miss["other_road_id"]) == (2, 1) and miss["gap_m"] == pytest.approx(20)
    assert shapely.length(miss["geom"]) == pytest.approx(20)


def test_joined_or_far_ends_are_not_near_misses() -> None:
    joined = problems(([(0, 0), (2000, 0)], H), ([(1000, -3), (1000, -800)], G))  # within 5 m: joined
    far = problems(([(0, 0), (2000, 0)], H), ([(1000, -80), (1000, -800)], G))  # 80 m: a real dead end
    assert joined.near_misses == [] and far.near_misses == []


def test_own_road_around_a_bend_is_not_a_near_miss() -> None:
    # a hairpin whose free end lies 30 m from its own road 60 m further along: reached along the network
    found = problems(([(0, 0), (1000, 0), (1000, 30), (970, 30)], H))
    assert found.near_misses == []


def test_overshoot_past_a_junction_is_a_spur() -> None:
    # road 2 crosses road 1 and runs on 12 m past it: the 12 m piece dangles from a junction of 3+
    found = problems(([(0, 0), (2000, 0)], H), ([(1000, 500), (1000, -12)], H))
    assert [s["length_m"] for s in found.spurs] == [pytest.approx(12)]
    assert found.spurs[0]["road_id"] == 2


def test_pieces_no_seat_joins_are_isolated() -> None:
    found = problems(
        ([(0, 0), (2000, 0)], H),
        ([(5000, 5000), (5300, 5000)], G),  # 300 m of road far from every seat
        ([(5300, 5000), (5300, 5100)], G),
    )
    assert len(found.isolated) == 1
    piece = found.isolated[0]
    assert piece["roads"] == [2, 3] and piece["length_m"] == pytest.approx(400)
    assert found.summary()["isolated_length_m"] == pytest.approx(400)


def test_topology_command_and_api_on_the_demo(
    settings: Settings, demo: DemoCounty, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    out = tmp_path / "topology.gpkg"
    result = CliRunner().invoke(app, ["coverage", "topology", "--json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    s = found["summary"]
    # the demo's roads carry ends that stop short beyond the tolerance and overshooting spurs
    assert s["near_misses"] > 0 and s["spurs"] > 0
    assert all(SETTINGS.snap_tolerance_m < m["gap_m"] <= SETTINGS.topology_gap_m for m in found["near_misses"])
    assert all(m["road_code"] and m["other_road_code"] for m in found["near_misses"])
    # the GeoPackage holds the same findings in lon/lat, the gap lines as long as reported (geodesic check)
    misses = pyogrio.read_dataframe(out, layer="near_misses")
    assert len(misses) == s["near_misses"] and misses.crs.to_epsg() == 4490
    from pyproj import Geod

    lengths = np.array([Geod(ellps="GRS80").geometry_length(g) for g in misses.geometry])
    assert np.allclose(lengths, misses["gap_m"], atol=0.5)
    assert len(pyogrio.read_dataframe(out, layer="spurs")) == s["spurs"]
    with TestClient(create_app(settings)) as client:
        answer = client.get("/api/coverage/topology?limit=3")
        assert answer.status_code == 200 and answer.json()["summary"] == s
        assert len(answer.json()["near_misses"]) == min(3, s["near_misses"])
        bad = client.get("/api/coverage/topology?limit=-1")
        assert bad.status_code == 422 and bad.json()["message_en"]
