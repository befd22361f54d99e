"""Build the planner's Folium map from the catalog: one toggleable vector tile layer per layer, styled
and labelled from ``layers/``, with no resource loaded from outside the app."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from typing import Any, NamedTuple
from urllib.parse import urlencode

import folium
from branca.element import Element, Figure
from folium.map import FitBounds
from folium.plugins import VectorGridProtobuf
from folium.template import Template
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.coverage.classes import MAP_RULES
from fupin_gis.coverage.snapshots import data_changed_since
from fupin_gis.db.setup import layer_counts
from fupin_gis.mapping.assets import localise
from fupin_gis.settings import MapSettings

HIDDEN_BY_DEFAULT = {"households"}
DENSE_POLYGONS = 5_000


def style_variants(spec: LayerSpec) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Leaflet path options of ``spec`` from the catalog: the base, and one per styled value."""
    st = spec.style
    base: dict[str, Any] = {
        "color": st.color,
        "weight": st.weight,
        "opacity": 0.9,
        "fillColor": st.fill_color or st.color,
        "fillOpacity": st.fill_opacity if st.kind != "point" else 0.85,
        "fill": st.kind != "line",
    }
    if st.dash:
        base["dashArray"] = st.dash
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
    return base, variants


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
        ".leaflet-container{background:#f4f1ea}"
        ".leaflet-tile-container canvas{pointer-events:none!important}"
        "#search input{width:340px;margin-top:4px;padding:3px 6px;font-size:13px}"
        "#search-results{max-height:300px;overflow:auto;font-size:13px}"
        "#search-results .hit{padding:2px 4px;cursor:pointer}#search-results .hit:hover{background:#e3f2fd}"
        "#search-results small{color:#757575}"
        "#title .fresh{font-size:12px;color:#616161;margin-top:2px}#title .stale{color:#c62828}</style>"
    )


def freshness(engine: Engine, run: int | None) -> str:
    """A line under the title: which run colours the villages, and whether the data changed since."""
    if run is None:
        return (
            '<div class="fresh">还没有覆盖分析 / no coverage run yet — <a href="/reports#freshness">运行 run</a></div>'
        )
    with engine.connect() as conn:
        created = conn.execute(text("SELECT created_at FROM coverage_runs WHERE id = :r"), {"r": run}).scalar_one()
        changed = data_changed_since(conn, run)
    line = f"覆盖分析：运行 {run}，{created:%Y-%m-%d %H:%M} / coverage run {run}"
    if changed:
        line += (
            f' · <b class="stale">之后数据已更新 {changed} 次，结果可能过时 / data changed since</b> '
            '<a href="/reports#freshness">重新运行 run again</a>'
        )
    return f'<div class="fresh">{line}</div>'


def coverage_legend() -> str:
    """The villages' colours by the rule chosen in its list (map.js switches the rows and the map)."""
    options = "".join(
        f'<option value="{name}">{escape(r.label)} {escape(r.en)}</option>' for name, r in MAP_RULES.items()
    )
    rows = "".join(
        f'<div class="rule" data-rule="{name}"{"" if name == "road" else " hidden"}>'
        + "".join(f'<span class="sw" style="background:{c}"></span>{escape(label)}' for c, label in r.classes.values())
        + "</div>"
        for name, r in MAP_RULES.items()
    )
    return (
        '<div id="coverage-legend" style="border-bottom:1px solid #ddd;padding-bottom:3px;margin-bottom:3px">'
        "<b>村按规则着色 / villages by</b> "
        f'<select id="coverage-rule" title="着色规则 / colour villages by">{options}</select>{rows}</div>'
    )


