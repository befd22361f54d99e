"""One village: its figures from the newest coverage run, its assets, and a map of its area."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import folium
from branca.element import Element, Figure
from sqlalchemy import Connection, Engine, text

from fupin_gis.auth.scope import township_sql
from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.coverage.checklists import load_checklists
from fupin_gis.db.sql import ident
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.mapping.assets import localise
from fupin_gis.mapping.build import fit, style_variants

# layers drawn on the village map, bottom to top
MAP_LAYERS = ["slope_farmland", "roads", "water_lines", "water_points", "facilities"]
MARGIN_DEG = 0.01  # about 1 km around the village


def check_code(code: str) -> str:
    """A 12-digit village code, or InvalidInput."""
    if not re.fullmatch(r"\d{12}", code):
        raise InvalidInput(
            f"村代码 “{code}” 无效：应为12位数字",
            f"Invalid village code '{code}': 12 digits expected",
            field="code",
            value=code,
        )
    return code


def shown(value: Any, field_type: str, labels: dict[str, str]) -> Any:
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


def as_text(value: Any) -> Any:
    """A value made safe for a place that reads HTML (folium popups, tooltips, layer names)."""
    return html.escape(value) if isinstance(value, str) else value


def village_facts(engine: Engine, catalog: Catalog, code: str) -> dict[str, Any]:
    """The village, its township, the newest run's result for it with check labels, and its assets by layer."""
    check_code(code)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT v.code, v.name, v.households, v.population, t.name AS township, t.code AS township_code, "
                "ST_XMin(v.geom) AS x0, ST_YMin(v.geom) AS y0, ST_XMax(v.geom) AS x1, ST_YMax(v.geom) AS y1 "
                f"FROM villages v LEFT JOIN townships t ON t.code = {township_sql('v.code')} WHERE v.code = :c"
            ),
            {"c": code},
        ).one_or_none()
        if row is None:
            raise NotFound(f"没有村 {code}", f"No village {code}", village=code)
        run = conn.execute(
            text(
                "SELECT r.id, r.created_at, r.rules, c.result FROM coverage_runs r JOIN coverage_villages c "
                "ON c.run_id = r.id AND c.code = :c ORDER BY r.id DESC LIMIT 1"
            ),
            {"c": code},
        ).one_or_none()
        assets = _assets(conn, catalog, code)
    checks = []
    if run is not None:
        labels: dict[str, str] = {}
        path = (run.rules or {}).get("checklist_file")
        try:
            lists = load_checklists(Path(path), catalog) if path else None
            labels = {i.key: i.label for i in lists.village} if lists else {}
        except InvalidInput:
            pass
        ordered = [k for k in labels if k in run.result.get("checks", {})] + [
            k for k in run.result.get("checks", {}) if k not in labels
        ]
        checks = [{"key": k, "label": labels.get(k, k), **run.result["checks"][k]} for k in ordered]
    return {
        "code": row.code,
        "name": row.name,
        "township": row.township,
        "township_code": row.township_code,
        "households": row.households,
        "population": row.population,
        "bbox": [row.x0, row.y0, row.x1, row.y1],
        "run": None
        if run is None
        else {
            "id": run.id,
            "created_at": run.created_at.isoformat(),
            "water_distance_m": (run.rules or {}).get("water_distance_m", 800),
        },
        "result": None if run is None else run.result,
        "checks": checks,
        "assets": assets,
    }


def _assets(conn: Connection, catalog: Catalog, code: str) -> list[dict[str, Any]]:
    """Asset-registry features of the village, per layer (code, name, kind, status, value …)."""
    out = []
    for spec in catalog.ordered():
        names = spec.field_names
        if "village_code" not in names or "asset_class" not in names or spec.restricted:
            continue
        wanted = [
            f
            for f in (
                "code",
                "name",
                "kind",
                "road_class",
                "surface",
                "status",
                "asset_class",
                "built_year",
                "asset_value",
            )
            if f in names
        ]
        fields = [spec.field(f) for f in wanted]
        rows = (
            conn.execute(
                text(
                    f"SELECT {', '.join(ident(f) for f in wanted)} FROM {ident(spec.name)} "
                    f"WHERE village_code = :c ORDER BY {ident(wanted[0])} LIMIT 500"
                ),
                {"c": code},
            )
            .mappings()
            .all()
        )
        if not rows:
            continue
        labels = {f.name: {v.key: v.label for v in f.enum_values(catalog)} for f in fields}
        out.append(
            {
                "layer": spec.name,
                "label": spec.label,
                "columns": [{"key": f.name, "label": f.label} for f in fields],
                "rows": [{f.name: shown(r[f.name], f.type, labels[f.name]) for f in fields} for r in rows],
            }
        )
    return out


