"""The OpenAPI document with the real vocabularies: layer, report, format, rule and grid names as
enums from the catalog and the report registry, and the error answers every route may give.

The routes take these names as text (they answer an unknown one with a clear 404 or 400); the
document says which names exist, so a client, or a fuzzer, knows what to send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.verdicts import RULES
from fupin_gis.reports.build import REPORTS
from fupin_gis.reports.registry import ALL_FORMATS
from fupin_gis.reports.render import FORMATS
from fupin_gis.tiles.mvt import GRIDS, MAX_ZOOM

ERROR_SCHEMA = {
    "title": "Error",
    "description": "错误 / an error: a code and a message in Chinese and English, with details",
    "type": "object",
    "required": ["code", "message", "message_en"],
    "properties": {
        "code": {"type": "string", "description": "machine-readable code, e.g. layer_not_found"},
        "message": {"type": "string", "description": "中文说明"},
        "message_en": {"type": "string", "description": "the message in English"},
    },
    "additionalProperties": True,
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
# status -> description of the errors every operation may answer (errors.STATUS_CODES, and 422 for
# parameters of the wrong type)
ERRORS = {
    "400": "无效输入 / invalid input",
    "401": "需要登录 / sign in first",
    "403": "无权限 / not allowed",
    "404": "不存在 / not found",
    "409": "冲突 / conflict",
    "413": "文件过大 / too large",
    "415": "不支持的格式 / unsupported format",
    "422": "参数无效 / invalid parameter",
    "429": "尝试次数过多 / too many attempts",
    "503": "数据库或打印服务不可用 / the database or the PDF printer is unavailable",
    "507": "数据库磁盘已满 / the database's disk is full",
}
PAGES_TOO = ("503", "507")  # a browser asking for a page gets these as a small HTML page
MVT = "application/vnd.mapbox-vector-tile"


def _enum(node: dict[str, Any], values: list[str]) -> None:
    """Restrict every string schema in ``node`` (through anyOf / oneOf / array items) to ``values``."""
    if node.get("type") == "string":
        node["enum"] = values
    for key in ("anyOf", "oneOf"):
        for part in node.get(key, []):
            _enum(part, values)
    if isinstance(node.get("items"), dict):
        _enum(node["items"], values)


def _pattern(node: dict[str, Any], pattern: str) -> None:
    """Give every string schema in ``node`` without a vocabulary a pattern."""
    if node.get("type") == "string" and "enum" not in node:
        node["pattern"] = pattern
    for key in ("anyOf", "oneOf"):
        for part in node.get(key, []):
            _pattern(part, pattern)


def _parameters(path: str, operation: dict[str, Any], catalog: Catalog) -> None:
    layers = [spec.name for spec in catalog.ordered()]
    names = "|".join(layers)
    for param in operation.get("parameters", []):
        name, where, schema = param["name"], param["in"], param["schema"]
        if where == "path" and name == "layer":
            _enum(schema, [*layers, "all", "coverage"] if path.startswith("/tiles/") else layers)
        elif where == "path" and name == "name" and "/reports/" in path:
            _enum(schema, list(REPORTS))
        elif where == "path" and name == "fmt":
            _enum(schema, list(ALL_FORMATS))
        elif where == "query" and name == "rule":
            _enum(schema, list(RULES))
        elif where == "query" and name == "grid":
            _enum(schema, list(GRIDS))
        elif where == "query" and name == "layers" and path.startswith("/tiles/"):
            _pattern(schema, f"^(({names})(,({names}))*)?$")
        elif where == "query" and name == "township":
            _pattern(schema, r"^(\d{6}|\d{9})?$")  # empty: every area
        elif name == "code" and ("/villages/" in path):
            _pattern(schema, r"^\d{12}$")
        elif where == "path" and path.startswith("/tiles/") and name in ("z", "x", "y"):
            schema.update({"minimum": 0} | ({"maximum": MAX_ZOOM} if name == "z" else {}))
        # free text (a search, a return address) stays free in the document: control characters are
        # refused with a 400 (api.deps.plain_text), and a fuzzer should keep sending them


def _responses(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    ok = responses.get("200", {})
    if path.startswith("/tiles/"):
        ok["content"] = {MVT: {"schema": {"type": "string", "format": "binary"}}}
        responses["304"] = {"description": "未改变 / not modified (If-None-Match)"}
    elif path.startswith("/reports/{name}"):
        ok["content"] = {f.media.split(";")[0]: {"schema": {"type": "string"}} for f in FORMATS.values()}
    page = "text/html" in ok.get("content", {})
    if page:
        responses["303"] = {"description": "去登录 / to the sign-in page (no account)"}
    for status, description in ERRORS.items():
        declared = responses.get(status)
        if declared is not None and "HTTPValidationError" not in str(declared):
            continue  # the route says what it answers with this status (an import's 422 is its report)
        content: dict[str, Any] = {"application/json": {"schema": ERROR_REF}}
        if status in PAGES_TOO:
            content["text/html"] = {"schema": {"type": "string"}}
        responses[status] = {"description": description, "content": content}


def declare_vocabularies(schema: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """Put the catalog's layer names, the reports, formats, rules and grids, and the error answers
    into the OpenAPI document ``schema`` (in place); returns it."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            _parameters(path, operation, catalog)
            _responses(path, operation)
    return schema


def openapi_with_vocabularies(app: FastAPI, catalog: Catalog) -> Callable[[], dict[str, Any]]:
    """A replacement for ``app.openapi`` that builds FastAPI's document once and declares the vocabularies."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_vocabularies(build(), catalog)
        return app.openapi_schema

    return openapi
