"""The money's split by village (and so by township): the project's works joined to the village
polygons — the length of a line or the area of a polygon inside each village (geodesic), the
village of each point — and every amount split in those proportions to the fen."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.money import split
from fupin_gis.ledger.sqlutil import ident
from fupin_gis.ledger.state import Project, linked

# geometry kind -> (rank: the highest present decides, the measure of a feature's part in a village)
MEASURES = {
    "MultiPolygon": (3, "ST_Area(ST_Intersection(f.geom, v.geom)::geography)"),
    "MultiLineString": (2, "ST_Length(ST_Intersection(f.geom, v.geom)::geography)"),
    "Point": (1, "1.0"),
}


def weights(conn: Connection, led: Ledger, p: Project) -> tuple[str, dict[str, float]]:
    """How the project's works lie across villages: (basis, village code → metres, m² or points).

    Basis ``features`` when its works fall in villages (the features of the highest geometry
    dimension it has decide), else ``declared``: its 建设地点 villages alike, else ``none``.
    """
    works = linked(p)
    ranked: list[tuple[int, str, list[int]]] = []
    for layer, ids in works.items():
        spec = led.catalog.layer(layer)
        rank, _ = MEASURES[spec.geometry]
        ranked.append((rank, layer, ids))
    out: dict[str, float] = {}
    if ranked:
        top = max(r for r, _, _ in ranked)
        for rank, layer, ids in ranked:
            if rank != top:
                continue
            amount = MEASURES[led.catalog.layer(layer).geometry][1]
            rows = conn.execute(
                text(
                    f"SELECT v.code, sum({amount}) AS w FROM {ident(layer)} f JOIN villages v ON ST_Intersects(f.geom, v.geom) "
                    "WHERE f.id = ANY(:ids) GROUP BY v.code"
                ),
                {"ids": ids},
            )
            for r in rows:
                if r.w and r.w > 0:
                    out[r.code] = out.get(r.code, 0.0) + float(r.w)
    if out:
        return "features", dict(sorted(out.items()))
    declared = list(p.record.get("villages") or [])
    if declared:
        return "declared", {v: 1.0 for v in declared}
    return "none", {}


def by_village(conn: Connection, led: Ledger, p: Project, paid_steps: list[str] | None = None) -> dict[str, Any]:
    """The project's total, budget lines and paid money split by village, exactly (largest remainder)."""
    basis, w = weights(conn, led, p)
    steps = paid_steps or [s.key for s in led.rules.rules.reimbursement.steps]
    names = {
        r.code: (r.name, r.township)
        for r in conn.execute(
            text(
                "SELECT v.code, v.name, t.name AS township FROM villages v LEFT JOIN townships t ON t.code = left(v.code, 9) WHERE v.code = ANY(:c)"
            ),
            {"c": list(w)},
        )
    }
    whole = sum(w.values())
    total = split(p.total, w)
    paid_total = sum((x.net for x in p.payments if x.state(steps) == "approved"), Decimal(0))
    paid = split(paid_total, w)
    sources: dict[str, dict[str, Decimal]] = {}
    for ln in p.lines:
        if ln["amount"]:
            part = split(ln["amount"], w)
            for code, amount in part.items():
                cell = sources.setdefault(code, {})
                cell[ln["source"]] = cell.get(ln["source"], Decimal(0)) + amount
    return {
        "project": p.code,
        "basis": basis,
        "villages": [
            {
                "code": code,
                "name": names.get(code, ("", ""))[0],
                "township": names.get(code, ("", ""))[1],
                "weight": round(value, 3),
                "share": round(value / whole, 6) if whole else None,
                "total": total[code],
                "paid": paid[code],
                "by_source": sources.get(code, {}),
            }
            for code, value in w.items()
        ],
    }
