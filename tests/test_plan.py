"""Rule 7: plan versus actual, measured from the map and checked with independent SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.plan import load_plan, measure
from fupin_gis.demo import DemoCounty
from fupin_gis.errors import InvalidInput
from fupin_gis.settings import Settings


def test_shipped_plan_has_the_brief_numbers(catalog: Catalog) -> None:
    plan = load_plan(Settings().coverage.plan_file, catalog)
    targets = {i.key: i.target for i in plan.items}
    assert targets["village_road_harden"] == 270 and targets["hand_pump_wells"] == 1650
    assert targets["central_supply"] == 156 and targets["supply_pipeline"] == 184 and targets["storage_tanks"] == 245
    assert (plan.start_year, plan.end_year) == (2009, 2011)
    assert plan.tranches[0].targets["village_road_harden"] == 54 and plan.tranches[0].targets["hand_pump_wells"] == 330


def test_measured_from_the_map(demo: DemoCounty, conn: Connection, catalog: Catalog) -> None:
    result = measure(conn, load_plan(Settings().coverage.plan_file, catalog), catalog)
    items = {i["key"]: i for i in result["items"]}
    km = conn.execute(
        text(
            "SELECT sum(ST_Length(geom::geography)) / 1000 FROM roads WHERE road_class = 'village' AND surface = 'hardened' AND status = 'completed' AND plan_year BETWEEN 2009 AND 2011"
        )
    ).scalar_one()
    assert items["village_road_harden"]["done"] == pytest.approx(km, abs=0.001)
    assert items["village_road_harden"]["share"] == pytest.approx(km / 270, abs=1e-4)
    wells_2011 = conn.execute(
        text(
            "SELECT count(*) FROM water_points WHERE kind = 'hand_pump_well' AND status = 'completed' AND plan_year = 2011"
        )
    ).scalar_one()
    assert items["hand_pump_wells"]["by_year"]["2011"] == wells_2011
    assert sum(items["hand_pump_wells"]["by_township"].values()) == items["hand_pump_wells"]["done"]
    assert all(len(t) == 9 for t in items["hand_pump_wells"]["by_township"])
    assert items["biogas"]["done"] is None and "no such features" in items["biogas"]["note"]
    tranche = {i["key"]: i for i in result["tranches"][0]["items"]}
    assert tranche["hand_pump_wells"] == {
        "key": "hand_pump_wells",
        "label": "机压井",
        "planned": 330,
        "done": wells_2011,
    }


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        (
            'layer = "water_points"\nmeasure = "count"\nwhere = { kind = ["central_supply"] }',
            'layer = "wells"\nmeasure = "count"',
            "items.central_supply",
        ),
        ('where = { kind = ["storage_tank"] }', 'where = { kind = ["water_tower"] }', "items.storage_tanks"),
        ('where = { kind = ["school"] }', 'where = { colour = ["red"] }', "items.schools"),
        ("targets = { village_road_harden = 54", "targets = { bridges = 3, village_road_harden = 54", "tranches.2011"),
        ('measure = "count"', 'measure = "volume"', "items"),
    ],
)
def test_bad_plan_names_file_and_item(tmp_path: Path, catalog: Catalog, old: str, new: str, where: str) -> None:
    text_ = Settings().coverage.plan_file.read_text("utf-8")
    assert old in text_
    bad = tmp_path / "plan.toml"
    bad.write_text(text_.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        load_plan(bad, catalog)
    assert "plan.toml" in err.value.zh and where in err.value.details["key"]
