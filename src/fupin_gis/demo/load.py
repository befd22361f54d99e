"""Load a generated county into the database (one transaction, COPY) or write a layer to a file."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.demo.generate import DemoCounty
from fupin_gis.tiles.cache import clear as clear_tiles

CHUNK = 50_000


def to_storage(geoms: np.ndarray, src_epsg: int, dst_epsg: int) -> np.ndarray:
    """Reproject shapely geometries from ``src_epsg`` to ``dst_epsg`` (lon/lat order)."""
    tr = Transformer.from_crs(src_epsg, dst_epsg, always_xy=True)

    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _ewkb(geoms: np.ndarray | None, srid: int) -> np.ndarray | None:
    if geoms is None:
        return None
    return shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True)


def layer_rows(county: DemoCounty, catalog: Catalog, name: str) -> pd.DataFrame:
    """One layer as the rows of its table: catalog columns, geometries as hex EWKB."""
    spec = catalog.layer(name)
    layer = county.layers[name]
    unknown = set(layer.frame.columns) - set(spec.field_names)
    if unknown:
        raise ValueError(f"demo layer {name} has columns not in the catalog: {sorted(unknown)}")
    out = pd.DataFrame({"geom": _ewkb(to_storage(layer.geom, county.epsg, catalog.srid), catalog.srid)})
    if spec.seat is not None:
        seat = layer.seat if layer.seat is not None else np.full(len(layer.geom), None)
        out[spec.seat.name] = _ewkb(to_storage(seat, county.epsg, catalog.srid), catalog.srid)
    for field in spec.fields:
        if field.name in layer.frame:
            column = layer.frame[field.name].reset_index(drop=True)
            out[field.name] = column.astype("Int64") if field.type == "integer" else column
    return out


def load_demo(engine: Engine, catalog: Catalog, county: DemoCounty, progress: Console | None = None) -> dict[str, int]:
    """Replace every layer with the demo county's, in one transaction. Returns rows per layer."""
    names = [spec.name for spec in catalog.ordered() if spec.name in county.layers]
    total = sum(len(county.layers[n].geom) for n in names)
    counts: dict[str, int] = {}
    with engine.begin() as conn, Progress(console=progress, transient=True, disable=progress is None) as bar:
        task = bar.add_task("载入 / loading", total=total)
        tables = ", ".join([*(s.name for s in catalog.ordered()), "batches"])
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        clear_tiles(conn)
        raw = conn.connection.driver_connection
        assert raw is not None
        for name in names:
            rows = layer_rows(county, catalog, name)
            batch = conn.execute(
                text(
                    "INSERT INTO batches (layer, source, username, counts) "
                    "VALUES (:l, :s, 'demo', CAST(:c AS jsonb)) RETURNING id"
                ),
                {"l": name, "s": f"demo {county.scale} seed={county.seed}", "c": f'{{"inserted": {len(rows)}}}'},
            ).scalar_one()
            rows["batch_id"] = batch
            columns = ", ".join(rows.columns)
            bar.update(task, description=f"载入 / loading {name}")
            with raw.cursor() as cur, cur.copy(f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                for start in range(0, len(rows), CHUNK):
                    chunk = rows.iloc[start : start + CHUNK]
                    buf = io.StringIO()
                    chunk.to_csv(buf, header=False, index=False)
                    copy.write(buf.getvalue())
                    bar.advance(task, len(chunk))
            counts[name] = len(rows)
    # statistics for the planner, and hint bits and the visibility map set once here rather than by
    # whichever query first reads the freshly copied rows
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {', '.join(names)}"))
    return counts


def layer_frame(county: DemoCounty, name: str, epsg: int = 4490) -> gpd.GeoDataFrame:
    """One generated layer as a GeoDataFrame in ``epsg``."""
    layer = county.layers[name]
    return gpd.GeoDataFrame(layer.frame.copy(), geometry=gpd.GeoSeries(layer.geom, crs=county.epsg)).to_crs(epsg)


def write_layer(county: DemoCounty, name: str, path: str | Path, epsg: int = 4490) -> Path:
    """Write one layer to a GeoPackage (``.gpkg``), zipped Shapefile (``.zip``) or other OGR file."""
    path = Path(path)
    frame = layer_frame(county, name, epsg)
    if path.suffix.lower() != ".zip":
        frame.to_file(path, layer=name, engine="pyogrio")
        return path
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{name}.shp"
        frame.to_file(shp, engine="pyogrio", encoding="UTF-8")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(tmp).iterdir()):
                zf.write(part, part.name)
    return path
