"""The items query of a collection: filters, keyset paging and the features built in SQL.

Rows are selected by ``bbox`` (the GiST index, then the exact intersection), equality on
queryables, a CQL2 filter and the keyset of the page before — never OFFSET: a page starts where
the last one ended on (sort key, id), so the millionth feature costs what the first does. Each
feature is one JSON text made by PostgreSQL (``ST_AsGeoJSON`` and ``json_build_object``), so the
server only joins them. Row-level security adds the caller's scope to every statement.

A query's first page names every field of every feature (``null`` when empty), so a client that
learns the fields from a first page (QGIS before it read ``/schema``) sees them all; the pages
after it leave the empty ones out, as GeoJSON allows and every client reads as null.

Feature ids: the layer's key where it has one (unique in the table), ``~<row id>`` for a feature
whose key is empty; the row id for a layer without a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.ogc import cql
from fupin_gis.ogc.crs import OutputCrs
from fupin_gis.ogc.sql import Params, column, ident

ALIAS = "t"
ROW_ID = re.compile(r"^~(\d{1,18})$")


@dataclass(frozen=True)
class Sort:
    """The page order: a sortable field (None: the row id) and its direction; the row id breaks ties."""

    field: str | None = None
    descending: bool = False

    @property
    def text(self) -> str:
        """As ``sortby`` writes it."""
        return "" if self.field is None else ("-" if self.descending else "+") + self.field


@dataclass(frozen=True)
class Keyset:
    """Where the previous page ended: the phase (1 rows with a sort value, 2 without), its value, its id."""

    phase: int
    value: Any
    row: int


@dataclass(frozen=True)
class ItemsQuery:
    """A validated items request."""

    limit: int
    crs: OutputCrs
    bbox: tuple[float, float, float, float] | None = None  # lon/lat in the storage CRS
    tree: Any = None
    filter_crs: OutputCrs | None = None
    equals: tuple[tuple[str, Any], ...] = ()
    sort: Sort = Sort()


def key_field(spec: LayerSpec) -> str | None:
    """The field whose value is a feature's id (the layer's key), if any."""
    return spec.key


def sortable(spec: LayerSpec) -> list[str]:
    """Fields a page may be sorted by: those with an index (the key, the village code)."""
    names = [spec.key] if spec.key else []
    if "village_code" in spec.field_names and spec.key != "village_code":
        names.append("village_code")
    return names


def parse_sort(spec: LayerSpec, value: str | None) -> Sort:
    """``sortby`` (one field, ``+``/``-`` prefix), or InvalidInput naming the sortable fields."""
    if value is None or not value.strip():
        return Sort()
    parts = [p.strip() for p in value.split(",") if p.strip()]
    allowed = sortable(spec)
    if len(parts) == 1:
        part = parts[0]
        descending = part.startswith("-")
        name = part.lstrip("+- ")
        if name in allowed:
            return Sort(name, descending)
    raise InvalidInput(
        f"sortby “{value}” 无效：可按一个有索引的字段排序（{', '.join(allowed) or '无'}），前加 - 为降序",
        f"sortby '{value}': sort by one indexed field ({', '.join(allowed) or 'none'}), '-' for descending",
        field="sortby",
        value=value,
    )


def id_json(spec: LayerSpec) -> str:
    """SQL of a feature's id as JSON text."""
    key = key_field(spec)
    row = column(ALIAS, "id")
    if key is None:
        return f"{row}::text"
    return f"coalesce(to_json({column(ALIAS, key)})::text, '\"~' || {row} || '\"')"


def geometry_json(catalog: Catalog, crs: OutputCrs, name: str = "geom") -> str:
    """SQL of the geometry as GeoJSON text in ``crs`` (its axis order), ``null`` when there is none."""
    geom = column(ALIAS, name)
    if crs.srid is not None and crs.srid != catalog.srid:
        geom = f"ST_Transform({geom}, {int(crs.srid)})"
    if crs.northing_first:
        geom = f"ST_FlipCoordinates({geom})"
    return f"coalesce(ST_AsGeoJSON({geom}, {crs.digits}, 0), 'null')"


def properties_json(spec: LayerSpec, nulls: bool = True) -> str:
    """SQL of the catalog fields as a compact JSON object text, in catalog order. ``nulls``: every
    field, empty ones as ``null`` (a client that reads no schema learns the fields from a first
    page); otherwise the empty ones are left out (``concat`` skips a NULL member), which a client
    reads as null: a tenth less text for GDAL to parse twice, a tenth faster copies."""
    if not spec.fields:
        return "'{}'"
    if not nulls:
        members = ", ".join(f"""',"{f.name}":' || to_json({column(ALIAS, f.name)})::text""" for f in spec.fields)
        return f"('{{' || substr(concat({members}), 2) || '}}')"
    parts = [
        f"""'{"," if i else "{"}"{f.name}":' || coalesce(to_json({column(ALIAS, f.name)})::text, 'null')"""
        for i, f in enumerate(spec.fields)
    ]
    return "(" + " || ".join(parts) + " || '}')"


def feature_json(spec: LayerSpec, catalog: Catalog, crs: OutputCrs, nulls: bool = True) -> str:
    """SQL of one GeoJSON feature as text (``nulls``: see :func:`properties_json`)."""
    return (
        f"""'{{"type":"Feature","id":' || {id_json(spec)} || ',"geometry":' || {geometry_json(catalog, crs)}"""
        f""" || ',"properties":' || {properties_json(spec, nulls)} || '}}'"""
    )


