"""Run an import: read → validate every feature → stage → promote, in one transaction.

Nothing is written unless the whole upload validates: rows go to a temporary staging table as
they are checked, and only when no error was found are they promoted (insert, or upsert by the
layer's key) with a batch row, all in the transaction that created the staging table.
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Engine, text

from fupin_gis.auth.accounts import audit
from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import ImportRefused, InvalidInput
from fupin_gis.ingest import batches, profiles
from fupin_gis.ingest.archive import ArchiveLimits, expand
from fupin_gis.ingest.chunks import TYPE_NAMES, ChunkContext, validate_chunk
from fupin_gis.ingest.crs import lands_inside
from fupin_gis.ingest.encoding import looks_mojibake
from fupin_gis.ingest.encoding import normalise as normalise_encoding
from fupin_gis.ingest.fields import map_fields
from fupin_gis.ingest.geometry import FAMILY, NAMES_ZH
from fupin_gis.ingest.load import Stager, check_keys, defer_indexes, open_batch, promote
from fupin_gis.ingest.placement import decide_crs, deployment_area
from fupin_gis.ingest.problems import Problem
from fupin_gis.ingest.reading import (
    FLAG_PREFIX,
    ValueTally,
    mapping_problems,
    whole_file_defaults,
)
from fupin_gis.ingest.report import ImportReport, SourceReport
from fupin_gis.ingest.sources import Source, open_sources
from fupin_gis.settings import IngestSettings


@dataclass
class ImportOptions:
    """What the user asked for (``fupin-gis import`` options, API form fields)."""

    layer: str
    crs: str | None = None
    encoding: str | None = None
    datum: str | None = None  # "gcj02": coordinates from Chinese phone map apps
    mapping: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)  # --set FIELD=VALUE where the file has none
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # --values FIELD:SRC=DST
    profile: str | None = None  # --profile NAME: read with this saved reading
    save_profile: str | None = None  # --save-profile NAME: keep the confirmed reading (on commit)
    use_profiles: bool = True  # a file whose columns match a saved profile is read with it
    dry_run: bool = False
    replace: bool = False
    source: str | None = None  # one layer inside a GeoPackage/KML, or one file inside a zip
    username: str | None = None
    chunk_size: int = 25_000
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    defer_index_min: int = 50_000  # into an empty layer, this many features rebuild indexes once
    preview: int = 0  # keep this many features' geometry (in the catalog's CRS) for a preview map
    scope: str | None = None  # the importing account's scope: every feature written must lie in it

    @classmethod
    def from_settings(cls, settings: IngestSettings, **values: object) -> ImportOptions:
        """Options with the deployment's limits and chunk size."""
        limits = ArchiveLimits(settings.max_unpacked_mb * 1024**2, settings.max_ratio)
        return cls(limits=limits, chunk_size=settings.chunk_size, defer_index_min=settings.defer_index_min, **values)  # type: ignore[arg-type]


