"""``/ogc`` tiles: the tile matrix set, each layer's tilesets, its vector tiles (the map's renderer
and cache, under the caller's scope), TileJSON 3.0 and a MapLibre style."""

from __future__ import annotations

import gzip
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fupin_gis.api.deps import CatalogDep
from fupin_gis.api.ogc_http import OgcEngineDep, OgcPrincipalDep, base_url
from fupin_gis.api.routes.ogc import extents_for, layer_for
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.ogc import tiles as tile_docs
from fupin_gis.ogc.documents import JSON, MVT, STYLE
from fupin_gis.tiles.cache import get_tiles
from fupin_gis.tiles.mvt import check_tile

router = APIRouter(prefix="/ogc", tags=["ogc"], include_in_schema=False)


def _json(body: Any, media: str = JSON) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), media_type=media)


def _tms(name: str) -> None:
    if name != tile_docs.TMS:
        raise NotFound(
            f"没有瓦片矩阵集 {name}（可用：{tile_docs.TMS}）", f"no tile matrix set {name} (offered: {tile_docs.TMS})"
        )


def _whole(raw: str, name: str) -> int:
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput(f"{name} 应为非负整数", f"{name} must be a whole number ≥ 0", field=name, value=raw)
    return int(raw)


@router.get("/tileMatrixSets")
def tile_matrix_sets(request: Request, principal: OgcPrincipalDep) -> Response:
    """The tile matrix sets offered."""
    return _json(tile_docs.tile_matrix_sets(base_url(request)))


@router.get("/tileMatrixSets/{tms}")
def tile_matrix_set(tms: str, principal: OgcPrincipalDep) -> Response:
    """WebMercatorQuad."""
    _tms(tms)
    return _json(tile_docs.tile_matrix_set())


@router.get("/collections/{layer}/tiles")
def tilesets(
    request: Request, layer: str, engine: OgcEngineDep, catalog: CatalogDep, principal: OgcPrincipalDep
) -> Response:
    """The layer's tilesets."""
    spec = layer_for(catalog, principal, layer)
    boxes = extents_for(request, engine, catalog, principal)
    return _json(tile_docs.tilesets(spec, base_url(request), boxes.get(spec.name)))


@router.get("/collections/{layer}/tiles/{tms}")
def tileset(
    request: Request, layer: str, tms: str, engine: OgcEngineDep, catalog: CatalogDep, principal: OgcPrincipalDep
) -> Response:
    """The layer's tileset in WebMercatorQuad."""
    spec = layer_for(catalog, principal, layer)
    _tms(tms)
    boxes = extents_for(request, engine, catalog, principal)
    return _json(tile_docs.tileset(spec, base_url(request), boxes.get(spec.name)))


@router.get("/collections/{layer}/tiles/{tms}/tilejson.json")
def tilejson(
    request: Request, layer: str, tms: str, engine: OgcEngineDep, catalog: CatalogDep, principal: OgcPrincipalDep
) -> Response:
    """TileJSON 3.0.0 of the layer."""
    spec = layer_for(catalog, principal, layer)
    _tms(tms)
    boxes = extents_for(request, engine, catalog, principal)
    return _json(tile_docs.tilejson(spec, base_url(request), boxes.get(spec.name)))


@router.get("/collections/{layer}/tiles/{tms}/{tile_matrix}/{tile_row}/{tile_col}")
def tile(
    request: Request,
    layer: str,
    tms: str,
    tile_matrix: str,
    tile_row: str,
    tile_col: str,
    engine: OgcEngineDep,
    catalog: CatalogDep,
    principal: OgcPrincipalDep,
) -> Response:
    """A Mapbox vector tile of the layer (z/y/x), as the caller's scope sees it; gzipped when accepted."""
    spec = layer_for(catalog, principal, layer)
    _tms(tms)
    z, y, x = _whole(tile_matrix, "tileMatrix"), _whole(tile_row, "tileRow"), _whole(tile_col, "tileCol")
    check_tile(z, x, y)
    ((data, etag),) = get_tiles(engine, catalog, [spec.name], z, x, y, None, principal.tile_key, principal.unrestricted)
    headers = {"ETag": etag, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(data, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(gzip.decompress(data), media_type=MVT, headers=headers)


@router.get("/collections/{layer}/styles/default")
def style(request: Request, layer: str, catalog: CatalogDep, principal: OgcPrincipalDep) -> Response:
    """A MapLibre style drawing the layer as the map does."""
    spec = layer_for(catalog, principal, layer)
    return _json(tile_docs.style(spec, catalog, base_url(request)), STYLE)
