"""One chunk of a source validated: values converted, geometry shaped and moved into the catalog's
CRS, every problem named by feature and field, the good rows handed to the stager."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.ingest.crs import gcj02_geometries
from fupin_gis.ingest.fields import FieldMapping
from fupin_gis.ingest.geometry import FAMILY, normalise
from fupin_gis.ingest.problems import Problem
from fupin_gis.ingest.reading import FLAG_PREFIX, ValueTally, apply_value_map, flag_column
from fupin_gis.ingest.report import ImportReport
from fupin_gis.ingest.sources import COORDINATES, UNREADABLE, Source
from fupin_gis.ingest.values import Issue, convert


@dataclass
class ChunkContext:
    """What every chunk of one source is read with (decided once per source)."""

    src: Source
    spec: LayerSpec
    catalog: Catalog
    options: Any  # ImportOptions
    fm: FieldMapping
    defaults: dict[str, str]
    tally: ValueTally
    area: shapely.Geometry | None
    transformer: Transformer
    identity: bool
    target: str
    seat_mode: bool
    unwritable: bool
    left_out: Counter[int]
    summaries: list[int]
    report: ImportReport
    stager: Any  # load.Stager


def validate_chunk(ctx: ChunkContext, table: pd.DataFrame, geoms: np.ndarray, ids: np.ndarray) -> None:
    """Check one chunk's features and stage those without an error."""
    src, spec, catalog, options, fm, defaults, tally = (
        ctx.src,
        ctx.spec,
        ctx.catalog,
        ctx.options,
        ctx.fm,
        ctx.defaults,
        ctx.tally,
    )
    area, transformer, identity, target, seat_mode = ctx.area, ctx.transformer, ctx.identity, ctx.target, ctx.seat_mode
    unwritable, left_out, summaries, report, stager = (
        ctx.unwritable,
        ctx.left_out,
        ctx.summaries,
        ctx.report,
        ctx.stager,
    )
    problems = report.problems
    if src.mixed:
        table, geoms, ids = _take_family(table, geoms, ids, FAMILY[target], left_out)
    if COORDINATES in table:  # a spreadsheet's 合计/小计 row: no point, not a feature
        keep = ~_summary_rows(table)
        summaries.extend(int(i) for i in ids[~keep])
        table, geoms, ids = table[keep].reset_index(drop=True), geoms[keep], ids[keep]
    n = len(table)
    if "folder" in src.notes:
        table["folder"] = src.layer
    for name, pairs in fm.flags.items():
        table[FLAG_PREFIX + name] = flag_column(table, pairs)
    for col, dst in fm.mapping.items():
        if col in table and dst in options.values:
            table[col] = apply_value_map(table[col], options.values[dst])
        if dst in defaults:
            default = defaults[dst]
            table[col] = (
                table[col].where(table[col].notna() & (table[col].astype(str).str.strip() != ""), default)
                if col in table
                else default
            )
    rows: dict[str, object] = {
        "_feature": ids,
        "_file": np.full(n, src.label, dtype=object),
    }
    bad = np.zeros(n, dtype=bool)
    for col, dst in fm.mapping.items():
        fieldspec = spec.field(dst)
        values, issues = convert(table[col], fieldspec, catalog)
        if fieldspec.type == "enum":
            tally.add(fieldspec, catalog, table[col], values)
        rows[dst] = values.array
        for i in np.flatnonzero(issues.notna().to_numpy()):
            issue: Issue = issues.iloc[i]
            bad[i] |= issue.severity == "error"
            problems.add(
                Problem(
                    issue.code,
                    issue.zh,
                    issue.en,
                    issue.severity,
                    src.label,
                    int(ids[i]),
                    col,
                    _show(table[col].iloc[i]),
                )
            )
    for f in spec.fields:
        if f.required and f.name in rows and not seat_mode:
            for i in np.flatnonzero(pd.isna(rows[f.name]) & ~bad):  # type: ignore[call-overload]
                bad[i] = True
                problems.add(
                    Problem(
                        "required_missing",
                        f"必填字段 {f.label} 为空",
                        f"required field {f.name} is empty",
                        "error",
                        src.label,
                        int(ids[i]),
                        f.name,
                    )
                )
    if unwritable:
        bad[:] = True
    unreadable = table.pop(UNREADABLE).to_numpy() if UNREADABLE in table else None
    cells = table.pop(COORDINATES).to_numpy() if COORDINATES in table else np.full(n, None)
    shaped, geo_issues, dropped = normalise(geoms, target, unreadable)
    report.z_dropped += dropped
    for row in map(int, np.flatnonzero(pd.notna(cells))):
        bad[row] = True
        x, y = src.columns_xy or ("x", "y")
        blank = cells[row].replace("/", "").strip() == ""
        problems.add(
            Problem(
                "coordinates_missing" if blank else "coordinates_unreadable",
                f"没有坐标（{x}、{y} 为空）" if blank else f"坐标无法读取：{x} / {y} 为 “{cells[row]}”",
                f"no coordinates ({x} and {y} are empty)"
                if blank
                else f"cannot read the coordinates: {x} / {y} is '{cells[row]}'",
                "error",
                src.label,
                int(ids[row]),
                f"{x}/{y}",
                None if blank else cells[row],
            )
        )
    for k, geo_issue in ((k, g) for k, g in geo_issues if pd.isna(cells[k])):
        if geo_issue.severity == "error":
            bad[k] = True
        problems.add(
            Problem(geo_issue.code, geo_issue.zh, geo_issue.en, geo_issue.severity, src.label, int(ids[k]), "geometry")
        )
    ok = ~shapely.is_missing(shaped)
    moved = np.full(n, None, dtype=object)
    if identity:
        moved[ok] = shaped[ok]
    else:
        moved[ok] = shapely.transform(shaped[ok], lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1])))
    if options.datum == "gcj02":
        moved[ok] = gcj02_geometries(moved[ok])
    if area is not None and ok.any() and spec.group != "admin":
        shapely.prepare(area)
        outside = np.zeros(n, dtype=bool)
        outside[ok] = ~shapely.intersects(area, moved[ok])
        for i in np.flatnonzero(outside):
            problems.add(
                Problem(
                    "outside_deployment",
                    "要素不在本县任何县域内",
                    "feature lies outside every county of the deployment",
                    "warning",
                    src.label,
                    int(ids[i]),
                    "geometry",
                )
            )
    room = options.preview - len(report.preview)
    if room > 0:
        keep = np.flatnonzero(ok)[:room]
        shapes = shapely.to_geojson(shapely.set_precision(moved[keep], 1e-6))
        report.preview.extend(
            {"feature": int(ids[i]), "file": src.label, "geometry": json.loads(g)}
            for i, g in zip(keep, shapes, strict=True)
        )
    # WKB without an SRID: the column's (the catalog's) is taken on the way in.
    rows[spec.seat.name if seat_mode and spec.seat else "geom"] = shapely.to_wkb(moved)
    unknown = [c for c in fm.unknown if c in table]
    rows["extra"] = _extra_json(table[unknown]) if unknown else "{}"
    frame = pd.DataFrame({col: rows.get(col, np.full(n, None, dtype=object)) for col in stager.columns}, copy=False)
    stager.write(frame[~bad] if bad.any() else frame)