SHAPEFILE_PARTS = (".shp", ".dbf", ".shx", ".prj", ".cpg")


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, streamed; of a loose Shapefile with its .dbf, .shx, .prj and .cpg (a
    survey whose attributes changed is not the same file as before)."""
    h = hashlib.sha256()
    parts = [path]
    if path.suffix.lower() == ".shp":
        beside = {p.suffix.lower(): p for p in path.parent.iterdir() if p.stem == path.stem}
        parts = [beside[s] for s in SHAPEFILE_PARTS if s in beside]
    for part in parts:
        with part.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _family(geometry_type: str | None) -> str | None:
    if not geometry_type:
        return None
    g = geometry_type.replace(" Z", "").replace(" M", "").replace("3D ", "").replace("Multi", "")
    return g if g in ("Point", "LineString", "Polygon") else None


def run_import(
    engine: Engine,
    catalog: Catalog,
    path: Path,
    options: ImportOptions,
    display_name: str | None = None,
    progress: Console | None = None,
) -> ImportReport:
    """Validate ``path`` for ``options.layer`` and, unless a dry run or an error, commit it as one batch."""
    if options.layer not in catalog.layers:
        from fupin_gis.errors import LayerNotFound

        raise LayerNotFound(options.layer)
    spec = catalog.layer(options.layer)
    if options.encoding:
        try:
            normalise_encoding(options.encoding)
        except LookupError:
            raise InvalidInput(
                f"无法识别编码 “{options.encoding}”（常见：gbk、gb18030、utf-8、big5）",
                f"unknown encoding '{options.encoding}' (usually gbk, gb18030, utf-8 or big5)",
                field="encoding",
                value=options.encoding,
            ) from None
    display = display_name or path.name
    report = ImportReport(spec.name, display, sha256_of(path), options.dry_run)
    with tempfile.TemporaryDirectory(prefix="fupin-import-") as tmp, engine.connect() as conn:
        datasets = expand(path, Path(tmp), options.limits)
        with conn.begin() as trans:
            if not options.dry_run:  # the same file into the same layer: one import at a time
                batches.lock_file(conn, spec.name, report.sha256)
            area = deployment_area(conn)
            if options.profile:
                chosen = profiles.get_profile(conn, profiles.check_name(options.profile))
                if chosen.layer != spec.name:
                    raise ImportRefused(
                        f"导入方案 “{chosen.name}” 是图层 {chosen.layer} 的，不是 {spec.name}",
                        f"profile '{chosen.name}' is for layer {chosen.layer}, not {spec.name}",
                        field="profile",
                    )
                options = profiles.with_profile(options, chosen)
                report.profile, report.profile_how = chosen.name, "chosen"
            sources = _choose_sources(spec, datasets, path, display, options, report)
            seat_mode = report.mode == "seats"
            columns = [
                "_feature",
                "_file",
                spec.seat.name if seat_mode and spec.seat else "geom",
                *spec.field_names,
                "extra",
            ]
            batch = None
            if not options.dry_run:
                report.replaced_batches = batches.identical(conn, spec.name, report.sha256)
                if report.replaced_batches and not options.replace:
                    report.problems.add(
                        Problem(
                            "duplicate_file",
                            f"同一文件已导入为批次 {report.replaced_batches}；如需重新导入请加 --replace",
                            f"this exact file was already imported as batch {report.replaced_batches}; use --replace to import it again",
                            file=display,
                        )
                    )
                    trans.rollback()
                    return report
                for old in report.replaced_batches:
                    batches.rollback_in(conn, catalog, old, username=options.username or "system")
                if not seat_mode:
                    batch = open_batch(conn, spec, report, options.username)
            deferred = []
            if batch is not None and sum(s.count or 0 for s, _ in sources) >= options.defer_index_min:
                deferred = defer_indexes(conn, spec)
            stager = Stager(conn, spec, columns, batch)
            stager.start()
            try:
                with Progress(console=progress, transient=True, disable=progress is None) as bar:
                    for src, sreport in sources:
                        read_with = options
                        if report.profile_how != "chosen" and options.use_profiles:
                            matched = profiles.match_profile(conn, spec.name, list(src.fields))
                            if matched is not None:
                                read_with = profiles.with_profile(options, matched)
                                report.profile, report.profile_how = matched.name, "matched"
                        _validate_source(src, sreport, spec, catalog, read_with, area, stager, report, bar)
            finally:
                stager.finish()
            if report.ok:
                check_keys(conn, spec, report, seat_mode, batch)
            if not report.ok or options.dry_run:
                trans.rollback()
                report.batch = None  # the batch opened at the start was rolled back with the rest
                return report
            for ddl in deferred:  # built once, over all the rows, before the commit
                conn.execute(text(ddl))
            filled = {v.partition("=")[0] for src in report.sources for v in src.mapping.values()}
            supplied = [f for f in spec.field_names if f in filled]
            promote(conn, spec, report, options.username, seat_mode, batch, stager.direct, supplied)
            batches.check_write(conn, spec, report.batch, options.scope)
            if options.save_profile:
                saved = profiles.save_profile(
                    conn, profiles.from_report(options.save_profile, report, options), catalog
                )
                report.profile, report.profile_how = saved.name, "saved"
            audit(
                conn,
                options.username,
                "import",
                {"batch": report.batch, "layer": spec.name, "file": display, "profile": report.profile},
            )
    return report


def _choose_sources(
    spec: LayerSpec, datasets: list[Path], upload: Path, display: str, options: ImportOptions, report: ImportReport
) -> list[tuple[Source, SourceReport]]:
    """The layers of the upload that fit ``spec``; the others are listed as skipped."""
    target = FAMILY[spec.geometry]
    chosen: list[tuple[Source, SourceReport]] = []
    all_sources: list[Source] = []
    for ds in datasets:
        name = display if ds == upload or ds.name == upload.name else f"{display}/{ds.name}"
        if options.source and len(datasets) > 1 and options.source not in (ds.name, ds.stem):
            continue
        pick = options.source if len(datasets) == 1 else None
        all_sources.extend(open_sources(ds, name, options.encoding, pick))
    point_seats = spec.seat is not None and target != "Point"
    # A layer without a geometry column (a GeoPackage's attribute table, metadata) holds no features.
    tables = [s for s in all_sources if s.kind == "ogr" and s.geometry_type is None and not s.mixed]
    fits = [s for s in all_sources if _family(s.geometry_type) in (target, None) and s not in tables]
    seats = [s for s in all_sources if point_seats and _family(s.geometry_type) == "Point"]
    if not fits and seats:
        report.mode = "seats"
        fits = seats
    empty = [s for s in fits if s.count == 0]  # e.g. a GPX's routes beside its tracks, or a header only
    fits = [s for s in fits if s not in empty]
    for s in all_sources:
        sr = SourceReport(s.label, s.geometry_type, s.count or 0)
        if s in fits:
            chosen.append((s, sr))
        elif s in empty:
            sr.skipped = "没有要素 / no features"
        elif s in tables:
            sr.skipped = "没有几何（属性表）/ no geometry (an attribute table)"
        else:
            sr.skipped = f"几何类型 {s.geometry_type} 不符合 {spec.label}（{target}）/ geometry {s.geometry_type} does not fit {spec.name}"
        report.sources.append(sr)
    if not chosen and empty:
        report.problems.add(
            Problem(
                "no_features",
                f"{display}：没有要素（空图层，或只有表头）",
                f"{display}: there are no features (an empty layer, or a header row only)",
                file=display,
            )
        )
    elif not chosen:
        listed = ", ".join(f"{s.label} ({s.geometry_type})" for s in all_sources) or "-"
        report.problems.add(
            Problem(
                "no_fitting_layer",
                f"没有适合图层 {spec.label} 的数据：{listed}",
                f"no data that fits layer {spec.name} ({target}): {listed}",
                file=display,
            )
        )
    return chosen


def _validate_source(
    src: Source,
    sreport: SourceReport,
    spec: LayerSpec,
    catalog: Catalog,
    options: ImportOptions,
    area: shapely.Geometry | None,
    stager: Stager,
    report: ImportReport,
    bar: Progress,
) -> None:
    problems = report.problems
    for caution in src.cautions:
        problems.add(caution)
    if src.encoding is not None:
        sreport.encoding = src.encoding.to_dict()
        garbled = looks_mojibake(src.encoding.preview, src.encoding.name)
        if garbled:
            problems.add(
                Problem(
                    "mojibake",
                    f"用 {src.encoding.name} 解码后文字像乱码（如 “{garbled[0]}”）；请用 --encoding 指定正确编码（常见：gbk、utf-8）",
                    f"text decoded as {src.encoding.name} looks garbled (e.g. '{garbled[0]}'); give the right --encoding (usually gbk or utf-8)",
                    file=src.label,
                    value=garbled[0],
                )
            )
            return
    decision = decide_crs(src, options.crs, area)
    sreport.crs = decision.to_dict()
    if decision.crs is None:
        cands = ", ".join(f"EPSG:{c}" for c in decision.candidates) or "-"
        problems.add(
            Problem(
                "crs_unknown",
                f"无法确定坐标系：{decision.note}；请用 --crs 指定（候选：{cands}）",
                f"cannot tell the CRS: {decision.note}; give --crs (candidates: {cands})",
                file=src.label,
            )
        )
        return
    if (
        options.crs is None
        and decision.source != "inferred"
        and src.bounds
        and not lands_inside(decision.crs, src.bounds, area)
    ):
        problems.add(
            Problem(
                "outside_deployment",
                "数据范围不在本县范围内：请核对坐标系",
                "the data lies outside the deployment's counties: check the CRS",
                severity="warning",
                file=src.label,
            )
        )
    fields = list(src.fields) + (["folder"] if "folder" in src.notes else [])
    for name in options.defaults:
        if name not in spec.field_names:
            raise ImportRefused(
                f"--set 的字段 “{name}” 不在图层 {spec.name} 中",
                f"--set field '{name}' is not a field of {spec.name}",
                field=name,
            )
    chunks = src.chunks(options.chunk_size)
    first = next(chunks, None)  # the values the column readings look at
    fm = map_fields(spec, catalog, fields, options.mapping, first[0] if first is not None else None)
    seat_mode = report.mode == "seats"
    for problem in mapping_problems(fm, spec, src.label):
        problems.add(problem)
    mapped_targets = set(fm.mapping.values()) | set(fm.flags)
    defaults, missing = (
        (dict(options.defaults), [])
        if seat_mode
        else whole_file_defaults(spec, catalog, mapped_targets, options.defaults, src.label)
    )
    for problem in missing:
        problems.add(problem)
    for name in defaults:
        if name not in mapped_targets:
            fm.mapping[f"--set {name}"] = name
    for name in fm.flags:
        fm.mapping[FLAG_PREFIX + name] = name
    sreport.mapping, sreport.unknown_fields, sreport.notes = (
        {k: v for k, v in fm.mapping.items() if not k.startswith(FLAG_PREFIX)}
        | {col: f"{name}={key}" for name, pairs in fm.flags.items() for col, key in pairs},
        fm.unknown,
        [n for n in src.notes if n != "folder"] + fm.notes,
    )
    sreport.readings = [r.to_dict() for r in fm.readings]
    if fm.personal and sreport.encoding and first is not None:
        # the decoded samples shown for the encoding must not show a name or ID number either
        secret = {str(v).strip() for col in fm.personal if col in first[0] for v in first[0][col].dropna()}
        sreport.encoding["preview"] = [
            t for t in sreport.encoding.get("preview", []) if not any(v and v in t for v in secret)
        ]
    mapped_targets = set(fm.mapping.values())
    # Without a required column no row can be written (NOT NULL): the values are still checked.
    unwritable = not seat_mode and any(f.required and f.name not in mapped_targets for f in spec.fields)
    if seat_mode and (spec.key is None or spec.key not in mapped_targets):
        problems.add(
            Problem(
                "seat_key_missing",
                f"驻地点文件须有 {spec.key} 字段以对应到{spec.label}",
                f"a seat-point file needs the {spec.key} field to attach points to {spec.name}",
                file=src.label,
                field=spec.key,
            )
        )
        return
    transformer = Transformer.from_crs(decision.crs, catalog.srid, always_xy=True)
    # WGS84 and CGCS2000 lon/lat agree to centimetres: pyproj's transform is a no-op; skip it.
    probe = np.array([[107.25, 31.9], [100.0, 25.0]])
    identity = bool(
        np.allclose(np.column_stack(transformer.transform(probe[:, 0], probe[:, 1])), probe, atol=1e-12, rtol=0)
    )
    task = bar.add_task(f"校验 validating {src.label}", total=src.count)
    offset = 0
    target = "Point" if seat_mode else spec.geometry
    left_out: Counter[int] = Counter()
    summaries: list[int] = []
    tally = ValueTally()
    ctx = ChunkContext(
        src,
        spec,
        catalog,
        options,
        fm,
        defaults,
        tally,
        area,
        transformer,
        identity,
        target,
        seat_mode,
        unwritable,
        left_out,
        summaries,
        report,
        stager,
    )
    for table, geoms in itertools.chain([first] if first is not None else [], chunks):
        ids = np.arange(offset, offset + len(table))  # the features' numbers in the file
        report.features_read += len(table)
        offset += len(table)
        sreport.features = offset
        bar.update(task, advance=len(table))
        validate_chunk(ctx, table, geoms, ids)
    sreport.values = tally.to_dict(spec, catalog)
    if summaries:
        problems.add(
            Problem(
                "summary_rows_skipped",
                f"跳过 {len(summaries)} 个合计/小计行（没有坐标）：第 {summaries[:10]} 行",
                f"skipped {len(summaries)} total/subtotal rows (合计/小计, no coordinates): features {summaries[:10]}",
                "warning",
                src.label,
            )
        )
    if left_out:
        total = sum(left_out.values())
        zh = "、".join(f"{TYPE_NAMES[t][0]} {c}" for t, c in sorted(left_out.items()))
        en = ", ".join(f"{TYPE_NAMES[t][1]} {c}" for t, c in sorted(left_out.items()))
        family = FAMILY[target]
        problems.add(
            Problem(
                "left_out_other_types",
                f"文件中 {total} 个其他几何类型的要素未导入（{zh}）：{spec.label}只收{NAMES_ZH[family]}",
                f"{total} features of other geometry types in the file were left out ({en}): {spec.name} takes {family} features only",
                "warning",
                src.label,
                field="geometry",
            )
        )
