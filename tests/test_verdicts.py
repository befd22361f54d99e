"""Which rules a village fails, decided once: the map's tiles and the reports give every village
of a run the same verdicts, and the farmland threshold is one (it was written twice, differently)."""

from __future__ import annotations

import json
from typing import Any

import mapbox_vector_tile
import pytest
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.classes import MAP_RULES, STEEP_LEFT_MU
from fupin_gis.coverage.snapshots import create_run
from fupin_gis.coverage.verdicts import RULES, village_verdicts
from fupin_gis.reports.build import build_report
from fupin_gis.settings import CoverageSettings
from fupin_gis.tiles.mvt import render, tile_ranges


@pytest.fixture(scope="module")
def run(import_engine: Engine, catalog: Catalog) -> dict[str, Any]:
    """One coverage run of the plan-scale demo."""
    return create_run(import_engine, CoverageSettings(), catalog)


def _tile_classes(engine: Engine, catalog: Catalog, run_id: int, zoom: int = 10) -> dict[str, dict[str, Any]]:
    """Per village, the properties the map's coverage tiles carry for run ``run_id``."""
    with engine.connect() as conn:
        box = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM villages) s"
            )
        ).one()
        _, x0, x1, y0, y1 = tile_ranges(tuple(box), zoom, grow=0)[zoom]
        seen: dict[str, dict[str, Any]] = {}
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                data = render(conn, catalog, "coverage", zoom, x, y, run_id)
                for f in mapbox_vector_tile.decode(data).get("coverage", {}).get("features", []):
                    seen[f["properties"]["code"]] = f["properties"]
    return seen


def test_tiles_and_reports_give_every_village_the_same_verdicts(
    import_engine: Engine, catalog: Catalog, run: dict
) -> None:
    tiles = _tile_classes(import_engine, catalog, run["run_id"])
    with import_engine.connect() as conn:
        verdicts = village_verdicts(conn, run["run_id"], None, set())
    assert set(tiles) == set(verdicts) == {v["code"] for v in run["villages"]}
    failed = {rule: 0 for rule in MAP_RULES}
    for code, props in tiles.items():
        for rule, classes in MAP_RULES.items():
            assert (props.get(classes.field) in classes.failing) == verdicts[code][rule], (code, rule)
            failed[rule] += verdicts[code][rule]
    assert failed["road"] and failed["water"] and failed["checks"]  # the run has villages failing
    for rule in ("road", "water", "farmland"):  # the report of one rule lists exactly those villages
        report = build_report(import_engine, catalog, "villages-lacking", run["run_id"], rules=[rule])
        assert {r["code"] for r in report.sections[0].rows} == {c for c, v in verdicts.items() if v[rule]}, rule
    assert set(RULES) == {*MAP_RULES, "facilities"}


def test_farmland_threshold_is_one(import_engine: Engine, catalog: Catalog, run: dict) -> None:
    """Steep farmland left to convert: 0.04 mu is converted, 0.06 mu is not, an unknown converted
    area counts as none converted — on the map, in its tiles and in the report alike."""
    cases = {  # left to convert -> (steep_mu, steep_converted_mu)
        "converted": (10.0, 10.0 - (STEEP_LEFT_MU - 0.01)),
        "unconverted": (10.0, 10.0 - (STEEP_LEFT_MU + 0.01)),
        "unknown": (10.0, None),
        "none": (0.0, 0.0),
    }
    codes = sorted(v["code"] for v in run["villages"])[: len(cases)]
    expected = dict(zip(codes, cases, strict=True))
    with import_engine.begin() as conn:
        new = conn.execute(
            text(
                "INSERT INTO coverage_runs (data_version, rules, summary, network, harden_plan, plan) "
                "SELECT data_version, rules, summary, network, harden_plan, plan FROM coverage_runs WHERE id = :r "
                "RETURNING id"
            ),
            {"r": run["run_id"]},
        ).scalar_one()
        for v in run["villages"]:
            if v["code"] in expected:
                steep, converted = cases[expected[v["code"]]]
                v = {**v, "farmland": {**(v.get("farmland") or {}), "steep_mu": steep, "steep_converted_mu": converted}}
            conn.execute(
                text(
                    "INSERT INTO coverage_villages (run_id, code, name, result) VALUES (:r, :c, :n, CAST(:j AS jsonb))"
                ),
                {"r": new, "c": v["code"], "n": v["name"], "j": json.dumps(v, ensure_ascii=False)},
            )
    tiles = _tile_classes(import_engine, catalog, new)
    classes = {code: tiles[code][MAP_RULES["farmland"].field] for code in codes}
    assert classes == {c: {"unknown": "unconverted"}.get(k, k) for c, k in expected.items()}
    assert tiles[codes[1]]["steep_left"] == pytest.approx(0.1) and tiles[codes[2]]["steep_left"] == 10.0
    report = build_report(import_engine, catalog, "villages-lacking", new, rules=["farmland"])
    listed = {r["code"]: r for r in report.sections[0].rows}
    assert {c for c in codes if c in listed} == {codes[1], codes[2]}
    assert listed[codes[1]]["steep_left"] == pytest.approx(0.1) and listed[codes[2]]["steep_left"] == 10.0