class TileLayer(VectorGridProtobuf):
    """A vector tile layer of the app's ``/tiles`` whose features open a popup labelled from the catalog."""

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }} = L.vectorGrid.protobuf({{ this.url|tojson }}, {{ this.options }});
        fupinRegister({{ this.layer|tojson }}, {{ this.get_name() }}, {{ this._parent.get_name() }});
        {%- endmacro %}
        """
    )

    def __init__(
        self,
        layer: str,
        name: str,
        show: bool,
        query: dict[str, Any] | None = None,
        min_zoom: int = 0,
        bounds: list | None = None,
        grid: str = "w",
    ) -> None:
        # Web Mercator: 512-pixel tiles one zoom down (a quarter of the requests); the CGCS2000 grid
        # of 天地图 "_c" (Leaflet EPSG:4326) keeps 256-pixel tiles.
        size = '"tileSize": 512, "zoomOffset": -1, ' if grid == "w" else ""
        query = {**(query or {}), **({"grid": grid} if grid != "w" else {})}
        options = (
            '{"rendererFactory": L.canvas.tile, "interactive": true, "maxNativeZoom": 18, '
            f'"minZoom": {min_zoom}, "bounds": {json.dumps(bounds)}, {size}'
            '"getFeatureId": fupinFeatureId, '
            f'"vectorTileLayerStyles": {{{json.dumps(layer)}: fupinStyle({json.dumps(layer)})}}}}'
        )
        url = f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt" + (f"?{urlencode(query)}" if query else "")
        super().__init__(url, name, options, show=show)
        self.layer = layer


class LayerSwitch(folium.FeatureGroup):
    """A catalog layer's entry in the layer control: the layer itself is drawn by ``AllLayers``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup({});
        fupinGroup({{ this.layer|tojson }}, {{ this.get_name() }}, {{ this.min_zoom }});
        {% endmacro %}
        """
    )

    def __init__(self, layer: str, name: str, show: bool, min_zoom: int = 0) -> None:
        super().__init__(name=name, show=show)
        self.layer = layer
        self.min_zoom = min_zoom


class AllLayers(VectorGridProtobuf):
    """One vector tile layer for every catalog layer switched on: one request per tile, not one per layer."""

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }} = L.vectorGrid.protobuf("", {{ this.options }});
        fupinAll({{ this.get_name() }}, {{ this._parent.get_name() }}, {{ this.query|tojson }});
        {%- endmacro %}
        """
    )

    def __init__(self, layers: list[str], bounds: list | None, grid: str) -> None:
        size = '"tileSize": 512, "zoomOffset": -1, ' if grid == "w" else ""
        styles = ", ".join(f"{json.dumps(name)}: fupinStyle({json.dumps(name)})" for name in layers)
        options = (
            '{"rendererFactory": L.canvas.tile, "interactive": true, "maxNativeZoom": 18, '
            f'"bounds": {json.dumps(bounds)}, {size}'
            '"getFeatureId": fupinFeatureId, '
            f'"vectorTileLayerStyles": {{{styles}}}}}'
        )
        super().__init__("", "all", options, overlay=False, control=False, show=False)
        self.query = f"&grid={grid}" if grid != "w" else ""


def _popup_fields(spec: LayerSpec, catalog: Catalog) -> list[dict[str, Any]]:
    fields = []
    for name in spec.style.popup:
        f = spec.field(name)
        entry: dict[str, Any] = {"name": name, "label": f.label, "en": f.en, "type": f.type}
        values = f.enum_values(catalog)
        if values:
            entry["labels"] = {v.key: v.label for v in values}
            entry["labels_en"] = {v.key: v.en for v in values}
        fields.append(entry)
    return fields