SUMMARY_WORDS = {"合计", "小计", "总计", "共计", "累计"}  # compared with spaces removed: 合  计


def _summary_rows(table: pd.DataFrame) -> np.ndarray:
    """Rows without coordinates whose cells say 合计/小计/总计 (a sheet's totals)."""
    cells = table[COORDINATES].to_numpy()
    candidates = np.flatnonzero(pd.notna(cells))
    out = np.zeros(len(table), dtype=bool)
    for i in candidates:
        if str(cells[i]).replace("/", "").strip():
            continue  # something was written as coordinates: report it instead
        words = {str(v).replace(" ", "").replace("\u3000", "") for v in table.iloc[i].to_numpy() if isinstance(v, str)}
        out[i] = bool(words & SUMMARY_WORDS)
    return out


# Shapely's type ids: what a drawing's other features are called in the report.
TYPE_NAMES = {
    -1: ("无几何", "no geometry"),
    0: ("点", "points"),
    1: ("线", "lines"),
    2: ("线", "lines"),
    3: ("面", "polygons"),
    4: ("多点", "multipoints"),
    5: ("多线", "multilines"),
    6: ("多面", "multipolygons"),
    7: ("几何集合", "collections"),
}
FAMILY_TYPES = {"Point": (0, 4), "LineString": (1, 2, 5), "Polygon": (3, 6)}


def _take_family(
    table: pd.DataFrame, geoms: np.ndarray, ids: np.ndarray, family: str, left_out: Counter[int]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The features of a mixed source (a CAD drawing, a phone app's KML) in ``family``; the others
    counted by type. A collection (a KML MultiGeometry: a track with its marker points) keeps its
    parts of the family and counts the rest."""
    geoms = geoms.copy()
    types = shapely.get_type_id(geoms)
    for i in np.flatnonzero(types == 7):
        leaves = list(_leaves(geoms[i]))
        parts = [g for g in leaves if shapely.get_type_id(g) in FAMILY_TYPES[family]]
        if not parts or family == "Point" and len(parts) > 1:
            continue  # left out whole, counted as a collection
        left_out.update(int(shapely.get_type_id(g)) for g in leaves if g not in parts)
        geoms[i] = (
            parts[0]
            if family == "Point"
            else shapely.multilinestrings(parts)
            if family == "LineString"
            else shapely.multipolygons(parts)
        )
        types[i] = shapely.get_type_id(geoms[i])
    keep = np.isin(types, FAMILY_TYPES[family])
    left_out.update(types[~keep].tolist())
    return table[keep].reset_index(drop=True), geoms[keep], ids[keep]


def _leaves(geom: shapely.Geometry) -> Iterator[shapely.Geometry]:
    """The single parts of a geometry, collections and multi-parts opened all the way down."""
    if hasattr(geom, "geoms"):
        for g in geom.geoms:
            yield from _leaves(g)
    else:
        yield geom


def _show(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)[:200]


def _extra_json(frame: pd.DataFrame) -> list[str]:
    """Unknown columns of each row as a JSON object (nulls left out)."""
    clean = frame.astype(object).where(frame.notna(), None)
    text = clean.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    if "\\u0000" in text:  # jsonb cannot hold a NUL character: dropped, as from text fields
        text = re.sub(r"(?<!\\)\\u0000", "", text)
    lines = text.splitlines()
    return lines if len(lines) == len(frame) else ["{}"] * len(frame)
