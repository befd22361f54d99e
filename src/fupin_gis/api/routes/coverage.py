"""``/api/coverage``: run the rules, read stored runs, compare two; the road topology report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder

from fupin_gis.api.background import warm_in_background
from fupin_gis.api.deps import CatalogDep, EngineDep, SettingsDep, SystemEngineDep, require
from fupin_gis.api.schemas import Run, RunDiff, RunSummary, RunVillage
from fupin_gis.auth.accounts import RUNNERS, Principal
from fupin_gis.coverage.plan import load_plan, measure
from fupin_gis.coverage.snapshots import as_seen, create_run, diff_runs, get_run, list_runs
from fupin_gis.coverage.topology import topology, with_codes

router = APIRouter(prefix="/api/coverage", tags=["coverage"])


@router.post("/runs", status_code=201, response_model=Run)
def new_run(
    request: Request,
    system: SystemEngineDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    principal: Annotated[Principal, Depends(require(*RUNNERS))],
) -> Any:
    """Compute every rule on the whole registry and store the snapshot (planners and admins); the
    answer is the run as the caller's scope sees it (as ``GET /runs/{id}`` gives it)."""
    result = create_run(system, settings.coverage, catalog, username=principal.username)  # audited in its transaction
    warm_in_background(request.app)  # the map's first view in the new run's colours
    with principal.scoped(system).connect() as conn:  # the answer shows what GET would: the caller's scope
        return jsonable_encoder(as_seen(conn, result))


@router.get("/runs", response_model=list[RunSummary])
def runs(engine: EngineDep) -> Any:
    """Stored runs, newest first."""
    return jsonable_encoder(list_runs(engine))


@router.get("/runs/{run_id}", response_model=Run)
def one_run(run_id: int, engine: EngineDep) -> Any:
    """A stored run: summary and every village the caller's scope sees."""
    return jsonable_encoder(get_run(engine, run_id))


@router.get("/runs/{run_id}/villages/{code}", response_model=RunVillage)
def one_village(run_id: int, code: str, engine: EngineDep) -> Any:
    """One village of a stored run."""
    return jsonable_encoder(get_run(engine, run_id, code))


@router.get("/diff", response_model=RunDiff)
def diff(
    engine: EngineDep,
    a: Annotated[int, Query(description="earlier run id")],
    b: Annotated[int, Query(description="later run id")],
) -> Any:
    """What changed village by village between runs ``a`` and ``b``."""
    return jsonable_encoder(diff_runs(engine, a, b))


@router.get("/plan")
def plan_versus_actual(engine: EngineDep, catalog: CatalogDep, settings: SettingsDep) -> dict:
    """Rule 7: the configured plan's targets against what the registry measures."""
    plan = load_plan(settings.coverage.plan_file, catalog)
    with engine.connect() as conn:
        return measure(conn, plan, catalog)


@router.get("/topology")
def road_topology(
    engine: EngineDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    limit: Annotated[int, Query(ge=0, le=100_000, description="rows per list at most")] = 1000,
) -> dict:
    """What engineers should fix in the roads of the caller's scope: ends 5–50 m short of a road,
    dangling spurs, isolated pieces (counts in ``summary``; each list cut at ``limit``)."""
    with engine.connect() as conn:
        result = with_codes(conn, topology(conn, settings.coverage), catalog.srid)
    for key in ("near_misses", "spurs", "isolated"):
        result[key] = result[key][:limit]
    return result