def map_config(catalog: Catalog, run: int | None) -> dict[str, Any]:
    """What the page's script needs: per layer its label, styles and popup fields (window.FUPIN)."""
    layers: dict[str, Any] = {}
    for spec in catalog.ordered():
        base, variants = style_variants(spec)
        layers[spec.name] = {
            "label": spec.label,
            "en": spec.en,
            "style": {"base": base, "values": variants},
            "popup": _popup_fields(spec, catalog),
        }
    if run is not None:
        base = {"color": "#555", "weight": 1, "fill": True, "fillOpacity": 0.45, "fillColor": "#bbb"}
        layers["coverage"] = {
            "label": "覆盖分析",
            "en": "Coverage",
            "style": {"base": base, "values": {}},
            # per rule: the tile property holding the village's class, and a style per class
            "rules": {
                name: {
                    "field": rule.field,
                    "values": {k: {**base, "fillColor": colour} for k, (colour, _) in rule.classes.items()},
                }
                for name, rule in MAP_RULES.items()
            },
            "popup": [
                {"name": "name", "label": "村", "en": "Village"},
                {"name": "code", "label": "代码", "en": "Code"},
                *(
                    {
                        "name": rule.field,
                        "label": rule.label,
                        "en": rule.en,
                        "labels": {k: label for k, (_, label) in rule.classes.items()},
                    }
                    for rule in MAP_RULES.values()
                ),
                {"name": "gap_m", "label": "需硬化(米)", "en": "Road to harden (m)"},
                {"name": "hh_water", "label": "安全饮水户", "en": "Households with safe water"},
                {"name": "hh", "label": "户数", "en": "Households"},
                {"name": "pop_2km", "label": "2公里内人口", "en": "People within 2 km"},
                {"name": "pop", "label": "人口", "en": "People"},
                {"name": "steep_left", "label": "未退耕坡耕地(亩)", "en": "Steep farmland not converted (mu)"},
            ],
        }
    return {"layers": layers, "zoomHint": "放大查看详情 / zoom in for details"}


def _basemap(m: folium.Map, settings: MapSettings) -> None:
    if settings.basemap == "xyz" and settings.basemap_url:
        folium.TileLayer(tiles=settings.basemap_url, attr="basemap", name="底图 Basemap").add_to(m)
    elif settings.basemap == "tianditu" and settings.tianditu_key:
        grid = settings.tianditu_grid
        # the "_c" grid's level 1 is Leaflet EPSG:4326's zoom 0: a zoom offset of 1
        extra: dict[str, Any] = {"zoomOffset": 1} if grid == "c" else {}
        for layer, name in (("vec", "天地图 矢量"), ("cva", "天地图 注记")):
            url = (
                f"https://t{{s}}.tianditu.gov.cn/{layer}_{grid}/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                f"&LAYER={layer}&STYLE=default&TILEMATRIXSET={grid}&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
                f"&TILECOL={{x}}&tk={settings.tianditu_key}"
            )
            tiles = folium.TileLayer(
                tiles=url, attr="天地图", name=name, subdomains="01234567", overlay=layer == "cva", **extra
            )
            tiles.add_to(m)


def fit(m: folium.Map, bounds: list) -> None:
    """Open ``m`` on ``bounds`` at once: folium's animated fitBounds would have the layers added meanwhile
    load their tiles at the initial zoom first, then again at the fitted one."""
    fb = FitBounds(bounds)
    fb.options["animate"] = False
    fb.add_to(m)


class HomeLayer(NamedTuple):
    """A catalog layer on the map's first view."""

    spec: LayerSpec
    features: int  # how many the layer holds
    show: bool  # switched on when the map opens
    min_zoom: int  # drawn from this zoom on (0: at every zoom)


@dataclass
class HomeView:
    """What the map opens on: the tile grid, the newest coverage run, the data's bounds (lat/lon) and
    the catalog's layers (``HomeLayer``)."""

    grid: str
    run: int | None
    bounds: list | None
    layers: list[HomeLayer]

    def first_tiles(self) -> list[str]:
        """The tile layers the first view asks for: the coverage run's and every layer switched on."""
        shown = [h.spec.name for h in self.layers if h.features and h.show and not h.min_zoom]
        return (["coverage"] if self.run is not None else []) + shown


