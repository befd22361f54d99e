"""The OpenAPI 3.0 document of ``/ogc``, generated from the catalog for the caller's layers.

What makes clients fast is stated where they look for it: every layer's literal
``/collections/<name>/items`` path references one shared ``limit`` parameter (1–10,000, default
1,000: GDAL sizes its pages from it), declares ``filter-lang`` with ``cql-text`` among its values
(GDAL pushes ``-where`` to the server only then) and one parameter per queryable (the fields GDAL
may filter on by equality), with ``resultType=hits`` for counts. Shared parts are components,
so the document stays small.
"""

from __future__ import annotations

from typing import Any

from fupin_gis import __version__
from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.ogc.cql import LANGS
from fupin_gis.ogc.documents import GEOJSON, JSON, MVT, SCHEMA, STYLE, field_schema
from fupin_gis.ogc.query import sortable

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "message_en"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "message_en": {"type": "string"}},
}
RESERVED = {"limit", "bbox", "bbox-crs", "crs", "filter", "filter-lang", "filter-crs", "sortby", "cursor", "f"}
RESERVED |= {"resultType", "datetime", "properties"}
ERRORS = {
    "400": "无效请求 / invalid request",
    "401": "需要账号（Bearer 令牌，或 Basic 以令牌为密码）/ an account is needed",
    "403": "无权限 / not allowed",
    "404": "不存在或不在范围内 / not found, or outside your scope",
    "409": "冲突 / conflict",
    "412": "要素已被修改（If-Match）/ the feature changed since it was read",
    "413": "请求过大 / too large",
    "415": "不支持的内容类型 / unsupported content type",
    "503": "数据库不可用 / the database is unavailable",
}
READ_ERRORS = ("400", "401", "404", "503")
WRITE_ERRORS = tuple(ERRORS)


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _query(name: str, schema: dict[str, Any], description: str, explode: bool = True) -> dict[str, Any]:
    body = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
    return body | ({} if explode else {"style": "form", "explode": False})


PARAMETERS: dict[str, Any] = {
    "limit": _query(
        "limit", {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 1000}, "每页要素数 / features a page"
    ),
    "bbox": _query(
        "bbox",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "范围，按 bbox-crs 的轴序 / box in bbox-crs axis order",
        explode=False,
    ),
    "bbox-crs": _query("bbox-crs", {"type": "string", "format": "uri"}, "bbox 的坐标系（默认 CRS84）"),
    "crs": _query("crs", {"type": "string", "format": "uri"}, "输出坐标系（默认 CRS84）/ output CRS"),
    "filter": _query("filter", {"type": "string"}, "CQL2 过滤条件 / CQL2 filter"),
    "filter-crs": _query("filter-crs", {"type": "string", "format": "uri"}, "过滤条件中几何的坐标系（默认 CRS84）"),
    "cursor": _query("cursor", {"type": "string"}, "下一页（next 链接给出）/ the next page, from a next link"),
    "resultType": _query(
        "resultType", {"type": "string", "enum": ["results", "hits"]}, "hits：只给 numberMatched / only the count"
    ),
    "featureId": {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}},
    "tileMatrix": {"name": "tileMatrix", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}},
    "tileRow": {"name": "tileRow", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}},
    "tileCol": {"name": "tileCol", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}},
}
GEOMETRY = {"type": "object", "nullable": True, "required": ["type"], "properties": {"type": {"type": "string"}}}
FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "geometry": _ref("schemas", "Geometry"),
        "properties": {"type": "object", "nullable": True},
    },
}
LINK = {"type": "object", "required": ["href", "rel"], "properties": {"href": {"type": "string"}}}
LINKS = {"type": "array", "items": _ref("schemas", "Link")}
SCHEMAS: dict[str, Any] = {
    "Error": ERROR_SCHEMA,
    "Link": LINK,
    "Geometry": GEOMETRY,
    "Feature": FEATURE,
    "FeatureCollection": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _ref("schemas", "Feature")},
            "numberReturned": {"type": "integer", "minimum": 0},
            "numberMatched": {"type": "integer", "minimum": 0},
            "links": LINKS,
        },
    },
    "Document": {"type": "object", "properties": {"links": LINKS}},
}


def _errors(codes: tuple[str, ...]) -> dict[str, Any]:
    return {code: _ref("responses", code) for code in codes}


def _answer(description: str, media: str, schema: dict[str, Any], codes: tuple[str, ...] = READ_ERRORS) -> Any:
    ok = {"description": description, "content": {media: {"schema": schema}}}
    return {"200": ok, **_errors(codes)}


def _get(summary: str, media: str, schema: dict[str, Any], params: list[Any] | None = None) -> dict[str, Any]:
    return {"summary": summary, "parameters": params or [], "responses": _answer(summary, media, schema)}


def items_parameters(spec: LayerSpec, catalog: Catalog) -> list[Any]:
    """The items query's parameters: the shared ones, filter-lang, sortby, one per queryable."""
    shared = ["limit", "bbox", "bbox-crs", "crs", "filter", "filter-crs", "cursor", "resultType"]
    params: list[Any] = [_ref("parameters", name) for name in shared]
    params.append(_query("filter-lang", {"type": "string", "enum": list(LANGS), "default": "cql2-text"}, "过滤语言"))
    sorts = [f"{sign}{name}" for name in sortable(spec) for sign in ("", "+", "-")]
    if sorts:
        params.append(
            _query("sortby", {"type": "string", "enum": sorts}, "排序（有索引的字段）/ sort by an indexed field")
        )
    for field in spec.fields:
        if field.name not in RESERVED:
            schema = {k: v for k, v in field_schema(field, catalog).items() if k not in ("title", "description")}
            schema.pop("oneOf", None)
            params.append(_query(field.name, schema, f"{field.label} 等于 / {field.en} equals"))
    return params


