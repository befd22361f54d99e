"""``/tiles/{layer}/{z}/{x}/{y}.mvt``: vector tiles of every layer and of the coverage."""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import text

from fupin_gis.api.deps import CatalogDep, EngineDep, PrincipalDep
from fupin_gis.errors import InvalidInput, LayerNotFound, NotFound
from fupin_gis.tiles.cache import combine, get_tiles
from fupin_gis.tiles.mvt import check_tile

router = APIRouter(tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"


@router.get("/tiles/{layer}/{z}/{x}/{y}.mvt", response_class=Response)
def tile(
    request: Request,
    layer: str,
    z: int,
    x: int,
    y: int,
    engine: EngineDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
    run: Annotated[int | None, Query(description="coverage: the run (default: the newest)")] = None,
    grid: Annotated[str, Query(description="w: Web Mercator (default); c: 天地图 CGCS2000 (Leaflet EPSG:4326)")] = "w",
    layers: Annotated[str | None, Query(max_length=1000, description="all: the layers, comma-separated")] = None,
) -> Response:
    """A Mapbox vector tile (gzip when the client accepts it); ``coverage`` colours villages by road
    access; ``all`` holds the catalog layers named in ``layers``, each as its own MVT layer.

    Revalidated on every use (``no-cache`` with an ETag): an import or rollback drops the tiles it
    touches in its own transaction, so a browser never keeps a stale tile; ``private``: a tile drawn
    for one account's scope is never kept by a shared cache for another.
    """
    check_tile(z, x, y, grid)
    names = [n for n in (layers or "").split(",") if n]
    for name in names:  # checked wherever given (only ``all`` reads them), so a wrong name never passes silently
        if name not in catalog.layers:
            raise LayerNotFound(name)
    if layer == "all":  # several catalog layers in one tile: one request instead of one per layer
        if not names or len(names) > len(catalog.layers):
            raise InvalidInput(
                "layers 参数应列出图层名（逗号分隔）",
                "layers must list layer names, comma-separated",
                field="layers",
                value=layers,
            )
        parts = get_tiles(engine, catalog, names, z, x, y, None, principal.tile_key, principal.unrestricted, grid)
        data, etag = combine(parts)
    else:
        if layer == "coverage":
            if run is None:
                with engine.connect() as conn:
                    run = conn.execute(text("SELECT max(id) FROM coverage_runs")).scalar_one()
                if run is None:
                    raise NotFound("还没有覆盖分析结果", "No coverage run yet")
        elif layer not in catalog.layers:
            raise LayerNotFound(layer)
        ((data, etag),) = get_tiles(
            engine, catalog, [layer], z, x, y, run, principal.tile_key, principal.unrestricted, grid
        )
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(data, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(gzip.decompress(data), media_type=MVT, headers=headers)
