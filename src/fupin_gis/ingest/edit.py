"""Edit one feature: its attributes and geometry, validated by the catalog, as a batch of its own.

An edit is stored like a one-feature import: a batch (source ``edit``), the feature's old row in
``feature_history``, the cached tiles it touches dropped, so it lists with the imports, rolls back
exactly, and obeys the same scope check.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.ingest.batches import check_write
from fupin_gis.ingest.geometry import normalise
from fupin_gis.ingest.values import convert
from fupin_gis.tiles.cache import invalidate_batch


def _plain(value: Any) -> Any:
    """A value of a pandas result as a plain Python value (None for missing)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def parse_properties(spec: LayerSpec, catalog: Catalog, properties: dict[str, Any]) -> dict[str, Any]:
    """The stored values of ``properties`` (catalog field → raw value), or InvalidInput naming the field."""
    values: dict[str, Any] = {}
    for name, raw in properties.items():
        try:
            field = spec.field(name)
        except KeyError:
            raise InvalidInput(
                f"图层 {spec.name} 没有字段 “{name}”", f"layer {spec.name} has no field '{name}'", field=name
            ) from None
        if name == spec.key:
            raise InvalidInput(
                f"“{field.label}”（{name}）是要素的标识，不能修改；请导入新要素",
                f"'{name}' identifies the feature and cannot be edited: import a new feature instead",
                field=name,
            )
        parsed, issues = convert(pd.Series([raw], dtype=object), field, catalog)
        issue = issues.iloc[0]
        if issue is not None and issue.severity == "error":
            raise InvalidInput(f"{field.label}（{name}）：{issue.zh}", f"{name}: {issue.en}", field=name, value=raw)
        value = _plain(parsed.iloc[0])
        if value is None and field.required:
            raise InvalidInput(f"“{field.label}”（{name}）为必填项", f"'{name}' is required", field=name, value=raw)
        values[name] = value
    return values


def parse_geometry(spec: LayerSpec, geometry: Any) -> bytes:
    """WKB of a GeoJSON geometry (lon/lat in the catalog's CRS) shaped for ``spec``, or InvalidInput."""
    try:
        geom = shapely.from_geojson(json.dumps(geometry))
    except (shapely.errors.GEOSException, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"几何不是有效的 GeoJSON：{exc}", f"geometry is not valid GeoJSON: {exc}", field="geometry"
        ) from None
    shaped, issues, _ = normalise(np.array([geom], dtype=object), spec.geometry)
    errors = [issue for _, issue in issues if issue.severity == "error"]
    if errors:
        raise InvalidInput(f"几何：{errors[0].zh}", f"geometry: {errors[0].en}", field="geometry")
    bounds = shapely.bounds(shaped[0])
    if not (-180 <= bounds[0] <= bounds[2] <= 180 and -90 <= bounds[1] <= bounds[3] <= 90):
        raise InvalidInput(
            "几何坐标不是经纬度（应为 CGCS2000 经度、纬度）",
            "geometry coordinates are not longitude/latitude (CGCS2000)",
            field="geometry",
        )
    return bytes(shapely.to_wkb(shaped[0]))


def feature_row(conn: Connection, spec: LayerSpec, feature: int, lock: bool = False) -> dict[str, Any]:
    """A feature's stored row (geometry as GeoJSON), or NotFound."""
    row = conn.execute(
        text(
            f"SELECT to_jsonb(t) - 'geom' AS row, ST_AsGeoJSON(t.geom, 8)::jsonb AS geom FROM {spec.name} t "
            "WHERE t.id = :id" + (" FOR UPDATE" if lock else "")
        ),
        {"id": feature},
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"图层 {spec.name} 没有要素 {feature}", f"layer {spec.name} has no feature {feature}", feature=feature
        )
    return {**row.row, "geom": row.geom}


def edit_feature(
    engine: Engine,
    catalog: Catalog,
    spec: LayerSpec,
    feature: int,
    properties: dict[str, Any],
    geometry: Any = None,
    username: str | None = None,
    scope: str = "*",
) -> dict[str, Any]:
    """Change a feature's attributes (and geometry), as one batch; what changed, field by field."""
    values = parse_properties(spec, catalog, properties)
    wkb = parse_geometry(spec, geometry) if geometry is not None else None
    if not values and wkb is None:
        raise InvalidInput("没有要修改的内容", "nothing to change: give properties or a geometry", field="properties")
    with engine.begin() as conn:
        return edit_in(conn, catalog, spec, feature, values, wkb, username, scope)


def edit_in(
    conn: Connection,
    catalog: Catalog,
    spec: LayerSpec,
    feature: int,
    values: dict[str, Any],
    wkb: bytes | None = None,
    username: str | None = None,
    scope: str = "*",
    batch: int | None = None,
) -> dict[str, Any]:
    """Inside an open transaction: store parsed ``values`` (and geometry) of a feature as a batch of its
    own, or as part of ``batch`` whose counts the caller writes (the project ledger's hand-over writes
    the asset fields of a project's features as one batch, in its own transaction)."""
    old = feature_row(conn, spec, feature, lock=True)
    shared = batch is not None
    if batch is None:
        batch = conn.execute(
            text("INSERT INTO batches (layer, source, username) VALUES (:l, :s, :u) RETURNING id"),
            {"l": spec.name, "s": f"edit: {spec.name} {feature}", "u": username},
        ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO feature_history (batch_id, layer, feature_id, old) "
            f"SELECT :b, :l, t.id, to_jsonb(t) FROM {spec.name} t WHERE t.id = :id"
        ),
        {"b": batch, "l": spec.name, "id": feature},
    )
    sets = [f"{name} = :v_{name}" for name in values]
    params: dict[str, Any] = {f"v_{name}": value for name, value in values.items()}
    if wkb is not None:
        sets.append(f"geom = ST_GeomFromWKB(:wkb, {catalog.srid})")
        params["wkb"] = wkb
    moved = False
    if wkb is not None:
        moved = not conn.execute(
            text(f"SELECT ST_Equals(geom, ST_GeomFromWKB(:wkb, {catalog.srid})) FROM {spec.name} WHERE id = :id"),
            {"wkb": wkb, "id": feature},
        ).scalar_one()
    conn.execute(
        text(f"UPDATE {spec.name} SET {', '.join(sets)}, batch_id = :b, updated_at = now() WHERE id = :id"),
        {**params, "b": batch, "id": feature},
    )
    check_write(conn, spec, batch, scope)
    new = feature_row(conn, spec, feature)
    changes = {name: {"old": old.get(name), "new": new.get(name)} for name in values if old.get(name) != new.get(name)}
    if moved:
        changes["geom"] = {"old": old["geom"], "new": new["geom"]}
    if shared:
        return {"batch": int(batch), "layer": spec.name, "feature": feature, "changes": changes}
    labels = {f.name: f.label for f in spec.fields} | {"geom": "几何/geometry"}
    counts = {"read": 1, "inserted": 0, "updated": 1, "changes": {labels[c]: 1 for c in changes}}
    conn.execute(
        text("UPDATE batches SET counts = CAST(:c AS jsonb), report = CAST(:r AS jsonb) WHERE id = :b"),
        {
            "b": batch,
            "c": json.dumps(counts, ensure_ascii=False),
            "r": json.dumps({"edit": {"feature": feature, "changes": changes}}, ensure_ascii=False, default=str),
        },
    )
    invalidate_batch(conn, spec, batch)
    return {"batch": int(batch), "layer": spec.name, "feature": feature, "changes": changes}
