"""Find a village or township by part of its name or the start of its code (the map's search box)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from fupin_gis.db.sql import sql_file


def search_units(engine: Engine, q: str) -> list[dict[str, Any]]:
    """Villages and townships whose name contains ``q`` or whose code starts with it (20 at most),
    each with its township and its bounding box (lon/lat)."""
    like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with engine.connect() as conn:
        rows = conn.execute(text(sql_file("fupin_gis.mapping", "search.sql")), {"q": like}).all()
    return [
        {"kind": r.kind, "code": r.code, "name": r.name, "township": r.parent, "bbox": [r.x0, r.y0, r.x1, r.y1]}
        for r in rows
    ]
