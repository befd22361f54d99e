"""OGC API Features Part 4 on the registry: POST, PUT, PATCH (JSON merge patch) and DELETE of one
feature, each one transaction and one batch (:mod:`fupin_gis.ingest.feature_writes`).

The caller's engine runs under row-level security, so a feature outside the scope is not found
(404) and a write that would put one outside it is refused by the database's policies; ``If-Match``
is compared with the stored row's ETag inside the same transaction (locked), so two editors cannot
overwrite each other unawares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import shapely
import shapely.geometry
from sqlalchemy import Connection, Engine, text

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import InvalidInput, NotFound, PreconditionFailed
from fupin_gis.ingest.edit import parse_geometry
from fupin_gis.ingest.feature_writes import Author, Change, apply, read_values, require_complete
from fupin_gis.ogc.crs import OutputCrs, default_crs, geometry_to_storage, read_geojson
from fupin_gis.ogc.query import ALIAS, ROW_ID, item_sql, lookup, table
from fupin_gis.ogc.sql import Params, column, ident


@dataclass(frozen=True)
class Outcome:
    """A write's answer: its batch, the feature's id, its new ETag and GeoJSON text (None after a delete)."""

    batch: int
    feature_id: str
    etag: str | None
    feature: str | None


def _bad(zh: str, en: str, field: str = "body") -> InvalidInput:
    return InvalidInput(zh, en, field=field)


def _feature_body(body: Any, partial: bool = False) -> tuple[dict[str, Any], Any, bool]:
    """(properties, geometry, geometry given) of a GeoJSON feature (``partial``: a merge patch)."""
    if not isinstance(body, dict):
        raise _bad("请求体应为 GeoJSON 要素（JSON 对象）", "the body must be a GeoJSON Feature (a JSON object)")
    if not partial and body.get("type") != "Feature":
        raise _bad("请求体的 type 应为 Feature", "the body's type must be 'Feature'")
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise _bad("properties 应为对象", "properties must be an object", "properties")
    return props, body.get("geometry"), "geometry" in body


def _geometry(spec: LayerSpec, catalog: Catalog, geometry: Any, crs: OutputCrs) -> bytes:
    """WKB in the storage CRS of a GeoJSON geometry given in ``crs``, checked as an import checks it."""
    shape = read_geojson(geometry, "geometry")
    moved = geometry_to_storage(shape, crs, catalog.srid, "geometry")
    return parse_geometry(spec, shapely.geometry.mapping(moved))


def _find(conn: Connection, spec: LayerSpec, feature_id: str) -> tuple[int, str, Any]:
    """(row id, ETag, stored key) of a feature the caller may see, locked; NotFound otherwise."""
    params = Params()
    key = column(ALIAS, spec.key) if spec.key else "NULL"
    found = conn.execute(
        text(
            f"SELECT {column(ALIAS, 'id')} AS i, md5(to_jsonb({ident(ALIAS)})::text) AS etag, {key} AS k "
            f"FROM {table(spec)} WHERE {lookup(spec, feature_id, params)} "
            f"ORDER BY {key + ' IS NULL, ' if spec.key else ''}{column(ALIAS, 'id')} LIMIT 1 FOR UPDATE"
        ),
        params.values,
    ).first()
    if found is None:
        raise NotFound(
            f"图层 {spec.name} 没有要素 {feature_id}（或不在您的范围内）",
            f"layer {spec.name} has no feature {feature_id} (or it lies outside your scope)",
            feature=feature_id,
        )
    return int(found.i), f'"{found.etag}"', found.k


def _check_match(if_match: str | None, etag: str) -> None:
    if if_match is None:
        return
    wanted = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" not in wanted and etag not in wanted:
        raise PreconditionFailed(
            "要素已被修改（ETag 不符）：请重新读取后再改",
            "the feature changed since it was read (ETag does not match): read it again",
            etag=etag,
        )


def _outcome(conn: Connection, spec: LayerSpec, catalog: Catalog, batch: int, row: int) -> Outcome:
    params = Params()
    found = conn.execute(
        text(item_sql(spec, catalog, default_crs(), f"{column(ALIAS, 'id')} = {params.bind(row)}")), params.values
    ).one()
    feature = json.loads(found.f)
    return Outcome(batch, str(feature["id"]), f'"{found.etag}"', found.f)


def _keep_key(spec: LayerSpec, values: dict[str, Any], stored: Any) -> None:
    """A replace or update may repeat the feature's key but never change it."""
    if spec.key is not None and spec.key in values and values[spec.key] != stored:
        raise InvalidInput(
            f"“{spec.key}” 是要素的标识，不能修改",
            f"'{spec.key}' identifies the feature and cannot change",
            field=spec.key,
        )