def _body(media: tuple[str, ...]) -> dict[str, Any]:
    return {"required": True, "content": {m: {"schema": _ref("schemas", "Feature")} for m in media}}


def layer_paths(spec: LayerSpec, catalog: Catalog) -> dict[str, Any]:
    """The paths of one layer."""
    here = f"/collections/{spec.name}"
    feature_id = [_ref("parameters", "featureId")]
    tile = [_ref("parameters", n) for n in ("tileMatrix", "tileRow", "tileCol")]
    written = {"description": "已写入（一个批次）/ written, as one batch"}
    item_ok = {"description": spec.label, "content": {GEOJSON: {"schema": _ref("schemas", "Feature")}}}
    return {
        here: {"get": _get(f"{spec.label}：图层说明 / the collection", JSON, _ref("schemas", "Document"))},
        f"{here}/items": {
            "get": {
                "summary": f"{spec.label}：要素 / features",
                "parameters": items_parameters(spec, catalog),
                "responses": _answer("要素 / features", GEOJSON, _ref("schemas", "FeatureCollection")),
            },
            "post": {
                "summary": f"{spec.label}：新增要素 / add a feature",
                "requestBody": _body((GEOJSON, JSON)),
                "responses": {"201": written, **_errors(WRITE_ERRORS)},
            },
        },
        f"{here}/items/{{featureId}}": {
            "get": {
                "summary": f"{spec.label}：一个要素 / one feature",
                "parameters": [*feature_id, _ref("parameters", "crs")],
                "responses": {"200": item_ok, **_errors(READ_ERRORS)},
            },
            "put": {
                "summary": "替换要素 / replace the feature",
                "parameters": feature_id,
                "requestBody": _body((GEOJSON, JSON)),
                "responses": {"200": item_ok, **_errors(WRITE_ERRORS)},
            },
            "patch": {
                "summary": "修改要素（合并补丁）/ update the feature (JSON merge patch)",
                "parameters": feature_id,
                "requestBody": _body(("application/merge-patch+json", JSON, GEOJSON)),
                "responses": {"200": item_ok, **_errors(WRITE_ERRORS)},
            },
            "delete": {
                "summary": "删除要素 / delete the feature",
                "parameters": feature_id,
                "responses": {"204": {"description": "已删除 / deleted"}, **_errors(WRITE_ERRORS)},
            },
        },
        f"{here}/queryables": {"get": _get("可查询字段 / queryables", SCHEMA, {"type": "object"})},
        f"{here}/schema": {"get": _get("要素结构 / schema", SCHEMA, {"type": "object"})},
        f"{here}/tiles": {"get": _get("瓦片集 / tilesets", JSON, {"type": "object"})},
        f"{here}/tiles/WebMercatorQuad": {"get": _get("瓦片集 / tileset", JSON, {"type": "object"})},
        f"{here}/tiles/WebMercatorQuad/tilejson.json": {"get": _get("TileJSON 3.0", JSON, {"type": "object"})},
        f"{here}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}": {
            "get": _get("矢量瓦片 / a vector tile", MVT, {"type": "string", "format": "binary"}, tile)
        },
        f"{here}/styles/default": {"get": _get("MapLibre 样式 / style", STYLE, {"type": "object"})},
    }


def document(catalog: Catalog, specs: list[LayerSpec], base: str) -> dict[str, Any]:
    """The whole OpenAPI document for the layers ``specs``, its server at ``base``."""
    doc = _ref("schemas", "Document")
    paths: dict[str, Any] = {
        "/": {"get": _get("入口 / landing page", JSON, doc)},
        "/conformance": {"get": _get("符合类 / conformance", JSON, {"type": "object"})},
        "/api": {"get": _get("本文档 / this document", "application/vnd.oai.openapi+json;version=3.0", {})},
        "/collections": {"get": _get("图层 / collections", JSON, doc)},
        "/tileMatrixSets": {"get": _get("瓦片矩阵集 / tile matrix sets", JSON, doc)},
        "/tileMatrixSets/WebMercatorQuad": {"get": _get("WebMercatorQuad", JSON, {"type": "object"})},
    }
    for spec in specs:
        paths |= layer_paths(spec, catalog)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "fupin-gis OGC API",
            "version": __version__,
            "description": "扶贫空间规划与资产登记：OGC API Features 与 Tiles。认证：Authorization: Bearer <令牌>，"
            "或 HTTP Basic，用户名为账号、密码为 API 令牌 / authenticate with a bearer token, or HTTP Basic with "
            "the API token as the password.",
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "parameters": PARAMETERS,
            "schemas": SCHEMAS,
            "responses": {
                code: {"description": text, "content": {JSON: {"schema": _ref("schemas", "Error")}}}
                for code, text in ERRORS.items()
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic", "description": "密码为 API 令牌 / the token as password"},
            },
        },
        "security": [{"bearer": []}, {"basic": []}],
    }
