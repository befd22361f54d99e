"""Progress measured from the registry's history, as of an instant or a date, against a geodesic
length computed independently (pyproj.Geod); the money split by village against an independent
spatial join (planar lengths on the Gauss-Kruger zone, in SQL)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ledger_helpers import ENGINEER, PLANNER, TODAY, ledger_on, ready
from pyproj import Geod
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.ingest.batches import rollback
from fupin_gis.ingest.edit import edit_feature
from fupin_gis.ledger import library, progress
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.state import load
from fupin_gis.ledger.villages import by_village
from fupin_gis.settings import Settings

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid


@pytest.fixture(scope="module")
def led(import_engine: Engine, catalog: Catalog, base_settings: Settings) -> Ledger:
    return ledger_on(import_engine, catalog, base_settings)


def geodesic_km(engine: Engine, ids: list[int]) -> float:
    with engine.connect() as conn:
        shapes = conn.execute(text("SELECT ST_AsGeoJSON(geom, 15) FROM roads WHERE id = ANY(:i)"), {"i": ids}).scalars()
        total = 0.0
        for shape in shapes:
            for line in json.loads(shape)["coordinates"]:
                lon, lat = zip(*line, strict=True)
                total += GEOD.line_length(lon, lat)
    return total / 1000


@pytest.fixture(scope="module")
def roads(led: Ledger) -> list[int]:
    """Three gravel village roads of one village, wide enough once hardened, and one too narrow."""
    with led.engine.connect() as conn:
        village = conn.execute(
            text(
                "SELECT village_code FROM roads WHERE road_class = 'village' AND surface = 'gravel' AND status = 'existing' "
                "GROUP BY village_code HAVING count(*) >= 4 ORDER BY village_code LIMIT 1"
            )
        ).scalar_one()
        return list(
            conn.execute(
                text(
                    "SELECT id FROM roads WHERE village_code = :v AND road_class = 'village' AND surface = 'gravel' "
                    "AND status = 'existing' ORDER BY id LIMIT 4"
                ),
                {"v": village},
            ).scalars()
        )


def harden(led: Ledger, road: int, width: float = 4.5) -> int:
    spec = led.catalog.layer("roads")
    return edit_feature(
        led.engine, led.catalog, spec, road, {"surface": "hardened", "status": "completed", "width_m": width}
    )["batch"]


def test_measured_progress_follows_the_registry_history(led: Ledger, roads: list[int]) -> None:
    with led.engine.connect() as conn:
        village = conn.execute(text("SELECT village_code FROM roads WHERE id = :i"), {"i": roads[0]}).scalar_one()
    code, _ = ready(led, [village], subtype="village_road_harden", category="infrastructure")
    library.link_features(led, PLANNER, code, "roads", roads)
    with led.engine.connect() as conn:
        p = load(conn, code)
        before = progress.measure(conn, led, p)
    assert before is not None and before["measured"] == 0 and before["pct"] == 0
    assert before["planned"] == pytest.approx(geodesic_km(led.engine, roads), abs=1e-6)
    t0 = datetime.now(UTC)
    time.sleep(0.05)
    harden(led, roads[0])
    time.sleep(0.05)
    t1 = datetime.now(UTC)
    time.sleep(0.05)
    harden(led, roads[1])
    narrow = harden(led, roads[2], width=3.0)  # hardened and finished, but below 3.5 m: not a built road
    time.sleep(0.05)
    t2 = datetime.now(UTC)
    time.sleep(0.05)
    late = harden(led, roads[3])
    with led.engine.connect() as conn:
        p = load(conn, code)
        at0, at1, at2, now = (progress.measure(conn, led, p, t) for t in (t0, t1, t2, None))
    assert at0["measured"] == 0  # type: ignore[index]
    assert at1["measured"] == pytest.approx(geodesic_km(led.engine, roads[:1]), abs=1e-6)  # type: ignore[index]
    assert at2["measured"] == pytest.approx(geodesic_km(led.engine, roads[:2]), abs=1e-6)  # type: ignore[index]
    assert now["measured"] == pytest.approx(geodesic_km(led.engine, [roads[0], roads[1], roads[3]]), abs=1e-6)  # type: ignore[index]
    assert now["pct"] == round(now["measured"] / now["planned"] * 100, 1)  # type: ignore[index]
    # a rolled-back batch never happened; a date means the end of that day in the county's time zone
    rollback(led.engine, led.catalog, late)
    with led.engine.connect() as conn:
        p = load(conn, code)
        again = progress.measure(conn, led, p)
        yesterday = progress.measure_on(conn, led, p, TODAY - timedelta(days=1))
        today = progress.measure_on(conn, led, p, TODAY)
    assert again["measured"] == pytest.approx(at2["measured"])  # type: ignore[index]
    assert yesterday["measured"] == 0 and today["measured"] == pytest.approx(at2["measured"])  # type: ignore[index]
    assert narrow
    # a progress report takes the measure (of its date) as the certified figure, and keeps it
    report = progress.report_progress(led, ENGINEER, code)
    with led.engine.connect() as conn:
        row = conn.execute(
            text("SELECT measured, measured_pct, certified_pct FROM ledger_progress WHERE id = :i"), {"i": report}
        ).one()
    assert row.certified_pct == row.measured_pct == Decimal(str(today["pct"]))  # type: ignore[index]
    assert row.measured["measured"] == pytest.approx(at2["measured"])  # type: ignore[index]


def test_money_split_by_village_against_an_independent_join(led: Ledger) -> None:
    with led.engine.connect() as conn:
        crossing = (
            conn.execute(
                text(
                    "SELECT r.id FROM roads r JOIN villages v ON ST_Intersects(r.geom, v.geom) WHERE r.road_class IN ('county', 'township') "
                    "GROUP BY r.id HAVING count(*) >= 2 ORDER BY r.id LIMIT 6"
                )
            )
            .scalars()
            .all()
        )
        declared = (
            conn.execute(
                text(
                    "SELECT DISTINCT v.code FROM roads r JOIN villages v ON ST_Intersects(r.geom, v.geom) WHERE r.id = ANY(:i) ORDER BY 1"
                ),
                {"i": list(crossing)},
            )
            .scalars()
            .all()
        )
    assert len(crossing) >= 3
    code, _ = ready(led, list(declared), total="1234567.89", subtype="village_road_harden", category="infrastructure")
    library.link_features(led, PLANNER, code, "roads", list(crossing))
    with led.engine.connect() as conn:
        split = by_village(conn, led, load(conn, code))
        srid = conn.execute(
            text("SELECT 4534 + round((ST_X(ST_Centroid(ST_Extent(geom))) - 75) / 3)::int FROM counties")
        ).scalar_one()
        independent = dict(
            conn.execute(
                text(
                    "SELECT v.code, sum(ST_Length(ST_Transform(ST_Intersection(r.geom, v.geom), :s))) FROM roads r, villages v "
                    "WHERE r.id = ANY(:i) AND ST_Intersects(r.geom, v.geom) GROUP BY v.code"
                ),
                {"i": list(crossing), "s": srid},
            ).all()
        )
    assert split["basis"] == "features"
    rows = {r["code"]: r for r in split["villages"]}
    positive = {k: v for k, v in independent.items() if v > 0.5}
    assert set(rows) == set(positive)
    whole = sum(positive.values())
    for village, metres in positive.items():
        assert rows[village]["weight"] == pytest.approx(metres, rel=2e-3)  # geodesic vs Gauss-Kruger plane
        expected = Decimal("1234567.89") * Decimal(metres / whole)
        assert abs(rows[village]["total"] - expected) < Decimal("3.00")
    assert sum(r["total"] for r in split["villages"]) == Decimal("1234567.89")  # exact to the fen
    for r in split["villages"]:
        assert sum(r["by_source"].values()) == r["total"]
