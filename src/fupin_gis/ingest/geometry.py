"""Make survey geometries fit a layer: 2D, single/multi as the catalog says, valid, present."""

from __future__ import annotations

import numpy as np
import shapely

from fupin_gis.ingest.values import Issue

FAMILY = {"Point": "Point", "MultiLineString": "LineString", "MultiPolygon": "Polygon"}
NAMES_ZH = {"Point": "点", "LineString": "线", "Polygon": "面"}


def _parts(geom: shapely.Geometry, family: str) -> list[shapely.Geometry]:
    if geom.geom_type == family:
        return [geom]
    if geom.geom_type in (f"Multi{family}", "GeometryCollection"):
        return [p for g in geom.geoms for p in _parts(g, family)]
    return []


def normalise(
    geoms: np.ndarray, target: str, unreadable: np.ndarray | None = None
) -> tuple[np.ndarray, list[tuple[int, Issue]], int]:
    """Geometries shaped for a layer of type ``target``; issues by position; count of Z/M dropped.

    Invalid polygons are repaired with ``make_valid`` when the repair keeps them polygonal, and
    reported; a geometry of another type is an error, as is a null or empty one.
    """
    family = FAMILY[target]
    out = np.empty(len(geoms), dtype=object)
    issues: list[tuple[int, Issue]] = []
    has_zm = shapely.has_z(geoms) | (shapely.has_m(geoms) if hasattr(shapely, "has_m") else False)
    dropped = int(np.count_nonzero(has_zm))
    flat = shapely.force_2d(geoms) if dropped else geoms
    missing = shapely.is_missing(flat) | shapely.is_empty(flat)
    valid = shapely.is_valid(flat)
    types = shapely.get_type_id(flat)
    # The common cases, vectorised: already the layer's type, or its single form.
    multi_id = {"Point": 0, "LineString": 5, "Polygon": 6}[family]
    single_id = {"Point": 0, "LineString": 1, "Polygon": 3}[family]
    fits = ~missing & valid & (types == multi_id)
    out[fits] = flat[fits]
    single = ~missing & valid & (types == single_id) & (family != "Point")
    if single.any():
        build = shapely.multilinestrings if family == "LineString" else shapely.multipolygons
        out[single] = build(flat[single], indices=np.arange(int(single.sum())))
    slow = np.flatnonzero(~(fits | single))
    for i in map(int, slow):
        geom = flat[i]
        if missing[i]:
            if unreadable is not None and unreadable[i]:
                issue = Issue(
                    "geometry_unreadable",
                    "error",
                    "几何无法解析（如环的点数不足 4 个、MultiPatch/TIN 多面体）",
                    "geometry cannot be read (e.g. a ring of fewer than 4 points, MultiPatch/TIN)",
                )
            else:
                issue = Issue(
                    "geometry_missing",
                    "error",
                    "几何为空、缺失或无法读取（如 MultiPatch/TIN 多面体、点数不足的环）",
                    "geometry is empty, missing or unreadable (e.g. MultiPatch/TIN, a ring of too few points)",
                )
            issues.append((i, issue))
            continue
        if family != "Polygon" and not valid[i]:
            issues.append(
                (
                    i,
                    Issue(
                        "geometry_invalid",
                        "error",
                        f"几何无效：{shapely.is_valid_reason(geom)}",
                        f"invalid geometry: {shapely.is_valid_reason(geom)}",
                    ),
                )
            )
            continue
        if family == "Polygon" and not valid[i]:
            reason = shapely.is_valid_reason(geom)
            fixed = shapely.make_valid(geom)
            parts = _parts(fixed, "Polygon")
            if not parts:
                issues.append(
                    (
                        i,
                        Issue(
                            "geometry_invalid",
                            "error",
                            f"面无效且无法修复：{reason}",
                            f"invalid polygon that cannot be repaired: {reason}",
                        ),
                    )
                )
                continue
            before, after = geom.area, sum(p.area for p in parts)
            issues.append(
                (
                    i,
                    Issue(
                        "geometry_repaired",
                        "warning",
                        f"无效面已修复（{reason}），面积 {before:.6g} → {after:.6g}",
                        f"invalid polygon repaired ({reason}), area {before:.6g} → {after:.6g}",
                    ),
                )
            )
            out[i] = shapely.MultiPolygon(parts)
            continue
        parts = _parts(geom, family)
        if not parts or len(parts) != _count(geom):
            issues.append(
                (
                    i,
                    Issue(
                        "geometry_type",
                        "error",
                        f"几何类型 {geom.geom_type} 不符合本图层（{NAMES_ZH[family]}）",
                        f"geometry type {geom.geom_type} does not fit this layer ({family})",
                    ),
                )
            )
            continue
        if family == "Point":
            if len(parts) > 1:
                issues.append(
                    (
                        i,
                        Issue(
                            "geometry_type",
                            "error",
                            f"多点（{len(parts)} 个点）不能作为一个要素",
                            f"a MultiPoint of {len(parts)} points is not one feature",
                        ),
                    )
                )
                continue
            out[i] = parts[0]
        elif family == "LineString":
            out[i] = shapely.MultiLineString(parts)
        else:
            out[i] = shapely.MultiPolygon(parts)
    return out, issues, dropped


def _count(geom: shapely.Geometry) -> int:
    if hasattr(geom, "geoms"):
        return sum(_count(g) for g in geom.geoms)
    return 1
