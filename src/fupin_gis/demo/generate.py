"""Build every layer of a synthetic county."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from rich.console import Console
from rich.progress import Progress

from fupin_gis.demo import admin, assets
from fupin_gis.demo.roads import build_roads
from fupin_gis.demo.scales import METRIC_EPSG, SCALES
from fupin_gis.demo.world import Layer, World, build_world


@dataclass
class DemoCounty:
    """Every generated layer (geometries in ``epsg``, a metric CRS) and the faults designed in."""

    scale: str
    seed: int
    epsg: int
    world: World
    layers: dict[str, Layer]
    truth: dict = field(default_factory=dict)


def _household_paths(roads: Layer, people: Layer, remote: list[str], rng: np.random.Generator) -> Layer:
    """入户路: short paths from some households to the nearest road, ending inside a piece.

    Households of the remote villages get none: their seats must stay far from every road.
    """
    chance = rng.random(len(people.geom))
    pick = np.flatnonzero((chance < 0.06) & ~people.frame["village_code"].isin(remote).to_numpy())
    tree = shapely.STRtree(roads.geom)
    idx, dist = tree.query_nearest(people.geom[pick], return_distance=True, all_matches=False)
    src, target = pick[idx[0]], idx[1]
    ok = (dist > 15) & (dist < 300)
    src, target = src[ok], target[ok]
    lines = shapely.shortest_line(people.geom[src], roads.geom[target])
    frame = roads.frame.iloc[target].copy().reset_index(drop=True)
    n = len(lines)
    frame["road_class"] = "household"
    frame["surface"] = rng.choice(["hardened", "earth"], n, p=[0.4, 0.6])
    frame["width_m"] = rng.uniform(1.0, 2.0, n).round(1)
    frame["structure"] = None
    frame["name"] = None
    frame["code"] = [f"H{i + 1:06d}" for i in range(n)]
    frame["asset_class"] = "household"
    return Layer(pd.concat([roads.frame, frame], ignore_index=True), np.concatenate([roads.geom, lines]))


def _far_seats(world: World, roads: np.ndarray, remote: list[str]) -> dict[str, float]:
    """Distance (m, in the metric CRS) from each remote village's seat to the nearest road."""
    tree = shapely.STRtree(roads)
    out = {}
    for code in remote:
        seat = shapely.Point(world.village_xy[world.codes["villages"].index(code)])
        out[code] = float(tree.query_nearest(seat, return_distance=True)[1][0])
    return out


def generate(scale: str = "plan", seed: int = 1, progress: Console | None = None) -> DemoCounty:
    """A synthetic county for ``scale`` ('plan', 'county' or 'province'); deterministic per seed."""
    sc = SCALES[scale]
    rng = np.random.default_rng(seed)
    steps = [
        "行政区划 / admin units",
        "道路 / roads",
        "农户 / households",
        "水源 / water",
        "水库 / reservoirs",
        "坡耕地 / farmland",
        "设施 / facilities",
        "电网 / power",
    ]
    with Progress(console=progress, transient=True, disable=progress is None) as bar:
        task = bar.add_task(f"生成 {scale} / generating", total=len(steps))

        def step(i: int) -> None:
            bar.update(task, completed=i, description=steps[min(i, len(steps) - 1)])

        step(0)
        world = build_world(sc, rng)
        step(1)
        roads, truth = build_roads(world, rng)
        step(2)
        people = assets.households(world, rng)
        roads = _household_paths(roads, people, truth["far_villages"], rng)
        layers = admin.admin_layers(world, people, rng)
        layers["roads"] = roads
        layers["households"] = people
        step(3)
        layers["water_points"] = assets.water_points(world, rng)
        layers["water_lines"] = assets.water_lines(world, layers["water_points"], rng)
        step(4)
        layers["reservoirs"] = assets.reservoirs(world, rng)
        step(5)
        layers["slope_farmland"] = assets.slope_farmland(world, rng)
        step(6)
        layers["facilities"] = assets.facilities(world, rng)
        step(7)
        layers["power_lines"] = assets.power_lines(world, rng)
        step(8)
    roads_geom = layers["roads"].geom
    truth["far_seats"] = _far_seats(world, roads_geom, truth["far_villages"])
    layers["roads"] = Layer(
        layers["roads"].frame, shapely.multilinestrings(roads_geom, indices=np.arange(len(roads_geom)))
    )
    return DemoCounty(scale, seed, METRIC_EPSG, world, layers, truth)