def home_view(engine: Engine, catalog: Catalog, settings: MapSettings) -> HomeView:
    """The map's first view, from the data (see ``HomeView``)."""
    counts = layer_counts(engine, catalog)
    grid = "c" if settings.basemap == "tianditu" and settings.tianditu_grid == "c" else "w"
    with engine.connect() as conn:
        run = conn.execute(text("SELECT max(id) FROM coverage_runs")).scalar_one()
        extent = conn.execute(
            text(
                "SELECT ST_XMin(e) AS xmin, ST_YMin(e) AS ymin, ST_XMax(e) AS xmax, ST_YMax(e) AS ymax "
                "FROM (SELECT ST_Extent(geom) AS e FROM counties) s"
            )
        ).one()
    bounds = None if extent.xmin is None else [[extent.ymin, extent.xmin], [extent.ymax, extent.xmax]]
    layers = []
    for spec in catalog.ordered():
        n = counts[spec.name]
        # Dense polygon layers (slope farmland, village groups of a county) are drawn from zoom 12:
        # at the county's zoom they would be tens of thousands of specks and slow the first view.
        dense = spec.style.kind == "polygon" and n > DENSE_POLYGONS
        # with a coverage run the villages are drawn coloured by it: the plain layer starts hidden
        show = spec.name not in HIDDEN_BY_DEFAULT and not (run is not None and spec.name == "villages")
        layers.append(HomeLayer(spec, n, show, 12 if dense else 0))
    return HomeView(grid, run, bounds, layers)


def build_map(engine: Engine, catalog: Catalog, settings: MapSettings) -> folium.Map:
    """The planner's map: every layer as vector tiles, so the page stays small at any data size."""
    view = home_view(engine, catalog, settings)
    grid, run, bounds = view.grid, view.run, view.bounds
    crs = "EPSG4326" if grid == "c" else "EPSG3857"
    # without data, China; with data, its bounds (fitted below)
    centre = (35.0, 105.0) if bounds is None else ((bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2)
    m = folium.Map(tiles=None, control_scale=True, zoom_start=4 if bounds is None else 9, location=centre, crs=crs)
    _basemap(m, settings)
    if bounds is not None:  # before the layers: their tiles load at the final zoom only
        fit(m, bounds)
    if run is not None:
        # Coverage first, so it lies under the layers and their features stay clickable.
        TileLayer(
            "coverage", "覆盖分析（最新一次）Coverage, newest run", True, {"run": run}, bounds=bounds, grid=grid
        ).add_to(m)
    shown: list[LayerSpec] = []
    for layer in view.layers:
        spec, zoom = layer.spec, layer.min_zoom
        name = f"{spec.label} {spec.en} ({layer.features:,})" + (f" — 放大后显示 / from zoom {zoom}" if zoom else "")
        LayerSwitch(spec.name, name, layer.show, zoom).add_to(m)
        if layer.features:
            shown.append(spec)
    AllLayers([spec.name for spec in catalog.ordered()], bounds, grid).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.html.add_child(
        Element(
            '<div id="title">扶贫规划地图 <small>fupin-gis</small> <a href="/reports">报表 Reports</a> '
            '<a href="/upload">上传 Upload</a> <a href="/batches">批次 Batches</a> <a href="/topology">路网检查 Roads check</a> '
            '<a href="/login" id="signout">退出 Sign out</a> '
            '<button type="button" id="lang" title="中文 / English">EN</button>'
            + freshness(engine, run)
            + '<div id="search"><input id="search-q" type="search" autocomplete="off" '
            'placeholder="搜索村、乡镇（名称或代码）/ search a village or township">'
            '<div id="search-results"></div></div></div>'
        )
    )
    legend = legend_html(catalog, shown)
    if run is not None:
        legend = legend.replace("</summary>", "</summary>" + coverage_legend(), 1)  # first: what the map is about
    root.html.add_child(Element(legend))
    config = json.dumps(map_config(catalog, run), ensure_ascii=False).replace("</", "<\\/")
    root.header.add_child(
        Element(
            '<meta name="fupin-layers" content="' + ",".join(s.name for s in catalog.ordered()) + '">'
            f"<script>window.FUPIN = {config};</script>"
            '<script src="/static/fupin.js"></script><script src="/static/map.js"></script>'
        )
    )
    localise(root)
    return m
