"""Run the coverage rules on the database (rule 1 so far) and shape the results as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

import numpy as np
import shapely
from sqlalchemy import Connection, text

from fupin_gis.coverage.network import RoadRows, build_network
from fupin_gis.coverage.road_access import Access, Seat, road_access
from fupin_gis.settings import CoverageSettings

BUILT = ["existing", "completed"]


def _sql(name: str) -> str:
    return resources.files("fupin_gis.coverage").joinpath(f"sql/{name}").read_text("utf-8")


def metric_srid(conn: Connection, settings: CoverageSettings) -> int:
    """The configured metric CRS, else the CGCS2000 3-degree Gauss-Kruger zone of the counties."""
    if settings.metric_srid:
        return settings.metric_srid
    lon = conn.execute(text("SELECT ST_X(ST_Centroid(ST_Extent(geom))) FROM counties")).scalar_one()
    if lon is None:
        lon = conn.execute(text("SELECT ST_X(ST_Centroid(ST_Extent(geom))) FROM roads")).scalar_one() or 108.0
    return 4534 + int(round((float(lon) - 75.0) / 3.0))


def load_roads(conn: Connection, srid: int, settings: CoverageSettings) -> RoadRows:
    """Road parts of the roads layer, in ``srid``."""
    rows = conn.execute(
        text(_sql("roads.sql")),
        {
            "srid": srid,
            "min_width": settings.min_road_width_m,
            "unknown_width_ok": settings.unknown_width_ok,
            "built": BUILT,
        },
    ).all()
    return RoadRows(
        np.array([r.id for r in rows]),
        shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else np.array([], dtype=object),
        np.array([bool(r.usable) for r in rows], dtype=bool),
        np.array([bool(r.crossing_free) for r in rows], dtype=bool),
    )


def load_seats(conn: Connection, srid: int) -> tuple[list[Seat], list[Seat], dict[str, str]]:
    """Village seats (with their township), township seats, and village names."""
    villages: list[Seat] = []
    townships: list[Seat] = []
    names: dict[str, str] = {}
    for r in conn.execute(text(_sql("seats.sql")), {"srid": srid}):
        seat = Seat(r.code, (float(r.x), float(r.y)), r.township)
        (villages if r.kind == "village" else townships).append(seat)
        names[r.code] = r.name
    return villages, townships, names


def _access_json(a: Access) -> dict:
    return {
        "connected": a.connected,
        "network_distance_m": None if a.network_distance_m is None else round(a.network_distance_m, 1),
        "gap_m": None if a.gap_m is None else round(a.gap_m, 1),
        "gap_segments": a.gap_roads,
        "access_m": [None if x is None else round(x, 1) for x in a.access_m],
        "reason": a.reason,
    }


def run_road_access(conn: Connection, settings: CoverageSettings) -> dict:
    """Rule 1 for every village, with township and county summaries."""
    srid = metric_srid(conn, settings)
    net = build_network(load_roads(conn, srid, settings), settings.snap_tolerance_m)
    villages, townships, names = load_seats(conn, srid)
    results = road_access(net, villages, townships, settings.access_distance_m) if villages else []
    out = []
    summary: dict[str, dict[str, float]] = {}
    for a in results:
        out.append({"code": a.code, "name": names[a.code], "road_access": _access_json(a)})
        for key in (a.code[:9], a.code[:6]):
            s = summary.setdefault(key, {"villages": 0, "connected": 0, "gap_m": 0.0})
            s["villages"] += 1
            s["connected"] += a.connected
            s["gap_m"] += a.gap_m or 0.0
    return {
        "created_at": datetime.now(UTC).isoformat(),
        "metric_srid": srid,
        "network": {"edges": int(len(net.u)), "nodes": int(net.n_nodes), **net.fixes},
        "villages": out,
        "summary": {k: {**v, "gap_m": round(v["gap_m"], 1)} for k, v in sorted(summary.items())},
    }
