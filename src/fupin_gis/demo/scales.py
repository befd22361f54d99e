"""Demo sizes: ``plan`` mirrors the brief's planning area; ``county`` and ``province`` are for benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """How big a synthetic county is."""

    name: str
    counties: int
    townships: int
    villages: int
    groups: int
    households: int
    water_points: int
    road_segments: int
    farmland_per_group: float
    spacing_m: float = 2600.0  # distance between neighbouring village seats


SCALES = {
    # The brief: 10 townships, 45 villages, 313 groups, 15,939 households.
    "plan": Scale("plan", 1, 10, 45, 313, 15_939, 900, 1_600, 4.0),
    "county": Scale("county", 1, 250, 5_000, 30_000, 100_000, 2_000, 200_000, 1.0),
    "province": Scale("province", 120, 2_500, 50_000, 300_000, 1_000_000, 20_000, 2_000_000, 0.25),
}

# Real place for the plan scale: 通江县 (Bazhong, Sichuan), around 107.25°E 31.91°N.
ORIGIN_LONLAT = (107.25, 31.91)
# CGCS2000 / 3-degree Gauss-Kruger CM 108E: the metric CRS the generator works in.
METRIC_EPSG = 4545
PLAN_COUNTY = ("511921", "通江县")
