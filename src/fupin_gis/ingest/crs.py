"""The CRS of a survey file: from its .prj or metadata, an option, or inferred from coordinates.

Inference covers what Chinese survey files carry without a .prj: lon/lat inside China
(CGCS2000, EPSG:4490), Gauss-Kruger eastings with the zone prefixed (3-degree zones 25–45,
EPSG:4513–4533; 6-degree zones 13–23, EPSG:4491–4501), and eastings without a prefix, where
the zone is whichever central meridian puts the data inside the deployment's counties.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

CHINA_LONLAT = (73.0, 3.0, 136.0, 54.0)
CGCS2000 = 4490


@dataclass
class CrsDecision:
    """The CRS chosen for a file and why; ``crs`` is None when the importer must ask."""

    crs: CRS | None
    source: str  # prj | inferred | option | format
    candidates: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def epsg(self) -> int | None:
        """The EPSG code, when the CRS has one."""
        return self.crs.to_epsg(min_confidence=70) if self.crs is not None else None

    def to_dict(self) -> dict:
        """JSON form for reports."""
        return {
            "epsg": self.epsg,
            "name": self.crs.name if self.crs is not None else None,
            "source": self.source,
            "candidates": self.candidates,
            "note": self.note,
        }


def parse_crs(text: str) -> CRS:
    """A CRS from 'EPSG:4545', '4545', WKT or ESRI WKT; CRSError when unreadable."""
    text = text.strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    return CRS.from_user_input(text)


def _centre(bounds: tuple[float, float, float, float]) -> tuple[float, float]:
    return (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2


def lands_inside(crs: CRS, bounds: tuple[float, float, float, float], area: shapely.Geometry | None) -> bool:
    """Whether ``bounds`` in ``crs`` fall inside ``area`` (lon/lat, CGCS2000) — or China without an area."""
    tr = Transformer.from_crs(crs, CGCS2000, always_xy=True)
    xs = np.array([bounds[0], bounds[2], _centre(bounds)[0]])
    ys = np.array([bounds[1], bounds[3], _centre(bounds)[1]])
    lon, lat = tr.transform(xs, ys)
    if not np.all(np.isfinite(lon)):
        return False
    if area is None or area.is_empty:
        return bool(
            np.all(
                (lon > CHINA_LONLAT[0]) & (lon < CHINA_LONLAT[2]) & (lat > CHINA_LONLAT[1]) & (lat < CHINA_LONLAT[3])
            )
        )
    # The centre inside the deployment grown by 20 km (a survey may cross a county line).
    return bool(shapely.intersects_xy(shapely.buffer(area, 0.2), lon[2], lat[2]))


def infer_crs(bounds: tuple[float, float, float, float], area: shapely.Geometry | None) -> CrsDecision:
    """Infer a CRS from coordinate ranges, checked against the deployment's area."""
    minx, miny, maxx, maxy = bounds
    lo = CHINA_LONLAT
    if lo[0] <= minx and maxx <= lo[2] and lo[1] <= miny and maxy <= lo[3]:
        return CrsDecision(
            CRS.from_epsg(CGCS2000), "inferred", [CGCS2000], "经纬度坐标，按 CGCS2000 / lon/lat in China: CGCS2000"
        )
    if lo[0] <= miny and maxy <= lo[2] and lo[1] <= minx and maxx <= lo[3]:
        return CrsDecision(
            None, "inferred", [], "坐标疑似经纬度顺序颠倒 / coordinates look like lat/lon in swapped order"
        )
    if miny >= 1e6 and maxy <= 7e6:
        zone = int(minx // 1e6)
        if minx >= 1e7 and zone == int(maxx // 1e6):
            if 25 <= zone <= 45:
                epsg = 4513 + zone - 25
            elif 13 <= zone <= 23:
                epsg = 4491 + zone - 13
            else:
                return CrsDecision(
                    None, "inferred", [], f"东坐标带号 {zone} 不在中国范围 / zone prefix {zone} is not a Chinese zone"
                )
            crs = CRS.from_epsg(epsg)
            if lands_inside(crs, bounds, area):
                return CrsDecision(
                    crs,
                    "inferred",
                    [epsg],
                    f"东坐标带号 {zone} / zone {zone} from the easting prefix (assumed CGCS2000)",
                )
            return CrsDecision(
                None,
                "inferred",
                [epsg],
                f"按带号 {zone} 换算后不在本县范围 / zone {zone} puts the data outside the deployment",
            )
        if minx >= 1e5 and maxx <= 1e6:
            # No zone prefix: try each 3-degree central meridian (75°E–135°E).
            fits = [e for e in range(4534, 4555) if lands_inside(CRS.from_epsg(e), bounds, area)]
            if len(fits) == 1:
                return CrsDecision(
                    CRS.from_epsg(fits[0]),
                    "inferred",
                    fits,
                    "按本县所在中央经线推断 / central meridian that puts the data in the deployment (assumed CGCS2000)",
                )
            return CrsDecision(None, "inferred", fits, "无法唯一确定中央经线 / the central meridian is ambiguous")
    return CrsDecision(None, "inferred", [], "无法从坐标推断坐标系 / cannot infer the CRS from the coordinates")


# -- GCJ-02 ("Mars coordinates" of Chinese phone map apps) ---------------------------------
_A = 6378245.0
_EE = 0.00669342162296594323


def _outside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    out = _outside_china(lon, lat)
    return np.where(out, 0.0, dlon), np.where(out, 0.0, dlat)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84/CGCS2000 lon/lat to GCJ-02 (the published forward formula)."""
    dlon, dlat = _delta(np.asarray(lon, float), np.asarray(lat, float))
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat back to WGS84 by fixed-point iteration (converges to well under 1 cm)."""
    glon, glat = np.asarray(lon, float), np.asarray(lat, float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(30):
        tlon, tlat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = tlon - glon, tlat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.max(np.abs(elon), initial=0) < 1e-10 and np.max(np.abs(elat), initial=0) < 1e-10:
            break
    return wlon, wlat


def gcj02_geometries(geoms: np.ndarray) -> np.ndarray:
    """Shapely geometries in GCJ-02 lon/lat moved to WGS84/CGCS2000."""

    def fn(coords: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, fn)


__all__ = ["CRSError", "CrsDecision", "gcj02_geometries", "infer_crs", "parse_crs"]
