"""OGC API Tiles documents: the WebMercatorQuad tile matrix set, a layer's tilesets, TileJSON 3.0
and a MapLibre style from the catalog's style (the same colours, widths and dashes as our map).

The tiles themselves are the map's (:mod:`fupin_gis.tiles`): rendered by ``ST_AsMVT`` under the
caller's scope and cached per scope; in OGC order the address is ``{tileMatrix}/{tileRow}/{tileCol}``
(z/y/x).
"""

from __future__ import annotations

import math
from typing import Any

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.mapping.build import style_variants
from fupin_gis.ogc.documents import JSON, MVT, link
from fupin_gis.tiles.mvt import DETAIL_ZOOM, MAX_ZOOM

TMS = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MERCATOR = "http://www.opengis.net/def/crs/EPSG/0/3857"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
HALF = math.pi * 6378137.0
REL_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
GEOMETRY_DIMENSION = {"Point": 0, "MultiLineString": 1, "MultiPolygon": 2}


def tile_matrix_set() -> dict[str, Any]:
    """The WebMercatorQuad tile matrix set (OGC 2D TMS 2.0), zooms 0 to the renderer's maximum."""
    matrices = []
    for z in range(MAX_ZOOM + 1):
        cell = 2 * HALF / 256 / (1 << z)
        matrices.append(
            {
                "id": str(z),
                "scaleDenominator": cell / 0.00028,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-HALF, HALF],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": 1 << z,
                "matrixHeight": 1 << z,
            }
        )
    return {
        "id": TMS,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": MERCATOR,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    }


def tile_matrix_sets(base: str) -> dict[str, Any]:
    """The list of tile matrix sets (one)."""
    return {
        "tileMatrixSets": [
            {
                "id": TMS,
                "title": "Google Maps Compatible for the World",
                "uri": TMS_URI,
                "links": [link(f"{base}/tileMatrixSets/{TMS}", "self", JSON, TMS)],
            }
        ]
    }


def _template(base: str, spec: LayerSpec) -> str:
    return f"{base}/collections/{spec.name}/tiles/{TMS}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"


def tileset(spec: LayerSpec, base: str, extent: list[float] | None) -> dict[str, Any]:
    """A layer's vector tileset in WebMercatorQuad."""
    here = f"{base}/collections/{spec.name}/tiles/{TMS}"
    body: dict[str, Any] = {
        "title": f"{spec.label} / {spec.en}",
        "dataType": "vector",
        "crs": MERCATOR,
        "tileMatrixSetURI": TMS_URI,
        "links": [
            link(here, "self", JSON, "瓦片集 / tileset"),
            link(f"{base}/tileMatrixSets/{TMS}", REL_SCHEME, JSON, TMS),
            {**link(_template(base, spec), "item", MVT, "矢量瓦片 / vector tiles"), "templated": True},
            link(f"{here}/tilejson.json", "describedby", JSON, "TileJSON 3.0"),
        ],
        "layers": [
            {
                "id": spec.name,
                "title": spec.label,
                "dataType": "vector",
                "geometryDimension": GEOMETRY_DIMENSION[spec.geometry],
                "minTileMatrix": "0",
                "maxTileMatrix": str(MAX_ZOOM),
            }
        ],
    }
    if extent is not None:
        body["boundingBox"] = {"lowerLeft": extent[:2], "upperRight": extent[2:], "crs": CRS84}
    return body


def tilesets(spec: LayerSpec, base: str, extent: list[float] | None) -> dict[str, Any]:
    """The list of a layer's tilesets (one)."""
    one = tileset(spec, base, extent)
    return {"tilesets": [{k: v for k, v in one.items() if k != "layers"}]}


def tilejson(spec: LayerSpec, base: str, extent: list[float] | None) -> dict[str, Any]:
    """TileJSON 3.0.0 of a layer: the tile URL, zooms, bounds and the properties its tiles carry."""
    url = f"{base}/collections/{spec.name}/tiles/{TMS}/{{z}}/{{y}}/{{x}}"
    fields = {"_s": f"样式字段 / styled by {spec.style.by}" if spec.style.by else "样式 / style"}
    fields |= {
        name: f"{spec.field(name).label}（{DETAIL_ZOOM} 级起 / from zoom {DETAIL_ZOOM}）" for name in spec.style.popup
    }
    bounds = extent or [-180.0, -85.0511, 180.0, 85.0511]
    return {
        "tilejson": "3.0.0",
        "name": spec.label,
        "description": spec.en,
        "tiles": [url],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 10],
        "vector_layers": [
            {"id": spec.name, "description": spec.label, "minzoom": 0, "maxzoom": MAX_ZOOM, "fields": fields}
        ],
    }