def _features(conn: Connection, spec: LayerSpec, catalog: Catalog, box: list[float]) -> dict:
    by = spec.style.by
    fields = [spec.field(n) for n in spec.style.popup]
    columns = ", ".join(ident(c) for c in dict.fromkeys([f.name for f in fields] + ([by] if by else [])))
    rows = conn.execute(
        text(
            f"SELECT id, ST_AsGeoJSON(geom, 6) AS g{', ' + columns if columns else ''} FROM {ident(spec.name)} "
            "WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, :srid) LIMIT 20000"
        ),
        {"x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3], "srid": catalog.srid},
    ).mappings()
    labels = {f.name: {v.key: v.label for v in f.enum_values(catalog)} for f in fields}
    features = []
    for r in rows:
        # folium's popups insert values as HTML: a value from a survey file is text, never markup
        props = {f.label: as_text(shown(r[f.name], f.type, labels[f.name])) for f in fields}
        raw = r[by] if by else None
        props["_s"] = str(raw).lower() if isinstance(raw, bool) else raw
        props["_id"] = r["id"]
        features.append({"type": "Feature", "geometry": json.loads(r["g"]), "properties": props})
    return {"type": "FeatureCollection", "features": features}


def village_map(engine: Engine, catalog: Catalog, code: str) -> folium.Map:
    """The village and its surroundings: roads (the road to harden in red), water points with their reach, facilities, farmland."""
    facts = village_facts(engine, catalog, code)
    x0, y0, x1, y1 = facts["bbox"]
    box = [x0 - MARGIN_DEG, y0 - MARGIN_DEG, x1 + MARGIN_DEG, y1 + MARGIN_DEG]
    result = facts["result"] or {}
    gap = set((result.get("road_access") or {}).get("gap_segments") or [])
    water_m = int((facts["run"] or {}).get("water_distance_m", 800))
    m = folium.Map(tiles=None, control_scale=True)
    with engine.connect() as conn:
        outline = conn.execute(
            text(
                "SELECT ST_AsGeoJSON(geom, 6) AS outline, ST_X(seat) AS seat_x, ST_Y(seat) AS seat_y "
                "FROM villages WHERE code = :c"
            ),
            {"c": code},
        ).one()
        folium.GeoJson(
            json.loads(outline.outline),
            name=as_text(f"{facts['name']} 村界"),
            style_function=lambda f: {"color": "#1565c0", "weight": 3, "fill": False},
        ).add_to(m)
        for name in MAP_LAYERS:
            spec = catalog.layer(name)
            data = _features(conn, spec, catalog, box)
            if not data["features"]:
                continue
            base, variants = style_variants(spec)

            def style(f: dict, base: dict = base, variants: dict = variants, roads: bool = name == "roads") -> dict:
                s = dict(variants.get(str(f["properties"]["_s"]), base))
                if roads and f["properties"]["_id"] in gap:
                    s.update(color="#d50000", weight=7, opacity=1.0, dashArray=None)
                return s

            labels = [spec.field(n).label for n in spec.style.popup]
            folium.GeoJson(
                data,
                name=spec.label,
                style_function=style,
                marker=folium.CircleMarker(radius=spec.style.radius) if spec.style.kind == "point" else None,
                popup=folium.GeoJsonPopup(fields=labels) if labels else None,
            ).add_to(m)
            if name == "water_points":
                reach = folium.FeatureGroup(name=f"取水点 {water_m} 米范围 / {water_m} m reach", show=True)
                for feat in data["features"]:
                    lon, lat = feat["geometry"]["coordinates"][:2]
                    folium.Circle(
                        (lat, lon), radius=water_m, color="#0277bd", weight=1, fill=True, fill_opacity=0.04
                    ).add_to(reach)
                reach.add_to(m)
        if outline.seat_x is not None:
            folium.CircleMarker(
                (outline.seat_y, outline.seat_x),
                radius=8,
                color="#000",
                fill=True,
                fill_color="#ffeb3b",
                fill_opacity=1,
                tooltip=as_text(f"{facts['name']} 村委会驻地 / village seat"),
            ).add_to(m)
    fit(m, [[y0, x0], [y1, x1]])
    folium.LayerControl(collapsed=True).add_to(m)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.html.add_child(Element("<style>.leaflet-container{background:#f4f1ea}</style>"))
    localise(root)
    return m
