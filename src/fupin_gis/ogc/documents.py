"""The documents of ``/ogc``: landing page, conformance, collections, queryables and schema.

Generated from the catalog for the caller: only the layers they may read, each with its Chinese
title, its extent (CRS84) as their scope sees it, the CRSs it is offered in and its storage CRS;
queryables and schema are JSON Schema with the catalog's labels, enumerations and ranges.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.catalog import Catalog, FieldSpec, LayerSpec
from fupin_gis.ogc.crs import EPSG_URI, OutputCrs, gauss_kruger_zones, offered
from fupin_gis.ogc.sql import ident

GEOJSON = "application/geo+json"
JSON = "application/json"
SCHEMA = "application/schema+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
MVT = "application/vnd.mapbox-vector-tile"
STYLE = "application/vnd.mapbox.style+json"
REL_TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"

SPEC = "http://www.opengis.net/spec/"
# Exactly what tests/test_ogc_*.py verify with GDAL, OWSLib, schemathesis and SQL.
CONFORMANCE = [
    f"{SPEC}ogcapi-features-1/1.0/conf/core",
    f"{SPEC}ogcapi-features-1/1.0/conf/oas30",
    f"{SPEC}ogcapi-features-1/1.0/conf/geojson",
    f"{SPEC}ogcapi-features-2/1.0/conf/crs",
    f"{SPEC}ogcapi-features-3/1.0/conf/queryables",
    f"{SPEC}ogcapi-features-3/1.0/conf/queryables-query-parameters",
    f"{SPEC}ogcapi-features-3/1.0/conf/filter",
    f"{SPEC}ogcapi-features-3/1.0/conf/features-filter",
    f"{SPEC}cql2/1.0/conf/cql2-text",
    f"{SPEC}cql2/1.0/conf/cql2-json",
    f"{SPEC}cql2/1.0/conf/basic-cql2",
    f"{SPEC}cql2/1.0/conf/advanced-comparison-operators",
    f"{SPEC}cql2/1.0/conf/case-insensitive-comparison",
    f"{SPEC}cql2/1.0/conf/basic-spatial-functions",
    f"{SPEC}ogcapi-features-4/1.0/conf/create-replace-delete",
    f"{SPEC}ogcapi-features-4/1.0/conf/update",
    f"{SPEC}ogcapi-tiles-1/1.0/conf/core",
    f"{SPEC}ogcapi-tiles-1/1.0/conf/tileset",
    f"{SPEC}ogcapi-tiles-1/1.0/conf/tilesets-list",
    f"{SPEC}ogcapi-tiles-1/1.0/conf/mvt",
]
GEOMETRY_FORMATS = {"Point": "geometry-point", "MultiLineString": "geometry-multilinestring"}
GEOMETRY_FORMATS["MultiPolygon"] = "geometry-multipolygon"
JSON_TYPES = {"text": "string", "code": "string", "enum": "string", "integer": "integer", "number": "number"}
JSON_TYPES |= {"boolean": "boolean", "date": "string"}


def link(href: str, rel: str, kind: str, title: str | None = None) -> dict[str, str]:
    """One link object."""
    body = {"href": href, "rel": rel, "type": kind}
    return body | ({"title": title} if title else {})


def readable(catalog: Catalog, principal: Principal) -> list[LayerSpec]:
    """The layers ``principal`` may read (personal data only for roles that may see it), in map order."""
    return [spec for spec in catalog.ordered() if not spec.restricted or principal.personal]


def landing(base: str) -> dict[str, Any]:
    """The landing page."""
    return {
        "title": "扶贫空间规划与资产登记 fupin-gis",
        "description": "OGC API Features 与 Tiles：图层、要素、过滤、编辑（批次）与矢量瓦片 / the registry's layers as "
        "OGC API Features (CRS, CQL2 filters, transactions as batches) and OGC API Tiles",
        "links": [
            link(f"{base}/", "self", JSON, "本页 / this document"),
            link(f"{base}/api", "service-desc", OPENAPI, "OpenAPI 3.0"),
            link(f"{base}/api.html", "service-doc", "text/html", "接口说明 / API documentation"),
            link(f"{base}/conformance", "conformance", JSON, "符合类 / conformance classes"),
            link(f"{base}/collections", "data", JSON, "图层 / collections"),
            link(
                f"{base}/tileMatrixSets",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                JSON,
                "瓦片矩阵集 / tile matrix sets",
            ),
        ],
    }


def conformance() -> dict[str, Any]:
    """The conformance classes claimed."""
    return {"conformsTo": CONFORMANCE}


def extents(conn: Connection, specs: list[LayerSpec]) -> dict[str, list[float] | None]:
    """Each layer's lon/lat box as the connection's scope sees it (None: no features)."""
    if not specs:
        return {}
    conn.execute(text("SET LOCAL jit = off"))  # see pages.NO_JIT
    parts = " UNION ALL ".join(
        f"SELECT {i} AS n, ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1 "
        f"FROM (SELECT ST_Extent(geom) AS e FROM {ident(spec.name)}) s{i}"
        for i, spec in enumerate(specs)
    )
    found: dict[str, list[float] | None] = {spec.name: None for spec in specs}
    for row in conn.execute(text(parts)):
        if row.x0 is not None:
            found[specs[row.n].name] = [float(row.x0), float(row.y0), float(row.x1), float(row.y1)]
    return found


def deployment_crs(conn: Connection, catalog: Catalog) -> list[OutputCrs]:
    """The CRSs offered: CRS84, storage, 4326, 3857 and the Gauss-Kruger zones of the counties."""
    row = conn.execute(text("SELECT ST_XMin(e), ST_XMax(e) FROM (SELECT ST_Extent(geom) AS e FROM counties) c")).one()
    zones = gauss_kruger_zones(float(row[0]), float(row[1])) if row[0] is not None else []
    return offered(catalog.srid, zones)


def collection(
    spec: LayerSpec, catalog: Catalog, base: str, extent: list[float] | None, crs: list[OutputCrs]
) -> dict[str, Any]:
    """One collection's description."""
    here = f"{base}/collections/{spec.name}"
    body: dict[str, Any] = {
        "id": spec.name,
        "title": spec.label,
        "description": f"{spec.label} / {spec.en}" + (f" — {spec.description}" if spec.description else ""),
        "itemType": "feature",
        "crs": [c.uri for c in crs],
        "storageCrs": f"{EPSG_URI}{catalog.srid}",
        "links": [
            link(here, "self", JSON, spec.label),
            link(f"{here}/items", "items", GEOJSON, "要素 / features"),
            link(f"{here}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables", SCHEMA, "可查询字段"),
            link(f"{here}/schema", "describedBy", SCHEMA, "要素结构 / feature schema"),
            link(f"{here}/tiles", REL_TILESETS, JSON, "矢量瓦片 / vector tiles"),
            link(f"{here}/styles/default", "stylesheet", STYLE, "地图样式 / MapLibre style"),
        ],
    }
    if extent is not None:
        body["extent"] = {"spatial": {"bbox": [extent], "crs": crs[0].uri}}
    return body