def _by_value(base: dict[str, Any], variants: dict[str, dict[str, Any]], key: str) -> Any:
    """A MapLibre expression choosing ``key`` of the style value's variant (the base's otherwise)."""
    cases: list[Any] = []
    for value, options in variants.items():
        if options.get(key) != base.get(key):
            cases += [value, options.get(key)]
    if not cases:
        return base.get(key)
    return ["match", ["get", "_s"], *cases, base.get(key)]


def _dashes(text: str | None, width: float) -> list[float] | None:
    """A Leaflet dash array (pixels) as MapLibre's (line widths)."""
    if not text:
        return None
    return [round(float(p) / max(width, 0.5), 2) for p in text.replace(",", " ").split()]


def _line_layers(spec: LayerSpec, base: dict[str, Any], variants: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One line layer per dash pattern (MapLibre cannot choose a dash by value)."""
    groups: dict[str | None, list[str]] = {}
    for value, options in variants.items():
        groups.setdefault(options.get("dashArray"), []).append(value)
    groups.setdefault(base.get("dashArray"), [])
    styled = {v for values in groups.values() for v in values}
    layers = []
    for i, (dash, values) in enumerate(groups.items()):
        if dash == base.get("dashArray"):  # the base pattern: its values and every value not styled
            others = sorted(styled - set(values))
            where: Any = ["!", ["in", ["get", "_s"], ["literal", others]]] if others else None
        else:
            where = ["in", ["get", "_s"], ["literal", values]]
        paint: dict[str, Any] = {
            "line-color": _by_value(base, variants, "color"),
            "line-width": _by_value(base, variants, "weight"),
            "line-opacity": base["opacity"],
        }
        dashes = _dashes(dash, float(base["weight"]))
        if dashes:
            paint["line-dasharray"] = dashes
        layer = {"id": f"{spec.name}-line-{i}", "type": "line", "source": "fupin", "source-layer": spec.name}
        layers.append(layer | {"paint": paint} | ({"filter": where} if where is not None else {}))
    return layers


def style(spec: LayerSpec, catalog: Catalog, base_url: str) -> dict[str, Any]:
    """A MapLibre style (version 8) drawing the layer as our map does, from the catalog's style."""
    base, variants = style_variants(spec)
    source = {"type": "vector", "url": f"{base_url}/collections/{spec.name}/tiles/{TMS}/tilejson.json"}
    layers: list[dict[str, Any]] = []
    kind = spec.style.kind
    if kind == "polygon":
        fill = {"fill-color": _by_value(base, variants, "fillColor"), "fill-opacity": base["fillOpacity"]}
        layers.append(
            {"id": f"{spec.name}-fill", "type": "fill", "source": "fupin", "source-layer": spec.name, "paint": fill}
        )
    if kind in ("polygon", "line"):
        layers += _line_layers(spec, base, variants)
    if kind == "point":
        paint = {
            "circle-color": _by_value(base, variants, "fillColor"),
            "circle-radius": _by_value(base, variants, "radius"),
            "circle-opacity": base["fillOpacity"],
            "circle-stroke-color": _by_value(base, variants, "color"),
            "circle-stroke-width": 1,
        }
        layers.append(
            {
                "id": f"{spec.name}-circle",
                "type": "circle",
                "source": "fupin",
                "source-layer": spec.name,
                "paint": paint,
            }
        )
    return {
        "version": 8,
        "name": f"{spec.label} / {spec.en}",
        "metadata": {"fupin:layer": spec.name, "fupin:styled-by": spec.style.by},
        "sources": {"fupin": source},
        "layers": layers,
    }