def table(spec: LayerSpec) -> str:
    """``FROM`` target of a layer."""
    return f"{ident(spec.name)} {ident(ALIAS)}"


def lookup(spec: LayerSpec, feature_id: str, params: Params) -> str:
    """SQL condition selecting the feature ``feature_id`` (NotFound for an id no feature can have)."""
    key = key_field(spec)
    row = ROW_ID.match(feature_id)
    if key is None:
        if not feature_id.isdigit() or len(feature_id) > 18:
            raise NotFound(f"图层 {spec.name} 没有要素 {feature_id}", f"layer {spec.name} has no feature {feature_id}")
        return f"{column(ALIAS, 'id')} = {params.bind(int(feature_id))}"
    by_key = f"{column(ALIAS, key)} = {params.bind(feature_id)}"
    if row is None:
        return by_key
    return f"({by_key} OR ({column(ALIAS, key)} IS NULL AND {column(ALIAS, 'id')} = {params.bind(int(row.group(1)))}))"


def where(spec: LayerSpec, catalog: Catalog, query: ItemsQuery, params: Params) -> str:
    """The SQL condition of the request's filters (the scope is row-level security's)."""
    parts = ["TRUE"]
    if query.bbox is not None:  # already lon/lat bounds in the storage CRS (crs.bounds_to_storage)
        box = f"ST_MakeEnvelope({', '.join(params.bind(float(v)) for v in query.bbox)}, {int(catalog.srid)})"
        parts.append(f"ST_Intersects({column(ALIAS, 'geom')}, {box})")
    names = cql.queryables(spec, ALIAS)
    for name, value in query.equals:
        parts.append(f"{names[name].sql} = {params.bind(value)}")
    if query.tree is not None:
        assert query.filter_crs is not None
        parts.append(cql.filter_sql(spec, catalog, query.tree, params, query.filter_crs, ALIAS))
    return " AND ".join(parts)


def _order(spec: LayerSpec, sort: Sort, phase: int) -> str:
    direction = "DESC" if sort.descending else "ASC"
    row = f"{column(ALIAS, 'id')} {direction}"
    if sort.field is None or phase == 2:
        return row
    return f"{column(ALIAS, sort.field)} {direction}, {row}"


def _after(sort: Sort, phase: int, at: Keyset | None, params: Params) -> str:
    """The keyset condition of ``phase`` after ``at`` (index ranges: value, then id)."""
    row = column(ALIAS, "id")
    less = "<" if sort.descending else ">"
    if sort.field is None:
        return "TRUE" if at is None else f"{row} {less} {params.bind(at.row)}"
    value = column(ALIAS, sort.field)
    if phase == 2:
        cond = f"{value} IS NULL"
        return cond if at is None or at.phase == 1 else f"{cond} AND {row} {less} {params.bind(at.row)}"
    if at is None:
        return f"{value} IS NOT NULL"
    v = params.bind(at.value)
    return f"{value} {less}= {v} AND ({value} {less} {v} OR {row} {less} {params.bind(at.row)})"


def page_sql(
    spec: LayerSpec, catalog: Catalog, query: ItemsQuery, condition: str, at: Keyset | None, params: Params
) -> str:
    """The SELECT of one page (``limit`` + 1 rows, to know whether another follows): feature JSON, phase,
    sort value and row id of each row, in page order."""
    sort = query.sort
    value = column(ALIAS, sort.field) if sort.field else "NULL::text"
    feature = feature_json(spec, catalog, query.crs, nulls=at is None)  # a query's first page: every field
    select = f"SELECT {feature} AS f, __PHASE__ AS ph, {value} AS k, {column(ALIAS, 'id')} AS i"
    limit = params.bind(query.limit + 1)
    phases = [1] if sort.field is None else ([2] if at is not None and at.phase == 2 else [1, 2])
    parts = [
        f"({select.replace('__PHASE__', str(phase))} FROM {table(spec)} WHERE ({condition}) AND {_after(sort, phase, at, params)} "
        f"ORDER BY {_order(spec, sort, phase)} LIMIT {limit})"
        for phase in phases
    ]
    if len(parts) == 1:
        return parts[0][1:-1]
    direction = "DESC" if sort.descending else "ASC"
    return f"SELECT * FROM ({' UNION ALL '.join(parts)}) p ORDER BY ph, k {direction}, i {direction} LIMIT {limit}"


def count_sql(spec: LayerSpec, condition: str) -> str:
    """The count of the rows the filters select (under the caller's scope)."""
    return f"SELECT count(*) FROM {table(spec)} WHERE {condition}"


def item_sql(spec: LayerSpec, catalog: Catalog, crs: OutputCrs, condition: str) -> str:
    """One feature's JSON, its ETag (a digest of the whole stored row) and its row id (a key before a row id)."""
    key = key_field(spec)
    first = f"{column(ALIAS, key)} IS NULL, " if key else ""
    return (
        f"SELECT {feature_json(spec, catalog, crs)} AS f, md5(to_jsonb({ident(ALIAS)})::text) AS etag, "
        f"{column(ALIAS, 'id')} AS i FROM {table(spec)} WHERE {condition} "
        f"ORDER BY {first}{column(ALIAS, 'id')} LIMIT 1"
    )