def collections(
    specs: list[LayerSpec],
    catalog: Catalog,
    base: str,
    boxes: dict[str, list[float] | None],
    crs: list[OutputCrs],
) -> dict[str, Any]:
    """The collections the caller may read."""
    return {
        "links": [link(f"{base}/collections", "self", JSON, "图层 / collections")],
        "collections": [collection(spec, catalog, base, boxes.get(spec.name), crs) for spec in specs],
    }


def field_schema(field: FieldSpec, catalog: Catalog) -> dict[str, Any]:
    """JSON Schema of one field: type, Chinese title, English description, values and range."""
    body: dict[str, Any] = {"title": field.label, "description": field.en, "type": JSON_TYPES[field.type]}
    if field.type == "date":
        body["format"] = "date"
    if field.type == "code":
        body["pattern"] = f"^[0-9]{{{field.digits}}}$"
    if field.type == "enum":
        values = field.enum_values(catalog)
        body["enum"] = [v.key for v in values]
        body["oneOf"] = [{"const": v.key, "title": v.label, "description": v.en} for v in values]
    if field.min is not None:
        body["minimum"] = field.min
    if field.max is not None:
        body["maximum"] = field.max
    if field.unit:
        body["x-ogc-unit"] = field.unit
    return body


def geometry_schema(spec: LayerSpec) -> dict[str, Any]:
    """The geometry queryable."""
    return {"title": "几何 / geometry", "format": GEOMETRY_FORMATS[spec.geometry], "x-ogc-role": "primary-geometry"}


def queryables(spec: LayerSpec, catalog: Catalog, base: str) -> dict[str, Any]:
    """The layer's queryables (every catalog field and the geometry) as JSON Schema."""
    props: dict[str, Any] = {"geometry": geometry_schema(spec)}
    props |= {f.name: field_schema(f, catalog) for f in spec.fields}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{spec.name}/queryables",
        "type": "object",
        "title": spec.label,
        "description": spec.en,
        "properties": props,
        "additionalProperties": False,
    }


def schema(spec: LayerSpec, catalog: Catalog, base: str) -> dict[str, Any]:
    """A GeoJSON Feature of the layer as JSON Schema (what GDAL reads a layer's field types from)."""
    required = [f.name for f in spec.fields if f.required]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{spec.name}/schema",
        "title": spec.label,
        "description": spec.en,
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string" if spec.key else "integer", "x-ogc-role": "id"},
            "geometry": geometry_schema(spec),
            "properties": {
                "type": "object",
                "required": required,
                "properties": {f.name: field_schema(f, catalog) for f in spec.fields},
            },
        },
    }
