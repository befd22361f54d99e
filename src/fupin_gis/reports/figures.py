"""Figures (matplotlib) and geometry layers (GeoPackage) of the reports.

Each ``*_figure`` function draws a matplotlib figure from the report's data (a report keeps it
as a ``Chart``, so a test reads the bars it draws); ``embed`` turns one into HTML (SVG text, or
a PNG for maps of many polygons).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import geopandas as gpd
import matplotlib
import pandas as pd
from sqlalchemy import Engine, text

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fupin_gis.auth.scope import is_county, township_of  # noqa: E402
from fupin_gis.coverage.verdicts import RULES, Verdicts  # noqa: E402
from fupin_gis.reports.model import Chart, Section  # noqa: E402

CJK = ["Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
GREEN, RED, GREY, BLUE = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0"


def _style() -> None:
    have = {f.name for f in font_manager.fontManager.ttflist}
    plt.rcParams["font.sans-serif"] = [f for f in CJK if f in have] or ["DejaVu Sans"]
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False
    plt.rcParams["svg.fonttype"] = "none"  # text stays text: searchable and selectable in the PDF


def embed(chart: Chart) -> str:
    """The chart as HTML: inline SVG (text stays text), or a PNG image for a raster chart."""
    _style()
    figure = chart.draw()
    return _png(figure) if chart.raster else _svg(figure)


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=160, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="map" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _nothing(message: str = "无数据 / no data") -> Figure:
    """A small figure saying there is nothing to draw (an area or scope without villages)."""
    fig, ax = plt.subplots(figsize=(8, 1.2))
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="#616161")
    ax.set_axis_off()
    return fig


def access_figure(engine: Engine, run: dict[str, Any], area: str | None) -> Figure:
    """Villages coloured by road access in the run, township borders, and the roads to harden."""
    _style()
    connected = {v["code"]: v["road_access"]["connected"] for v in run["villages"]}
    gaps = sorted(
        {
            r
            for v in run["villages"]
            for r in (v["road_access"]["gap_segments"] or [])
            if not v["road_access"]["connected"]
        }
    )
    like = (area or "") + "%"
    with engine.connect() as conn:
        tol = (
            conn.execute(
                text(
                    "SELECT greatest(ST_XMax(e) - ST_XMin(e), ST_YMax(e) - ST_YMin(e)) / 2000 "
                    "FROM (SELECT ST_Extent(geom) AS e FROM villages WHERE code LIKE :a) x"
                ),
                {"a": like},
            ).scalar_one()
            or 0.0
        )
        villages = gpd.read_postgis(
            text("SELECT code, ST_SimplifyPreserveTopology(geom, :t) AS geom FROM villages WHERE code LIKE :a"),
            conn,
            params={"a": like, "t": tol},
        )
        towns = gpd.read_postgis(
            text(
                "SELECT code, name, ST_SimplifyPreserveTopology(geom, :t) AS geom, seat FROM townships WHERE code LIKE :a"
            ),
            conn,
            params={"a": township_of(area or "") + "%", "t": tol},
        )
        roads = gpd.read_postgis(text("SELECT id, geom FROM roads WHERE id = ANY(:ids)"), conn, params={"ids": gaps})
    fig, ax = plt.subplots(figsize=(8, 8))
    if len(villages):
        state = villages["code"].map(connected)
        colours = state.map({True: GREEN, False: RED}).fillna(GREY)
        villages.plot(ax=ax, color=colours, edgecolor="white", linewidth=0.2, alpha=0.55)
    if len(towns):
        towns.boundary.plot(ax=ax, color="#424242", linewidth=0.8)
        if len(towns) <= 60:
            for name, p in zip(towns["name"], towns.geometry.representative_point(), strict=True):
                ax.annotate(name, (p.x, p.y), ha="center", fontsize=7, color="#212121")
    if len(roads):
        roads.plot(ax=ax, color="#6a1b9a", linewidth=1.2)
    handles = [
        matplotlib.patches.Patch(color=GREEN, alpha=0.55, label="通硬化路 connected"),
        matplotlib.patches.Patch(color=RED, alpha=0.55, label="不通 not connected"),
        matplotlib.lines.Line2D([], [], color="#6a1b9a", linewidth=1.5, label="需硬化路段 road to harden"),
    ]
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.9)
    ax.set_axis_off()
    return fig


def lacking_figure(verdicts: dict[str, Verdicts], names: dict[str, str]) -> Figure:
    """Villages lacking each rule, by township (horizontal bars; ``verdicts``: per village of the
    report's area, the rules it fails)."""
    _style()
    counts: dict[str, dict[str, int]] = {}
    for code, lacks in sorted(verdicts.items()):
        town = counts.setdefault(township_of(code), dict.fromkeys(RULES, 0))
        for r, bad in lacks.items():
            town[r] += bad
    if not counts:
        return _nothing()
    frame = pd.DataFrame(counts).T.sort_index()
    frame.index = [names.get(c, c) for c in frame.index]
    frame.columns = [RULES[c].zh for c in frame.columns]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(frame) + 1.2)))
    frame.iloc[::-1].plot.barh(ax=ax, width=0.8, colormap="tab10")
    ax.set_xlabel("村数 / villages")
    ax.legend(fontsize=7, ncols=3, loc="lower right")
    ax.tick_params(labelsize=7)
    return fig


