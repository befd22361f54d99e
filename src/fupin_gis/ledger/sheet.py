"""The 公示 notice sheet: the content frozen at posting (project, place, content and scale, period,
units and people responsible, contractors, funds by source, beneficiaries as counts, the works'
geometry), drawn as an A4 page with a map inset (SVG, no tiles) and a QR code to its public page."""

from __future__ import annotations

import hashlib
import io
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from sqlalchemy import Connection, text

from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.fields import NATURES
from fupin_gis.ledger.money import wan
from fupin_gis.ledger.sqlutil import dumps, ident
from fupin_gis.ledger.state import Project, linked
from fupin_gis.reports.render import print_pdf
from fupin_gis.resources import render_template


def digest(content: dict[str, Any]) -> str:
    """SHA-256 of the content's canonical JSON (sorted keys, money as text)."""
    return hashlib.sha256(dumps(content).encode()).hexdigest()


def _geometry(conn: Connection, led: Ledger, p: Project, villages: list[str]) -> dict[str, Any]:
    """The project's works and the notice's villages as GeoJSON (simplified to about a metre)."""
    features: list[dict[str, Any]] = []
    for layer, ids in linked(p, ("planned", "as_built", "served")).items():
        rows = conn.execute(
            text(
                f"SELECT id, ST_AsGeoJSON(ST_Simplify(geom, 0.00001), 6)::jsonb AS g FROM {ident(layer)} WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        features += [{"type": "Feature", "properties": {"layer": layer, "id": r.id}, "geometry": r.g} for r in rows]
    rows = conn.execute(
        text(
            "SELECT code, name, ST_AsGeoJSON(ST_Simplify(geom, 0.0001), 5)::jsonb AS g FROM villages WHERE code = ANY(:c)"
        ),
        {"c": villages},
    )
    features += [
        {"type": "Feature", "properties": {"layer": "villages", "code": r.code, "name": r.name}, "geometry": r.g}
        for r in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def content(
    conn: Connection, led: Ledger, p: Project, notice: dict[str, Any], notice_id: int, posted_by: str
) -> dict[str, Any]:
    """Everything the sheet shows, frozen with the notice (never personal data: beneficiaries as counts)."""
    rec = p.record
    villages = notice["villages"]
    names = conn.execute(
        text(
            "SELECT v.code, v.name, t.name AS township FROM villages v LEFT JOIN townships t ON t.code = left(v.code, 9) "
            "WHERE v.code = ANY(:c) ORDER BY v.code"
        ),
        {"c": villages},
    ).mappings()
    kind = led.rules.rules.disclosure.kinds[notice["kind"]]
    sub = led.rules.subtypes.get(rec.get("subtype") or "")
    funds: dict[str, Decimal] = {}
    for ln in p.lines:
        if ln["amount"]:
            funds[ln["source"]] = funds.get(ln["source"], 0) + ln["amount"]
    url = f"{led.settings.ledger.public_url.rstrip('/')}/gongshi/{villages[0] if villages else ''}#notice-{notice_id}"
    return {
        "notice": {
            "id": notice_id,
            "kind": notice["kind"],
            "label": kind.label,
            "level": notice["level"],
            "channel": notice["channel"],
            "start": notice["start_on"].isoformat(),
            "end": notice["end_on"].isoformat(),
            "days": notice["days"],
            "day_unit": notice["day_unit"],
            "posted_by": posted_by,
            "url": url,
        },
        "project": {
            "code": p.code,
            "name": rec["name"],
            "category": led.rules.categories[rec["category"]].label if rec.get("category") else "",
            "subtype": sub.label if sub else "",
            "nature": NATURES.get(rec.get("nature") or "", ("", ""))[0],
            "content": rec.get("content") or "",
            "quantity": str(rec["quantity"]) if rec.get("quantity") is not None else None,
            "unit": rec.get("unit") or "",
            "department": rec.get("department") or "",
            "implementer": rec.get("implementer") or "",
            "responsible": rec.get("responsible") or "",
            "start_planned": rec["start_planned"].isoformat() if rec.get("start_planned") else "",
            "end_planned": rec["end_planned"].isoformat() if rec.get("end_planned") else "",
            "indicators": rec.get("indicators") or [],
            "benefit_mechanism": rec.get("benefit_mechanism") or "",
            "beneficiaries": rec.get("beneficiaries") or {},
        },
        "places": [dict(r) for r in names],
        "contractors": sorted({c["contractor"] for c in p.contracts}),
        "funds": [
            {"source": k, "label": led.rules.sources[k].label, "yuan": str(v), "wan": wan(v)}
            for k, v in sorted(funds.items())
        ],
        "total": {"yuan": str(p.total), "wan": wan(p.total)},
        "phones": led.rules.rules.disclosure.supervision_phones,
        "rules_version": led.rules.version,
        "geometry": _geometry(conn, led, p, villages),
    }


def _svg_map(collection: dict[str, Any], width: int = 520, height: int = 300) -> str:
    """The features drawn on a local equirectangular plane (lon scaled by cos lat), as SVG."""
    coords: list[tuple[float, float]] = []

    def walk(g: Any) -> None:
        if isinstance(g, list) and g and isinstance(g[0], int | float):
            coords.append((float(g[0]), float(g[1])))
        elif isinstance(g, list):
            for x in g:
                walk(x)

    for f in collection["features"]:
        walk((f["geometry"] or {}).get("coordinates", []))
    if not coords:
        return ""
    x0, x1 = min(c[0] for c in coords), max(c[0] for c in coords)
    y0, y1 = min(c[1] for c in coords), max(c[1] for c in coords)
    k = math.cos(math.radians((y0 + y1) / 2))
    span = max((x1 - x0) * k, y1 - y0, 1e-6) * 1.08
    scale = min(width, height) / span
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    def xy(c: list[float]) -> str:
        return f"{width / 2 + (c[0] - cx) * k * scale:.1f},{height / 2 - (c[1] - cy) * scale:.1f}"

    parts = []
    for f in collection["features"]:
        g = f["geometry"] or {}
        village = f["properties"]["layer"] == "villages"
        style = (
            'fill="#f1f8e9" stroke="#689f38" stroke-width="1"'
            if village
            else 'fill="none" stroke="#c62828" stroke-width="3"'
        )
        if g.get("type") in ("Polygon", "MultiPolygon"):
            polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
            d = " ".join("M" + " L".join(xy(c) for c in ring) + "Z" for poly in polys for ring in poly)
            parts.append(f'<path d="{d}" {style}/>')
        elif g.get("type") in ("LineString", "MultiLineString"):
            lines = g["coordinates"] if g["type"] == "MultiLineString" else [g["coordinates"]]
            d = " ".join("M" + " L".join(xy(c) for c in line) for line in lines)
            parts.append(f'<path d="{d}" {style}/>')
        elif g.get("type") in ("Point", "MultiPoint"):
            points = g["coordinates"] if g["type"] == "MultiPoint" else [g["coordinates"]]
            for c in points:
                x, y = xy(c).split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="5" fill="#1565c0" stroke="#fff"/>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">{"".join(parts)}</svg>'


def _qr(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=6, border=2)
    buf = io.BytesIO()
    image.save(buf)
    svg = buf.getvalue().decode()
    return svg[svg.index("<svg") :]


def html(frozen: dict[str, Any], templates: Path) -> str:
    """The sheet as one self-contained HTML page (A4)."""
    return render_template(
        templates, "notice.html", c=frozen, map_svg=_svg_map(frozen["geometry"]), qr_svg=_qr(frozen["notice"]["url"])
    )


def pdf(frozen: dict[str, Any], templates: Path, tmp: Path) -> bytes:
    """The sheet printed to PDF by headless Chromium."""
    out = tmp / "notice.pdf"
    print_pdf(html(frozen, templates), out)
    return out.read_bytes()


def loads(value: Any) -> dict[str, Any]:
    """A stored content value (jsonb arrives decoded; text is parsed)."""
    return value if isinstance(value, dict) else json.loads(value)
