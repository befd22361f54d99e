"""Administrative layers and the planning area, from the generated world and households."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from fupin_gis.demo.world import Layer, World

# The first plan of the seed: 10 townships, 45 villages, 15,939 households, 62,202 people,
# lifting 4,864 households / 18,981 people out of poverty, 2009–2011.
PLAN_TARGETS = {
    "target_households": 15_939,
    "target_people": 62_202,
    "target_poor_households": 4_864,
    "target_poor_people": 18_981,
}


def admin_layers(world: World, people: Layer, rng: np.random.Generator) -> dict[str, Layer]:
    """Counties, townships, villages, village groups and planning areas."""
    hh = people.frame.assign(poor_members=people.frame["members"] * people.frame["registered_poor"])
    by_village = hh.groupby("village_code").agg(
        households=("code", "size"),
        population=("members", "sum"),
        poor_households=("registered_poor", "sum"),
        poor_people=("poor_members", "sum"),
    )
    v_codes = pd.Index(world.codes["villages"])
    stats = by_village.reindex(v_codes).fillna(0).astype(int)
    g_stats = (
        hh.assign(gcode=hh["village_code"] + hh["group_no"].map("{:03d}".format))
        .groupby("gcode")
        .agg(households=("code", "size"), population=("members", "sum"))
        .reindex(pd.Index(world.codes["village_groups"]))
        .fillna(0)
        .astype(int)
    )
    t_seat_xy = world.township_xy
    layers = {
        "counties": Layer(
            pd.DataFrame({"code": world.codes["counties"], "name": world.names["counties"]}),
            world.county_poly,
            seat=shapely.points(t_seat_xy[world.county_seat]),
        ),
        "townships": Layer(
            pd.DataFrame(
                {
                    "code": world.codes["townships"],
                    "name": world.names["townships"],
                    "kind": ["town" if n.endswith("镇") else "township" for n in world.names["townships"]],
                }
            ),
            world.township_poly,
            seat=shapely.points(t_seat_xy),
        ),
        "villages": Layer(
            pd.DataFrame(
                {
                    "code": world.codes["villages"],
                    "name": world.names["villages"],
                    "kind": ["community" if n.endswith("社区") else "village" for n in world.names["villages"]],
                    "poverty_village": rng.random(world.scale.villages) < 0.6,
                    **{c: stats[c].to_numpy() for c in stats.columns},
                }
            ),
            world.village_poly,
            seat=shapely.points(world.village_xy),
        ),
        "village_groups": Layer(
            pd.DataFrame(
                {
                    "code": world.codes["village_groups"],
                    "name": world.names["village_groups"],
                    "households": g_stats["households"].to_numpy(),
                    "population": g_stats["population"].to_numpy(),
                }
            ),
            world.group_poly,
        ),
    }
    layers["planning_areas"] = _planning_areas(world, stats)
    return layers


def _planning_areas(world: World, stats: pd.DataFrame) -> Layer:
    rows = []
    for c, code in enumerate(world.codes["counties"]):
        members = world.township_county[world.village_township] == c
        sums = stats[members].sum()
        targets = (
            PLAN_TARGETS
            if world.scale.name == "plan"
            else {
                "target_households": int(sums["households"]),
                "target_people": int(sums["population"]),
                "target_poor_households": int(sums["poor_households"]),
                "target_poor_people": int(sums["poor_people"]),
            }
        )
        rows.append(
            {
                "code": f"GHQ-{code}-01",
                "name": f"{world.names['counties'][c]}集中连片扶贫开发规划区",
                "programme": "集中连片扶贫开发三年规划 (2009–2011)",
                "start_year": 2009,
                "end_year": 2011,
                **targets,
            }
        )
    return Layer(pd.DataFrame(rows), world.county_poly.copy())