def summary_figure(units: list[dict[str, Any]]) -> Figure:
    """Share of villages with road access, households with safe water, and the RAI, by township
    (``units``: the summary's rows keyed by column)."""
    _style()
    towns = [u for u in units if not is_county(u["code"])]
    if not towns:
        return _nothing()
    frame = pd.DataFrame(
        {
            "通硬化路村 road": [u["conn_pct"] or 0 for u in towns],
            "安全饮水户 water": [u["water_pct"] or 0 for u in towns],
            "RAI": [u["rai"] or 0 for u in towns],
        },
        index=[u["name"] or u["code"] for u in towns],
    )
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.3 * len(frame) + 1.2)))
    (frame.iloc[::-1] * 100).plot.barh(ax=ax, width=0.8, color=[GREEN, BLUE, "#ef6c00"])
    ax.set_xlabel("%")
    ax.set_xlim(0, 100)
    ax.legend(fontsize=7, loc="lower right")
    ax.tick_params(labelsize=7)
    return fig


def plan_figure(plan: dict[str, Any]) -> Figure:
    """Share done of each plan item that the registry measures."""
    _style()
    items = [i for i in plan["items"] if i["share"] is not None]
    if not items:
        return _nothing()
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(items) + 1)))
    labels = [i["label"] for i in items][::-1]
    shares = [min(i["share"], 2.0) * 100 for i in items][::-1]
    ax.barh(labels, shares, color=[GREEN if s >= 100 else "#ef6c00" for s in shares])
    ax.axvline(100, color="#424242", linewidth=0.8)
    for y, s in enumerate(shares):
        ax.annotate(f"{s:.0f}%", (s, y), xytext=(3, -3), textcoords="offset points", fontsize=7)
    ax.set_xlabel("完成比例 / share done (%)")
    ax.tick_params(labelsize=7)
    return fig


def village_layers(engine: Engine, run: dict[str, Any], section: Section, srid: int) -> dict[str, gpd.GeoDataFrame]:
    """Villages of the report as polygons with its columns, and the roads to harden as lines (``srid``:
    the storage CRS, for layers that come out empty)."""
    frame = section.frame()
    codes = list(frame["code"])
    wanted = set(codes)
    gap_rows = [
        {"vil_code": v["code"], "village": v["name"], "road_id": road}
        for v in run["villages"]
        if v["code"] in wanted and not v["road_access"]["connected"]
        for road in v["road_access"]["gap_segments"] or []
    ]
    plan = run.get("harden_plan") or {}
    with engine.connect() as conn:
        geoms = gpd.read_postgis(
            text("SELECT code, geom FROM villages WHERE code = ANY(:c)"), conn, params={"c": codes}
        )
        ids = sorted({g["road_id"] for g in gap_rows} | set(plan.get("segments") or []))
        roads = gpd.read_postgis(
            text(
                "SELECT id AS road_id, code AS road_code, name AS road_name, surface, width_m, geom FROM roads WHERE id = ANY(:i)"
            ),
            conn,
            params={"i": ids},
        )
    villages = gpd.GeoDataFrame(frame.merge(geoms, on="code", how="left"), geometry="geom", crs=geoms.crs or srid)
    gaps = pd.DataFrame(gap_rows, columns=["vil_code", "village", "road_id"]).merge(roads, on="road_id", how="inner")
    gaps = gpd.GeoDataFrame(gaps, geometry="geom", crs=villages.crs)
    gaps["length_m"] = gaps.to_crs(gaps.estimate_utm_crs()).length.round(1) if len(gaps) else []
    layers = {"villages": villages, "road_gaps": gaps}
    if plan.get("segments") and len(roads):
        joint = roads[roads["road_id"].isin(set(plan["segments"]))].copy()
        joint["length_m"] = joint.to_crs(joint.estimate_utm_crs()).length.round(1)
        layers["harden_plan"] = gpd.GeoDataFrame(joint, geometry="geom", crs=villages.crs)
    return layers


def unit_layers(engine: Engine, section: Section, srid: int) -> dict[str, gpd.GeoDataFrame]:
    """Townships and counties of the summary as polygons with its columns (``srid``: the storage CRS)."""
    frame = section.frame()
    with engine.connect() as conn:
        geoms = gpd.read_postgis(
            text(
                "SELECT code, geom FROM townships WHERE code = ANY(:c) UNION ALL SELECT code, geom FROM counties WHERE code = ANY(:c)"
            ),
            conn,
            params={"c": list(frame["code"])},
        )
    units = gpd.GeoDataFrame(frame.merge(geoms, on="code", how="left"), geometry="geom", crs=geoms.crs or srid)
    return {"units": units}
