"""HTML pages: ``/`` is the map of every layer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from fupin_gis.api.deps import CatalogDep, EngineDep, SettingsDep
from fupin_gis.mapping.build import build_map

router = APIRouter(tags=["pages"])


@router.get("/", response_class=HTMLResponse)
def map_page(request: Request, engine: EngineDep, catalog: CatalogDep, settings: SettingsDep) -> HTMLResponse:
    """The planner's map; rebuilt only when the data or the coverage changed (a new batch or run)."""
    with engine.connect() as conn:
        version = conn.execute(
            text("SELECT coalesce(max(id), 0), count(*), (SELECT coalesce(max(id), 0) FROM coverage_runs) FROM batches")
        ).one()
    cache = request.app.state.page_cache
    key = ("map", tuple(version))
    if key not in cache:
        cache.clear()
        cache[key] = build_map(engine, catalog, settings.map).get_root().render()
    return HTMLResponse(cache[key])


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon: answer 204 instead of a 404 in every browser console."""
    return Response(status_code=204)
