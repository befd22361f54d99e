"""Open the datasets of an upload and stream their features in chunks.

OGR formats (Shapefile, GeoPackage, GeoJSON, KML) stream through pyogrio's Arrow reader;
CSV and XLSX are tables whose coordinate columns (经度/纬度, lon/lat, x/y …) make points.
Nothing holds a whole file in memory except a spreadsheet (they are small).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

from fupin_gis.errors import UnsupportedFormat
from fupin_gis.ingest.crs import CHINA_LONLAT
from fupin_gis.ingest.decoding import check_utf8, furthest, names_refused, table_refused, undecodable_problem
from fupin_gis.ingest.encoding import EncodingDecision, decide_for_mapinfo, decide_for_shapefile, normalise
from fupin_gis.ingest.problems import Problem
from fupin_gis.ingest.shapefile import repair_field_names, restore_shx, sidecar, undecodable_values

# Chinese <Data name="…"> in KML from phone map apps stays as it is (LIBKML would make it "______").
pyogrio.set_gdal_config_options({"LIBKML_LAUNDER_FIELD_NAMES": "NO"})

LON_NAMES = ["经度", "lon", "lng", "long", "longitude", "x坐标", "东经", "jd", "x"]
LAT_NAMES = ["纬度", "lat", "latitude", "y坐标", "北纬", "wd", "y"]
PROJ_X = ["x", "东坐标", "横坐标", "easting", "e"]
PROJ_Y = ["y", "北坐标", "纵坐标", "northing", "n"]
UNREADABLE = "__unreadable_geometry"
COORDINATES = "__coordinate_cells"  # a table row's coordinate cells when they make no point
DMS = re.compile(
    r"^\s*([NSEW北南东西]|东经|西经|北纬|南纬)?\s*(\d+(?:\.\d+)?)\s*[°度]\s*(?:(\d+(?:\.\d+)?)\s*['′’分])?"
    r"\s*(?:(\d+(?:\.\d+)?)\s*(?:[\"″”秒]|'')?)?\s*([NSEW北南东西])?\s*$"
)


@dataclass
class Source:
    """One layer of one file, ready to stream."""

    path: Path
    layer: str | None
    kind: str  # ogr | table
    label: str
    geometry_type: str | None
    count: int | None
    fields: list[str]
    bounds: tuple[float, float, float, float] | None
    prj: str | None = None
    format_crs: str | None = None
    encoding: EncodingDecision | None = None
    columns_xy: tuple[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    # A CAD drawing mixes points (text, blocks), lines and areas in one layer: the features of the
    # target's geometry family are taken, the others left out and counted.
    mixed: bool = False
    cautions: list[Problem] = field(default_factory=list)  # warnings about the whole source

    def chunks(self, size: int) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        """(attributes, shapely geometries) in chunks of ``size`` features."""
        if self.kind == "table":
            yield from _table_chunks(self, size)
            return
        kwargs = {"encoding": self.encoding.name} if self.encoding and self.path.suffix.lower() == ".shp" else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # already reported as notes when the file was opened
            yield from self._ogr_chunks(size, kwargs)

    def _ogr_chunks(self, size: int, kwargs: dict) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        try:
            yield from self._arrow_chunks(size, kwargs)
        except UnicodeDecodeError as exc:  # a field name GDAL hands over undecoded
            raise names_refused(self.label, self.path, exc) from None

    def _arrow_chunks(self, size: int, kwargs: dict) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        with pyogrio.open_arrow(self.path, layer=self.layer, batch_size=size, use_pyarrow=True, **kwargs) as (
            meta,
            reader,
        ):
            geom_col = meta["geometry_name"] or "wkb_geometry"
            start = 0
            for batch in reader:
                check_utf8(self.label, self.path, batch, start)
                table = batch.to_pandas()
                start += len(table)
                wkb = table.pop(geom_col).to_numpy() if geom_col in table else np.full(len(table), None)
                geoms = shapely.from_wkb(wkb, on_invalid="ignore")
                # WKB that GEOS cannot build (a ring of 2 points, TIN, MultiPatch) is reported as such.
                table[UNREADABLE] = pd.isna(geoms) & pd.notna(wkb)
                yield table, geoms


def open_sources(path: Path, display: str, encoding: str | None, pick: str | None) -> list[Source]:
    """Every layer of ``path`` (a layer of a GeoPackage or a KML folder each)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".xlsx", ".xls"):
        return [_table_source(path, display, encoding, pick)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sources = _open_ogr(path, display, encoding, pick)
    for src in sources:
        src.notes.extend(dict.fromkeys(f"GDAL: {w.message}" for w in caught))
    return sources


def _open_ogr(path: Path, display: str, encoding: str | None, pick: str | None) -> list[Source]:
    suffix = path.suffix.lower()
    restored = restore_shx(path) if suffix == ".shp" else []
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        said = str(exc).replace(f"{path.parent}/", "")  # GDAL names our working copy: keep the file's name
        raise UnsupportedFormat(
            f"{display}：无法读取（{said}）", f"{display}: cannot be read ({said})", file=display
        ) from exc
    names = [str(row[0]) for row in layers]
    if pick:
        if pick not in names:
            raise UnsupportedFormat(
                f"{display}：没有图层 “{pick}”（有：{'、'.join(names)}）",
                f"{display}: no layer '{pick}' (it has: {', '.join(names)})",
                file=display,
            )
        names = [pick]
    elif suffix == ".gpx":
        # route_points and track_points are the vertices of the routes and tracks, not features.
        names = [n for n in names if n not in ("route_points", "track_points")]
    out = []
    for name in names:
        enc = decide_for_shapefile(path, encoding, display) if suffix == ".shp" else None
        kwargs = {"encoding": enc.name} if enc else {}
        if suffix in (".tab", ".mif"):
            enc = decide_for_mapinfo(path, encoding)  # the header made to declare it: GDAL decodes
        dbf = sidecar(path, ".dbf") if suffix == ".shp" else None
        repaired = repair_field_names(dbf, enc.name) if dbf and enc else []
        try:
            info = pyogrio.read_info(path, layer=name, force_feature_count=True, force_total_bounds=True, **kwargs)
        except UnicodeDecodeError as exc:  # a field name GDAL hands over undecoded (a GBK GeoJSON)
            raise names_refused(display, path, exc) from None
        prj = sidecar(path, ".prj") if suffix == ".shp" else None
        label = display if len(names) == 1 else f"{display}:{name}"
        src = Source(
            path,
            name,
            "ogr",
            label,
            info.get("geometry_type"),
            info.get("features"),
            list(info["fields"]),
            tuple(info["total_bounds"]) if info.get("total_bounds") is not None else None,
            prj=prj.read_text("latin-1") if prj else None,
            format_crs=None if suffix == ".shp" else info.get("crs"),
            encoding=enc,
        )
        src.notes.extend(repaired + restored)
        text_table = dbf if dbf else sidecar(path, ".dat") if suffix == ".tab" else None
        if text_table is not None and enc is not None:  # GDAL drops undecodable bytes in silence
            src.cautions.extend(
                undecodable_problem(display, u, enc.name) for u in undecodable_values(text_table, enc.name)
            )
        if enc is not None and enc.cpg_said:
            src.cautions.append(
                Problem(
                    "cpg_contradicted",
                    f"{display}：.cpg 写的是 {enc.cpg_said}，但文字不是这种编码；已按检测到的 {enc.name} 读取，请核对预览",
                    f"{display}: the .cpg says {enc.cpg_said} but the text is not; read as the detected {enc.name}, check the preview",
                    "warning",
                    display,
                    field="encoding",
                )
            )
        if suffix == ".shp" and dbf is None:
            src.cautions.append(
                Problem(
                    "dbf_missing",
                    f"{display}：缺少同名的 .dbf 属性表，要素没有属性；请把 .dbf 一起上传",
                    f"{display}: the .dbf attribute table is missing, so the features have no attributes; include the .dbf",
                    "warning",
                    display,
                )
            )
        if suffix in (".kml",):
            src.notes.append("folder")
        # A CAD drawing holds every kind whatever its first entity was; a phone app's KML mixes a
        # track with its marker points (then its declared type is Unknown).
        src.mixed = suffix == ".dxf" or suffix == ".kml" and src.geometry_type in (None, "Unknown")
        if src.mixed:
            src.geometry_type = None
        out.append(src)
    return out


@dataclass(frozen=True)
class TableLayout:
    """Where a table's data sits: the sheet, the header row (title rows above it are common in
    county spreadsheets) and, for text files, the delimiter."""

    sheet: str | int = 0
    header: int = 0
    sep: str = ","


SEPARATORS = [",", ";", "\t", "|"]


def _has_coordinates(cells: list[str]) -> bool:
    return bool(
        (_find_column(cells, LON_NAMES) and _find_column(cells, LAT_NAMES))
        or (_find_column(cells, PROJ_X) and _find_column(cells, PROJ_Y))
    )


def _excel_engine(path: Path) -> str:
    return "openpyxl" if path.suffix.lower() == ".xlsx" else "xlrd"  # .xls: Excel 97–2003


def _excel_layout(path: Path, pick: str | None) -> TableLayout:
    """The first sheet (or the one picked) with a row of coordinate column names in its first 30 rows."""
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, nrows=30, dtype=object, engine=_excel_engine(path))
    except Exception as exc:  # openpyxl/xlrd raise their own errors for damaged workbooks
        raise UnsupportedFormat(
            f"{path.name}：无法读取表格（{exc}）", f"{path.name}: cannot read the workbook ({exc})", file=path.name
        ) from exc
    if pick is not None:
        if pick not in sheets:
            raise UnsupportedFormat(
                f"{path.name}：没有工作表 “{pick}”（有：{'、'.join(map(str, sheets))}）",
                f"{path.name}: no sheet '{pick}' (it has: {', '.join(map(str, sheets))})",
                file=path.name,
            )
        sheets = {pick: sheets[pick]}
    for name, frame in sheets.items():
        for row in range(len(frame)):
            if _has_coordinates([str(v).strip() for v in frame.iloc[row] if pd.notna(v)]):
                return TableLayout(name, row)
    return TableLayout(next(iter(sheets), 0), 0)


