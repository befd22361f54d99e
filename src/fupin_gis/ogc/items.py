"""Reading an items request: its query parameters checked and turned into an :class:`ItemsQuery`.

Parameters are read as text and checked here, so every mistake is one bilingual 400 naming the
parameter: ``limit`` (1 to the maximum), ``bbox``/``bbox-crs``, ``crs``, ``filter``/``filter-lang``/
``filter-crs``, ``sortby``, ``cursor`` (signed, and only for the query and account it was made for),
``resultType`` and one equality parameter per queryable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import InvalidInput
from fupin_gis.ogc import cursor as cursors
from fupin_gis.ogc.cql import parse_filter
from fupin_gis.ogc.crs import OutputCrs, bounds_to_storage, parse_crs
from fupin_gis.ogc.query import ItemsQuery, Keyset, parse_sort
from fupin_gis.settings import OgcSettings

RESERVED = {"limit", "bbox", "bbox-crs", "crs", "filter", "filter-lang", "filter-crs", "sortby", "cursor", "f"}
RESERVED |= {"resultType", "datetime", "properties"}
FORMATS = ("json", "geojson")


@dataclass(frozen=True)
class ItemsRequest:
    """A checked items request: the query, where it resumes, what it carries, how to answer."""

    query: ItemsQuery
    at: Keyset | None
    carried: tuple[int | None, str] | None
    digest: str
    hits: bool


def _limit(raw: str | None, settings: OgcSettings) -> int:
    """The page size: the default when not given, at most the maximum (a larger ask gets the maximum)."""
    if raw is None or raw == "":
        return settings.default_limit
    if not raw.strip().isdigit() or int(raw) < 1:
        raise InvalidInput(
            f"limit 应为 1–{settings.max_limit} 的整数",
            f"limit must be a whole number 1–{settings.max_limit}",
            field="limit",
        )
    return min(int(raw), settings.max_limit)


def _bbox(raw: str, crs: OutputCrs, storage_srid: int) -> tuple[float, float, float, float]:
    try:
        numbers = [float(v) for v in raw.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or not all(math.isfinite(v) for v in numbers):
        raise InvalidInput(
            "bbox 应为 4 个（或 6 个）逗号分隔的数", "bbox takes 4 (or 6) comma-separated numbers", field="bbox"
        )
    box = (numbers[0], numbers[1], numbers[3], numbers[4]) if len(numbers) == 6 else tuple(numbers)
    return bounds_to_storage(box, crs, storage_srid)  # type: ignore[arg-type]


def _equal(spec: LayerSpec, name: str, raw: str) -> Any:
    field = spec.field(name)
    if field.type in ("integer", "number"):
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise InvalidInput(f"{name} 应为数", f"{name} must be a number", field=name, value=raw)
        return int(value) if field.type == "integer" and value.is_integer() else value
    if field.type == "boolean":
        if raw.lower() not in ("true", "false"):
            raise InvalidInput(f"{name} 应为 true 或 false", f"{name} must be true or false", field=name, value=raw)
        return raw.lower() == "true"
    return raw


def read_items(
    spec: LayerSpec,
    catalog: Catalog,
    params: Mapping[str, str],
    offered: list[OutputCrs],
    settings: OgcSettings,
    key: bytes,
    who: str,
) -> ItemsRequest:
    """The checked request of ``params`` on ``spec`` for the account ``who`` (scope and role)."""
    fmt = params.get("f")
    if fmt is not None and fmt.lower() not in FORMATS:
        raise InvalidInput(f"f “{fmt}” 不受支持：json 或 geojson", f"f '{fmt}': use json or geojson", field="f")
    crs = parse_crs(params.get("crs"), offered, "crs")
    bbox = None
    if params.get("bbox"):
        bbox = _bbox(params["bbox"], parse_crs(params.get("bbox-crs"), offered, "bbox-crs"), catalog.srid)
    tree = None
    text = params.get("filter")
    if text is not None and text.strip():
        tree = parse_filter(text, params.get("filter-lang"))
    elif params.get("filter-lang"):
        parse_filter("TRUE", params.get("filter-lang"))  # an unknown language is refused even without a filter
    filter_crs = parse_crs(params.get("filter-crs"), offered, "filter-crs")
    equals = tuple(
        (f.name, _equal(spec, f.name, params[f.name]))
        for f in spec.fields
        if f.name not in RESERVED and params.get(f.name) not in (None, "")
    )
    sort = parse_sort(spec, params.get("sortby"))
    result_type = params.get("resultType", "results")
    if result_type not in ("results", "hits"):
        raise InvalidInput("resultType 应为 results 或 hits", "resultType must be results or hits", field="resultType")
    digest = cursors.query_digest(
        {
            "layer": spec.name,
            "bbox": bbox,
            "filter": tree,
            "filter-crs": filter_crs.uri,
            "equals": equals,
            "sort": sort.text,
        }
    )
    query = ItemsQuery(_limit(params.get("limit"), settings), crs, bbox, tree, filter_crs, equals, sort)
    at, carried = None, None
    if params.get("cursor"):
        state = cursors.verify(params["cursor"], key)
        if state.get("q") != digest or state.get("w") != who:
            raise InvalidInput(
                "cursor 不属于这个查询或账号：请从第一页重新请求",
                "the cursor belongs to another query or account: start again from the first page",
                field="cursor",
            )
        try:
            at = Keyset(int(state["p"]), state.get("k"), int(state["i"]))
            carried = (state.get("n"), str(state["v"]))
        except (KeyError, TypeError, ValueError):
            raise InvalidInput("cursor 无效", "the cursor is invalid", field="cursor") from None
    return ItemsRequest(query, at, carried, digest, result_type == "hits")


def next_cursor(request: ItemsRequest, at: Keyset, matched: int | None, version: str, who: str, key: bytes) -> str:
    """The signed cursor of the page after the one that ended at ``at``."""
    return cursors.sign(
        {"q": request.digest, "w": who, "v": version, "n": matched, "p": at.phase, "k": at.value, "i": at.row}, key
    )
