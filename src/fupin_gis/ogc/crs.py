"""The coordinate reference systems a collection is offered in (OGC API Features Part 2).

Stored: the catalog's CRS (CGCS2000, EPSG:4490). Offered: CRS84 (the default; the stored numbers
themselves — CGCS2000 and WGS 84 differ by less than a metre, which the registry does not model),
the storage CRS and EPSG:4326 (latitude first, as EPSG defines them), Web Mercator (EPSG:3857)
and the CGCS2000 3-degree Gauss-Kruger zones of the deployment's counties, with the central
meridian (EPSG:4534–4554) and with the zone number before the easting (EPSG:4513–4533), both
northing first. Coordinates are written, and ``bbox-crs`` / ``filter-crs`` read, in each CRS's
own axis order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError

from fupin_gis.errors import InvalidInput

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
GK_CM = range(4534, 4555)  # CGCS2000 / 3-degree Gauss-Kruger CM 75E … 135E
GK_ZONE = range(4513, 4534)  # CGCS2000 / 3-degree Gauss-Kruger zone 25 … 45 (zone number in the easting)
_EPSG = re.compile(
    r"^(?:\[?EPSG:(?P<a>\d+)\]?|urn:ogc:def:crs:EPSG:[\d.]*:(?P<b>\d+)|https?://www\.opengis\.net/def/crs/EPSG/0/(?P<c>\d+))$",
    re.I,
)
_CRS84 = re.compile(
    r"^(?:\[?OGC:CRS84\]?|CRS84|urn:ogc:def:crs:OGC:1\.3:CRS84|https?://www\.opengis\.net/def/crs/OGC/1\.3/CRS84)$",
    re.I,
)


@dataclass(frozen=True)
class OutputCrs:
    """A CRS a collection is offered in: its URI, SRID (None: CRS84, the stored numbers), axis order."""

    uri: str
    srid: int | None
    northing_first: bool
    metric: bool

    @property
    def header(self) -> str:
        """The value of a ``Content-Crs`` header."""
        return f"<{self.uri}>"

    @property
    def digits(self) -> int:
        """Decimal digits written: 9 for degrees (0.1 mm), 4 for metres."""
        return 4 if self.metric else 9


@cache
def _describe(srid: int) -> OutputCrs:
    crs = CRS.from_epsg(srid)
    first = crs.axis_info[0].direction.lower() if crs.axis_info else "east"
    return OutputCrs(f"{EPSG_URI}{srid}", srid, first == "north", not crs.is_geographic)


def default_crs() -> OutputCrs:
    """CRS84: longitude, latitude; the stored CGCS2000 numbers."""
    return OutputCrs(CRS84, None, False, False)


def gauss_kruger_zones(lon_min: float, lon_max: float) -> list[int]:
    """The CGCS2000 3-degree Gauss-Kruger SRIDs (central meridian, then zone-number forms) whose zones
    the longitudes ``lon_min``–``lon_max`` touch (none outside China's zones 25–45)."""
    first = max(int(round(lon_min / 3.0)), 25)
    last = min(int(round(lon_max / 3.0)), 45)
    zones = list(range(first, last + 1))
    return [4534 + z - 25 for z in zones] + [4513 + z - 25 for z in zones]


def offered(storage_srid: int, zones: list[int]) -> list[OutputCrs]:
    """Every CRS a collection is offered in: CRS84 first, then the storage CRS, 4326, 3857 and ``zones``."""
    srids = [storage_srid, 4326, 3857, *zones]
    seen: list[OutputCrs] = [default_crs()]
    for srid in srids:
        if all(c.srid != srid for c in seen):
            seen.append(_describe(srid))
    return seen


def parse_crs(value: str | None, choices: list[OutputCrs], field: str = "crs") -> OutputCrs:
    """The offered CRS that ``value`` names (a URI, a CURIE, ``EPSG:n``), CRS84 when empty; InvalidInput
    naming the parameter and the CRSs offered otherwise."""
    if value is None or not value.strip():
        return choices[0]
    text = value.strip()
    if _CRS84.match(text):
        return choices[0]
    match = _EPSG.match(text)
    if match:
        srid = int(match.group("a") or match.group("b") or match.group("c"))
        for choice in choices:
            if choice.srid == srid:
                return choice
    names = ", ".join(c.uri for c in choices)
    raise InvalidInput(
        f"参数 {field} 的坐标系 “{text}” 不受支持：可用 {names}",
        f"{field}: the CRS '{text}' is not offered; offered: {names}",
        field=field,
        value=text,
    )


@cache
def _to_storage(srid: int, storage_srid: int) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(srid), CRS.from_epsg(storage_srid), always_xy=True)


def _outside(field: str, what: str) -> InvalidInput:
    return InvalidInput(
        f"参数 {field} 的坐标 {what} 超出该坐标系的范围", f"{field}: {what} lies outside its CRS", field=field
    )


def bounds_to_storage(
    box: tuple[float, float, float, float], crs: OutputCrs, storage_srid: int, field: str = "bbox"
) -> tuple[float, float, float, float]:
    """A box given in ``crs`` (its axis order) as lon/lat bounds in the storage CRS (the box that holds it)."""
    a1, a2, b1, b2 = box
    if crs.northing_first:
        a1, a2, b1, b2 = a2, a1, b2, b1
    if not all(math.isfinite(v) for v in (a1, a2, b1, b2)) or a1 > b1 or a2 > b2:
        raise _outside(field, str(list(box)))
    if crs.srid is not None and crs.srid != storage_srid:
        try:
            a1, a2, b1, b2 = _to_storage(crs.srid, storage_srid).transform_bounds(a1, a2, b1, b2, densify_pts=21)
        except ProjError:
            raise _outside(field, str(list(box))) from None
    if not (all(math.isfinite(v) for v in (a1, a2, b1, b2)) and -180 <= a1 <= b1 <= 180 and -90 <= a2 <= b2 <= 90):
        raise _outside(field, str(list(box)))
    return a1, a2, b1, b2


def geometry_to_storage(geom: shapely.Geometry, crs: OutputCrs, storage_srid: int, field: str) -> shapely.Geometry:
    """A geometry given in ``crs`` (its axis order) in the storage CRS's lon/lat."""
    if crs.northing_first:
        geom = shapely.transform(geom, lambda c: c[:, ::-1])
    if crs.srid is not None and crs.srid != storage_srid:
        move = _to_storage(crs.srid, storage_srid)
        geom = shapely.transform(geom, lambda c: np.column_stack(move.transform(c[:, 0], c[:, 1])))
    xmin, ymin, xmax, ymax = shapely.bounds(geom)
    if not (math.isfinite(xmin) and -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise _outside(field, geom.geom_type)
    return geom


def read_geojson(node: Any, field: str) -> shapely.Geometry:
    """A GeoJSON geometry object as a shapely geometry; InvalidInput naming ``field`` when it is none."""
    if not isinstance(node, dict):
        raise InvalidInput(f"{field} 应为 GeoJSON 几何", f"{field} must be a GeoJSON geometry", field=field)
    try:
        return shapely.geometry.shape(node)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, shapely.errors.ShapelyError) as exc:
        raise InvalidInput(
            f"{field} 不是有效的 GeoJSON 几何：{exc}", f"{field} is not a valid GeoJSON geometry: {exc}", field=field
        ) from None
