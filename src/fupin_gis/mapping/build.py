"""Build the planner's Folium map from the catalog: one toggleable group per layer, styled and
labelled from ``layers/``, with no resource loaded from outside the app."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import Any

import folium
from branca.element import Element, Figure
from sqlalchemy import Connection, Engine, text

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.db.setup import layer_counts
from fupin_gis.mapping.assets import localise
from fupin_gis.mapping.features import layer_geojson
from fupin_gis.settings import MapSettings

HIDDEN_BY_DEFAULT = {"households"}


def style_function(spec: LayerSpec) -> Callable[[dict], dict[str, Any]]:
    """Leaflet path options for a feature of ``spec``, from the catalog's style."""
    st = spec.style
    base: dict[str, Any] = {
        "color": st.color,
        "weight": st.weight,
        "opacity": 0.9,
        "fillColor": st.fill_color or st.color,
        "fillOpacity": st.fill_opacity if st.kind != "point" else 0.85,
        "dashArray": st.dash,
        "fill": st.kind != "line",
    }
    if st.kind == "point":
        base["radius"] = st.radius
    variants: dict[str, dict[str, Any]] = {}
    for key, value in st.values.items():
        v = dict(base)
        if value.color:
            v["color"] = value.color
            v["fillColor"] = value.fill_color or value.color
        if value.fill_color:
            v["fillColor"] = value.fill_color
        if value.weight is not None:
            v["weight"] = value.weight
        if value.radius is not None:
            v["radius"] = value.radius
        if value.dash is not None:
            v["dashArray"] = value.dash
        variants[key] = v

    def fn(feature: dict) -> dict[str, Any]:
        return variants.get(str(feature["properties"].get("_style")), base)

    return fn


def legend_html(catalog: Catalog, shown: list[LayerSpec]) -> str:
    """A collapsible legend: each layer, and each styled value with its colour."""
    rows = []
    for spec in shown:
        st = spec.style
        swatches = []
        if st.by:
            field = spec.field(st.by)
            labels = {v.key: v.label for v in field.enum_values(catalog)} or {"true": "是", "false": "否"}
            for key, value in st.values.items():
                colour = value.fill_color or value.color or st.color
                swatches.append(f'<span class="sw" style="background:{colour}"></span>{escape(labels.get(key, key))}')
        else:
            swatches.append(f'<span class="sw" style="background:{st.fill_color or st.color}"></span>')
        rows.append(f"<div><b>{escape(spec.label)}</b> {' '.join(swatches)}</div>")
    return (
        '<details id="legend" open><summary>图例 Legend</summary>' + "".join(rows) + "</details>"
        "<style>#legend{position:absolute;bottom:56px;left:10px;z-index:1000;background:#fff;"
        "padding:6px 10px;border-radius:4px;box-shadow:0 1px 5px rgba(0,0,0,.4);font:12px/1.6 "
        "'Noto Sans CJK SC',sans-serif;max-height:45vh;overflow:auto}"
        "#legend .sw{display:inline-block;width:10px;height:10px;margin:0 3px 0 6px;border:1px solid #999}"
        "#title{position:absolute;top:10px;left:54px;z-index:1000;background:#fff;padding:6px 12px;"
        "border-radius:4px;box-shadow:0 1px 5px rgba(0,0,0,.4);font:15px 'Noto Sans CJK SC',sans-serif}"
        ".leaflet-container{background:#f4f1ea}</style>"
    )


ACCESS_STYLE = {
    "connected": ("#1a9850", "通硬化路 / connected"),
    "gap": ("#fdae61", "需硬化 / road to harden"),
    "no_road": ("#d73027", "无路可通 / no road within reach"),
}