def _text_layout(text: str) -> TableLayout:
    """The header line (the first with coordinate column names) and the delimiter of a text table."""
    lines = text.splitlines()[:30]
    for row, line in enumerate(lines):
        for sep in SEPARATORS:
            if _has_coordinates([c.strip().strip('"') for c in line.split(sep)]):
                return TableLayout(header=row, sep=sep)
    first = next((line for line in lines if line.strip()), "")
    return TableLayout(sep=max(SEPARATORS, key=first.count))


def _read_table(
    path: Path, encoding: str | None, nrows: int | None = None, pick: str | None = None
) -> tuple[pd.DataFrame, EncodingDecision, TableLayout]:
    if path.suffix.lower() in (".xlsx", ".xls"):
        layout = _excel_layout(path, pick)
        frame = pd.read_excel(
            path, sheet_name=layout.sheet, header=layout.header, dtype=object, nrows=nrows, engine=_excel_engine(path)
        )
        return frame, EncodingDecision("utf-8", "format", 1.0), layout
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        raise UnsupportedFormat(f"{path.name}：文件是空的", f"{path.name}: the file is empty", file=path.name)
    candidates = [normalise(encoding)] if encoding else ["utf-8-sig", "gb18030"]
    for enc in candidates:
        try:
            layout = _text_layout(head.decode(enc, errors="ignore" if len(head) == 1 << 16 else "strict"))
            frame = pd.read_csv(
                path,
                dtype=str,
                encoding=enc,
                nrows=nrows,
                keep_default_na=False,
                skiprows=layout.header,
                sep=layout.sep,
                skip_blank_lines=True,
            )
            decision = EncodingDecision(
                enc.replace("-sig", ""), "option" if encoding else "detected", 0.9 if not encoding else 1.0
            )
            return frame, decision, layout
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise UnsupportedFormat(
                f"{path.name}：无法读取表格（{exc}）", f"{path.name}: cannot read the table ({exc})", file=path.name
            ) from exc
    # Say where it fails: the row and column (named from the header line) in the likeliest encoding.
    data = path.read_bytes()
    enc = furthest(data, candidates)
    layout = _text_layout(data[: 1 << 16].decode(enc, "replace"))
    raise table_refused(path.name, data, enc, layout.header, layout.sep, bool(encoding))


