"""Read a layer's features from PostGIS as GeoJSON with labelled properties for popups."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.catalog import Catalog, LayerSpec


def display_value(value: Any, field_type: str, labels: dict[str, str]) -> Any:
    """A stored value as a clerk reads it: enum keys as Chinese labels, booleans as 是/否."""
    if value is None:
        return ""
    if field_type == "enum":
        return labels.get(value, value)
    if field_type == "boolean":
        return "是" if value else "否"
    if isinstance(value, float):
        return round(value, 2)
    return value


def layer_geojson(conn: Connection, catalog: Catalog, spec: LayerSpec, limit: int | None = None) -> dict:
    """A FeatureCollection of ``spec``'s features (lon/lat), properties: the popup fields.

    Each feature also carries ``_style``: the raw value of the field the layer is styled by.
    """
    fields = [spec.field(name) for name in spec.style.popup]
    by = spec.style.by
    columns = ", ".join(dict.fromkeys([f.name for f in fields] + ([by] if by else [])))
    select = (
        f"SELECT id, ST_AsGeoJSON(geom, 6) AS g{', ' + columns if columns else ''} "
        f"FROM {spec.name} WHERE geom IS NOT NULL ORDER BY id"
    )
    if limit is not None:
        select += " LIMIT :limit"
    labels = {f.name: {v.key: v.label for v in f.enum_values(catalog)} for f in fields}
    features = []
    for row in conn.execute(text(select), {"limit": limit}).mappings():
        props = {f.label: display_value(row[f.name], f.type, labels[f.name]) for f in fields}
        if by:
            raw = row[by]
            props["_style"] = str(raw).lower() if isinstance(raw, bool) else raw
        features.append({"type": "Feature", "id": row["id"], "geometry": json.loads(row["g"]), "properties": props})
    return {"type": "FeatureCollection", "features": features}