def coverage_layer(conn: Connection) -> folium.GeoJson | None:
    """Villages coloured by rule 1 from the latest coverage snapshot (None without one)."""
    rows = conn.execute(
        text(
            "SELECT v.code, v.name, ST_AsGeoJSON(v.geom, 6) AS g, c.result FROM coverage_villages c "
            "JOIN villages v ON v.code = c.code WHERE c.run_id = (SELECT max(id) FROM coverage_runs)"
        )
    ).all()
    if not rows:
        return None
    features = []
    for code, name, geometry, result in rows:
        ra = result["road_access"]
        state = "connected" if ra["connected"] else ("gap" if ra["gap_m"] is not None else "no_road")
        water = result.get("water", {})
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(geometry),
                "properties": {
                    "村": name,
                    "代码": code,
                    "通硬化路": ACCESS_STYLE[state][1],
                    "需硬化(米)": "" if ra["gap_m"] in (None, 0) else round(ra["gap_m"]),
                    "安全饮水户": f"{water.get('households_covered', 0)}/{water.get('households', 0)}",
                    "_state": state,
                },
            }
        )

    def style(feature: dict) -> dict:
        colour = ACCESS_STYLE[feature["properties"]["_state"]][0]
        return {"color": "#555", "weight": 1, "fillColor": colour, "fillOpacity": 0.45}

    fields = ["村", "代码", "通硬化路", "需硬化(米)", "安全饮水户"]
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="coverage",
        style_function=style,
        popup=folium.GeoJsonPopup(fields=fields),
        tooltip=folium.GeoJsonTooltip(fields=["村", "通硬化路"]),
    )


def _basemap(m: folium.Map, settings: MapSettings) -> None:
    if settings.basemap == "xyz" and settings.basemap_url:
        folium.TileLayer(tiles=settings.basemap_url, attr="basemap", name="底图 Basemap").add_to(m)


def build_map(engine: Engine, catalog: Catalog, settings: MapSettings) -> folium.Map:
    """The overview map of every layer."""
    counts = layer_counts(engine, catalog)
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, zoom_start=10, location=(31.9, 107.2))
    _basemap(m, settings)
    shown: list[LayerSpec] = []
    with engine.connect() as conn:
        # Coverage first, so it lies under the layers and their points stay clickable.
        access = coverage_layer(conn)
        if access is not None:
            group = folium.FeatureGroup(name="村通硬化路（最新覆盖分析）Village road access", show=True)
            access.add_to(group)
            group.add_to(m)
        extent = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM counties) s"
            )
        ).one()
        for spec in catalog.ordered():
            n = counts[spec.name]
            too_many = n > settings.embed_limit
            name = f"{spec.label} {spec.en} ({n:,})" + (" — 要素过多，未显示 / too many to draw" if too_many else "")
            group = folium.FeatureGroup(name=name, show=spec.name not in HIDDEN_BY_DEFAULT and not too_many)
            group.add_to(m)
            if too_many or n == 0:
                continue
            data = layer_geojson(conn, catalog, spec)
            labels = [spec.field(f).label for f in spec.style.popup]
            folium.GeoJson(
                data,
                name=spec.name,
                style_function=style_function(spec),
                marker=folium.CircleMarker(radius=spec.style.radius) if spec.style.kind == "point" else None,
                popup=folium.GeoJsonPopup(fields=labels) if labels else None,
                smooth_factor=1.0,
            ).add_to(group)
            shown.append(spec)
    if extent[0] is not None:
        m.fit_bounds([[extent[1], extent[0]], [extent[3], extent[2]]])
    folium.LayerControl(collapsed=False).add_to(m)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.html.add_child(
        Element('<div id="title">扶贫规划地图 <small>fupin-gis</small> <a href="/reports">报表 Reports</a></div>')
    )
    legend = legend_html(catalog, shown)
    if access is not None:
        swatches = "".join(
            f'<span class="sw" style="background:{c}"></span>{escape(label)}' for c, label in ACCESS_STYLE.values()
        )
        legend = legend.replace("</details>", f"<div><b>村通硬化路</b> {swatches}</div></details>", 1)
    root.html.add_child(Element(legend))
    root.header.add_child(
        Element('<meta name="fupin-layers" content="' + ",".join(s.name for s in catalog.ordered()) + '">')
    )
    localise(root)
    return m