def _find_column(columns: list[str], names: list[str]) -> str | None:
    folded = {c.strip().casefold(): c for c in columns}
    for name in names:
        if name in folded:
            return folded[name]
    return None


def _table_source(path: Path, display: str, encoding: str | None, pick: str | None = None) -> Source:
    head, enc, layout = _read_table(path, encoding, nrows=2000, pick=pick)
    columns = [str(c) for c in head.columns]
    lon, lat = _find_column(columns, LON_NAMES), _find_column(columns, LAT_NAMES)
    x = lon or _find_column(columns, PROJ_X)
    y = lat or _find_column(columns, PROJ_Y)
    if x is None or y is None:
        raise UnsupportedFormat(
            f"{display}：找不到坐标列（经度/纬度、lon/lat、x/y）；现有列：{'、'.join(columns)}",
            f"{display}: no coordinate columns (经度/纬度, lon/lat, x/y); columns are: {', '.join(columns)}",
            file=display,
        )
    xs, ys = coordinate_values(head[x]), coordinate_values(head[y])
    ok = np.isfinite(xs) & np.isfinite(ys)
    bounds = (float(xs[ok].min()), float(ys[ok].min()), float(xs[ok].max()), float(ys[ok].max())) if ok.any() else None
    fields = [c for c in columns if c not in (x, y)]
    named_lonlat = lon == x and lat == y and lon not in ("x", "X")
    cautions = []
    # 经度 holding latitudes in China and 纬度 longitudes: the columns were filled the wrong way round.
    # Or the Chinese surveying convention (测量坐标系), X the northing and Y the easting: a value of
    # 1.5–6.5 million cannot be an easting in China (those are below 1 million, or 13–45 million
    # with the zone number), so the reading is certain.
    swapped_degrees = named_lonlat and bounds is not None and _inside(bounds[1::2] + bounds[0::2], CHINA_LONLAT)
    if bounds is not None and (swapped_degrees or _northing(bounds[0::2]) and _easting(bounds[1::2])):
        x, y = y, x
        bounds = (bounds[1], bounds[0], bounds[3], bounds[2])
        zh, en = (
            (
                f"“{y}”列是纬度、“{x}”列是经度（两列填反了），已按对调读取；请核对",
                f"column '{y}' holds latitudes and '{x}' longitudes (swapped): read the other way round; please check",
            )
            if swapped_degrees
            else (
                f"按测量习惯读取：“{y}”列为北坐标，“{x}”列为东坐标",
                f"read in the surveying convention: column '{y}' holds northings and '{x}' eastings",
            )
        )
        code = "coordinates_swapped" if swapped_degrees else "xy_surveying_order"
        cautions.append(Problem(code, zh, en, "warning", display, field=f"{y}/{x}"))
    # (With no readable value at all, each row says why; the columns' names still say degrees.)
    lonlat = bool(
        named_lonlat
        and (bounds is None or max(abs(bounds[0]), abs(bounds[2])) <= 180 and max(abs(bounds[1]), abs(bounds[3])) <= 90)
    )
    notes = []
    if isinstance(layout.sheet, str):
        notes.append(f"工作表 sheet: {layout.sheet}")
    if layout.header:
        notes.append(f"表头在第 {layout.header + 1} 行 / the header is on row {layout.header + 1}")
    if layout.sep != ",":
        notes.append(f"分隔符 delimiter: {layout.sep!r}")
    # Columns named 经度/纬度 or lon/lat hold WGS84/CGCS2000 degrees wherever they are.
    return Source(
        path,
        layout.sheet if isinstance(layout.sheet, str) else None,
        "table",
        display,
        "Point",
        len(head) if len(head) < 2000 else None,  # known when the whole table was read
        fields,
        bounds,
        format_crs="EPSG:4490" if lonlat else None,
        encoding=enc,
        columns_xy=(x, y),
        notes=notes,
        cautions=cautions,
    )


