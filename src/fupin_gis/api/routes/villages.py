"""Villages: ``/villages/{code}`` (page and its map), ``/api/villages/{code}``, ``/api/search``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse

from fupin_gis.api.deps import CatalogDep, EngineDep, SettingsDep
from fupin_gis.api.schemas import SearchHit, Village
from fupin_gis.mapping.search import search_units
from fupin_gis.mapping.village import village_facts, village_map
from fupin_gis.resources import render_template

router = APIRouter(tags=["villages"])


@router.get("/api/search", response_model=list[SearchHit])
def search(
    engine: EngineDep,
    q: Annotated[str, Query(min_length=1, max_length=50, description="part of a village or township name, or a code")],
) -> list[dict]:
    """Villages and townships whose name contains ``q`` or whose code starts with it (20 at most)."""
    return search_units(engine, q)


@router.get("/api/villages/{code}", response_model=Village)
def village_json(code: str, engine: EngineDep, catalog: CatalogDep) -> Any:
    """One village: its township, the newest coverage run's result with the checks, and its assets."""
    return jsonable_encoder(village_facts(engine, catalog, code))


@router.get("/villages/{code}", response_class=HTMLResponse)
def village_page(code: str, engine: EngineDep, catalog: CatalogDep, settings: SettingsDep) -> HTMLResponse:
    """The village page: map, the seven checks with reasons, the numbers behind them, the assets."""
    facts = village_facts(engine, catalog, code)
    return HTMLResponse(render_template(settings.web_dir / "templates", "village.html", v=facts))


@router.get("/villages/{code}/map", response_class=HTMLResponse)
def village_map_page(code: str, engine: EngineDep, catalog: CatalogDep) -> HTMLResponse:
    """The village's map alone (shown in the village page)."""
    return HTMLResponse(village_map(engine, catalog, code).get_root().render())
