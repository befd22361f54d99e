"""Rule 1 on the demo county: the faults the generator designed are found, with their lengths."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Connection, text

from fupin_gis.coverage.run import run_road_access
from fupin_gis.demo import DemoCounty
from fupin_gis.settings import CoverageSettings


@pytest.fixture(scope="module")
def result(demo: DemoCounty, engine) -> dict:  # noqa: ANN001
    with engine.connect() as conn:
        return run_road_access(conn, CoverageSettings())


def _by_code(result: dict) -> dict[str, dict]:
    return {v["code"]: v["road_access"] for v in result["villages"]}


def test_every_village_reported(result: dict, conn: Connection) -> None:
    assert len(result["villages"]) == 45
    assert result["metric_srid"] == 4545  # CGCS2000 3-degree GK zone of 通江县 (CM 108E)
    assert result["summary"]["511921"]["villages"] == 45


def test_far_seat_has_no_access(result: dict, demo: DemoCounty) -> None:
    (code,) = demo.truth["far_seats"]
    ra = _by_code(result)[code]
    assert ra["connected"] is False and ra["access_m"][0] is None and ra["gap_m"] is None


@pytest.mark.parametrize("fault", ["gravel_gaps", "narrow", "unfinished"])
def test_designed_gaps_cut_their_village_off(result: dict, demo: DemoCounty, conn: Connection, fault: str) -> None:
    frame = demo.layers["roads"].frame
    for piece in demo.truth[fault]:
        code, village = frame["code"].iloc[piece], frame["village_code"].iloc[piece]
        road_id, length = conn.execute(
            text("SELECT id, ST_Length(geom::geography) FROM roads WHERE code = :c"), {"c": code}
        ).one()
        ra = _by_code(result)[village]
        if ra["access_m"][0] is None:
            continue  # the remote village: no road near its seat at all
        assert ra["connected"] is False, (fault, code, village)
        assert road_id in ra["gap_segments"]
        assert ra["gap_m"] >= length - 1.0  # metric CRS vs geodesic


def test_short_ends_within_tolerance_are_joined(result: dict, demo: DemoCounty, engine) -> None:  # noqa: ANN001
    """With the 5 m snap every village near a road has a path; without it, the short ends cut some off."""
    reachable = _by_code(result)
    assert all(ra["gap_m"] is not None for ra in reachable.values() if ra["access_m"][0] is not None)
    with engine.connect() as conn:
        strict = _by_code(run_road_access(conn, CoverageSettings(snap_tolerance_m=0.01)))
    lost = {code for code, ra in strict.items() if ra["gap_m"] is None and ra["access_m"][0] is not None}
    frame = demo.layers["roads"].frame
    behind_short_ends = set(frame["village_code"].iloc[demo.truth["short_village_ends"]])
    assert lost and lost & behind_short_ends


def test_joint_plan_connects_every_village_it_can(demo: DemoCounty, engine) -> None:  # noqa: ANN001
    """Harden exactly the planned roads: every village that had a gap is then connected."""
    from fupin_gis.coverage.network import build_network
    from fupin_gis.coverage.road_access import joint_plan, road_access
    from fupin_gis.coverage.run import load_roads, load_seats

    settings = CoverageSettings()
    with engine.connect() as conn:
        roads = load_roads(conn, 4545, settings)
        villages, townships, _ = load_seats(conn, 4545)
    before = road_access(build_network(roads), villages, townships)
    plan = joint_plan(build_network(roads), villages, townships)
    with_gap = [a for a in before if a.gap_m]
    assert with_gap and plan.length_m > 0
    assert plan.length_m <= sum(a.gap_m for a in with_gap) + 1e-6  # shared segments counted once
    fixed = roads.usable.copy()
    fixed[np.isin(roads.road_id, plan.roads)] = True
    roads.usable = fixed
    after = {a.code: a for a in road_access(build_network(roads), villages, townships)}
    assert all(after[a.code].connected for a in with_gap)