def coordinate_values(series: pd.Series) -> np.ndarray:
    """Coordinates from decimal numbers or degrees-minutes-seconds text (107°15′30″E)."""
    numeric = np.array(pd.to_numeric(series, errors="coerce"), dtype=float)  # a writable copy
    missing = np.isnan(numeric) & series.notna().to_numpy()
    for i in np.flatnonzero(missing):
        m = DMS.match(str(series.iloc[i]).upper())
        if m:
            before, deg, minutes, seconds, after = m.groups()
            value = float(deg) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
            hemi = (before or after or "")[:1]
            numeric[i] = -value if hemi in ("S", "W", "南", "西") else value
    return numeric


def _table_chunks(src: Source, size: int) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    frame, _, _ = _read_table(
        src.path, src.encoding.name if src.encoding and src.encoding.source == "option" else None, pick=src.layer
    )
    assert src.columns_xy is not None
    x, y = src.columns_xy
    for start in range(0, len(frame), size):
        part = frame.iloc[start : start + size].reset_index(drop=True)
        xs, ys = coordinate_values(part[x]), coordinate_values(part[y])
        geoms = shapely.points(xs, ys)
        missing = ~(np.isfinite(xs) & np.isfinite(ys))
        geoms[missing] = None
        table = part.drop(columns=[x, y])
        # Why a row has no point, for the report: its coordinate cells as they were written.
        cells = _cell_text(part[x]) + " / " + _cell_text(part[y])
        table[COORDINATES] = cells.where(missing, None)
        yield table, geoms


def _inside(box: tuple[float, ...], frame: tuple[float, float, float, float]) -> bool:
    """Whether (minx, maxx, miny, maxy) lies within ``frame`` (minx, miny, maxx, maxy)."""
    return frame[0] <= box[0] and box[1] <= frame[2] and frame[1] <= box[2] and box[3] <= frame[3]


def _cell_text(column: pd.Series) -> pd.Series:
    """A column's cells as text for a message ('' for an empty cell)."""
    return column.astype(object).map(
        lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
    )


def _northing(values: tuple[float, ...]) -> bool:
    """Whether (min, max) look like Gauss-Kruger northings in China (and cannot be eastings)."""
    return values[0] >= 1.5e6 and values[1] <= 6.5e6


def _easting(values: tuple[float, ...]) -> bool:
    """Whether (min, max) look like Gauss-Kruger eastings, without or with the zone number."""
    return values[0] >= 1e5 and values[1] < 1e6 or values[0] >= 1.3e7 and values[1] < 4.6e7
