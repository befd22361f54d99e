"""Helpers for import tests: run an import, snapshot the database, write crafted files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.ingest import ImportOptions, ImportReport, run_import


def do_import(engine: Engine, catalog: Catalog, path: Path, layer: str, **options: object) -> ImportReport:
    return run_import(engine, catalog, path, ImportOptions(layer=layer, **options))  # type: ignore[arg-type]


def snapshot(engine: Engine, catalog: Catalog) -> dict:
    """Row counts of every layer, the batch list and feature history size."""
    with engine.connect() as conn:
        counts = {
            s.name: conn.execute(text(f"SELECT count(*), coalesce(sum(hashtext(t::text)), 0) FROM {s.name} t")).one()
            for s in catalog.ordered()
        }
        batches = conn.execute(text("SELECT id, status FROM batches ORDER BY id")).all()
        history = conn.execute(text("SELECT count(*) FROM feature_history")).scalar_one()
    return {
        "counts": {k: tuple(v) for k, v in counts.items()},
        "batches": [tuple(b) for b in batches],
        "history": history,
    }


def codes(report: ImportReport, severity: str = "error") -> set[str]:
    return {p.code for p in report.problems.items if p.severity == severity}


def write_shapefile(
    frame: gpd.GeoDataFrame,
    path: Path,
    encoding: str,
    keep_cpg: bool = False,
    ldid: int | None = None,
    keep_prj: bool = True,
) -> Path:
    """A Shapefile written by GDAL, then made like the ones surveyors bring (no .cpg, no .prj)."""
    frame.to_file(path, engine="pyogrio", encoding=encoding)
    if not keep_cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if not keep_prj:
        path.with_suffix(".prj").unlink(missing_ok=True)
    if ldid is not None:
        dbf = path.with_suffix(".dbf")
        data = bytearray(dbf.read_bytes())
        data[29] = ldid
        dbf.write_bytes(bytes(data))
    return path


def zip_files(target: Path, files: list[Path], folder: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f"{folder}{f.name}")
    return target


def shapefile_parts(shp: Path) -> list[Path]:
    return sorted(p for p in shp.parent.iterdir() if p.stem == shp.stem)