def create_feature(
    engine: Engine, catalog: Catalog, spec: LayerSpec, body: Any, author: Author, crs: OutputCrs
) -> Outcome:
    """POST: a new feature (its key from ``properties``, or from ``id``)."""
    props, geometry, _ = _feature_body(body)
    if spec.key and spec.key not in props and isinstance(body.get("id"), str) and not ROW_ID.match(body["id"]):
        props = {**props, spec.key: body["id"]}
    values = read_values(spec, catalog, props, with_key=True)
    require_complete(spec, values)
    wkb = _geometry(spec, catalog, geometry, crs) if geometry is not None else None
    if wkb is None and spec.geometry_required:
        raise _bad("缺少几何", "the feature has no geometry", "geometry")
    with engine.begin() as conn:
        done = apply(conn, catalog, spec, Change("create", None, values, wkb), author)
        assert done.row is not None
        return _outcome(conn, spec, catalog, done.batch, done.row)


def replace_feature(
    engine: Engine,
    catalog: Catalog,
    spec: LayerSpec,
    feature_id: str,
    body: Any,
    author: Author,
    crs: OutputCrs,
    if_match: str | None = None,
) -> Outcome:
    """PUT: the feature replaced as a whole (fields the body omits become empty; the key stays)."""
    props, geometry, _ = _feature_body(body)
    values = read_values(spec, catalog, props, with_key=True)
    wkb = _geometry(spec, catalog, geometry, crs) if geometry is not None else None
    if wkb is None and spec.geometry_required:
        raise _bad("缺少几何", "the feature has no geometry", "geometry")
    with engine.begin() as conn:
        row, etag, stored = _find(conn, spec, feature_id)
        _check_match(if_match, etag)
        _keep_key(spec, values, stored)
        require_complete(spec, {**values, **({spec.key: stored} if spec.key else {})})
        done = apply(conn, catalog, spec, Change("replace", row, values, wkb, clear_geometry=wkb is None), author)
        return _outcome(conn, spec, catalog, done.batch, row)


def update_feature(
    engine: Engine,
    catalog: Catalog,
    spec: LayerSpec,
    feature_id: str,
    patch: Any,
    author: Author,
    crs: OutputCrs,
    if_match: str | None = None,
) -> Outcome:
    """PATCH (RFC 7396 merge patch): the properties given change (``null`` empties one), the geometry if given."""
    props, geometry, geometry_given = _feature_body(patch, partial=True)
    values = read_values(spec, catalog, props, with_key=True)
    wkb = _geometry(spec, catalog, geometry, crs) if geometry is not None else None
    clear = geometry_given and geometry is None
    if clear and spec.geometry_required:
        raise _bad("此图层的要素必须有几何", "features of this layer must have a geometry", "geometry")
    if not values and wkb is None and not clear:
        raise _bad("没有要修改的内容", "nothing to change: give properties or a geometry", "properties")
    with engine.begin() as conn:
        row, etag, stored = _find(conn, spec, feature_id)
        _check_match(if_match, etag)
        _keep_key(spec, values, stored)
        done = apply(conn, catalog, spec, Change("update", row, values, wkb, clear_geometry=clear), author)
        return _outcome(conn, spec, catalog, done.batch, row)


def delete_feature(
    engine: Engine, catalog: Catalog, spec: LayerSpec, feature_id: str, author: Author, if_match: str | None = None
) -> Outcome:
    """DELETE: the feature removed (its row kept in the batch's history, so a rollback restores it)."""
    with engine.begin() as conn:
        row, etag, _ = _find(conn, spec, feature_id)
        _check_match(if_match, etag)
        done = apply(conn, catalog, spec, Change("delete", row), author)
        return Outcome(done.batch, feature_id, None, None)
