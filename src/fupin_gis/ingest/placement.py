"""Where a source's coordinates are: the deployment's area, and the CRS decided for a source
(the user's option, the .prj, the format's own, else inferred from the coordinates)."""

from __future__ import annotations

import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from sqlalchemy import Connection, text

from fupin_gis.errors import ImportRefused
from fupin_gis.ingest.crs import CrsDecision, infer_crs, parse_crs
from fupin_gis.ingest.sources import Source


def deployment_area(conn: Connection) -> shapely.Geometry | None:
    """The union of the deployment's counties (lon/lat), or None when there are none."""
    wkb = conn.execute(text("SELECT ST_AsBinary(ST_Union(geom)) FROM counties")).scalar_one()
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else None


def decide_crs(src: Source, option: str | None, area: shapely.Geometry | None) -> CrsDecision:
    """Option, then .prj, then the format's own CRS, then inference from the coordinates."""
    if option:
        try:
            return CrsDecision(parse_crs(option), "option")
        except CRSError as exc:
            raise ImportRefused(f"无法识别 --crs {option}", f"cannot read --crs {option}: {exc}") from exc
    if src.prj:
        try:
            return CrsDecision(CRS.from_user_input(src.prj), "prj")
        except CRSError:
            decision = infer_crs(src.bounds, area) if src.bounds else CrsDecision(None, "prj")
            decision.note = "无法解析 .prj，按坐标推断 / unreadable .prj, inferred from coordinates. " + decision.note
            return decision
    if src.format_crs:
        crs = CRS.from_user_input(src.format_crs)
        # GeoJSON says lon/lat, but projected coordinates in GeoJSON are common in the wild.
        if crs.is_geographic and src.bounds and max(abs(v) for v in src.bounds) > 360:
            return infer_crs(src.bounds, area)
        return CrsDecision(crs, "format")
    if src.bounds is None:
        return CrsDecision(None, "inferred", note="没有坐标 / no coordinates")
    return infer_crs(src.bounds, area)
