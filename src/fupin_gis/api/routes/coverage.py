"""``/api/coverage``: run the rules, read stored runs, compare two; the road topology report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from fupin_gis.api.background import warm_in_background
from fupin_gis.api.deps import CatalogDep, EngineDep, SettingsDep, SystemEngineDep, require
from fupin_gis.auth.accounts import RUNNERS, Principal
from fupin_gis.coverage.plan import load_plan, measure
from fupin_gis.coverage.snapshots import as_seen, create_run, diff_runs, get_run, list_runs
from fupin_gis.coverage.topology import topology, with_codes

router = APIRouter(prefix="/api/coverage", tags=["coverage"])


@router.post("/runs", status_code=201)
def new_run(
    request: Request,
    system: SystemEngineDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    principal: Annotated[Principal, Depends(require(*RUNNERS))],
) -> dict:
    """Compute every rule on the whole registry and store the snapshot (planners and admins); the
    answer is the run as the caller's scope sees it (as ``GET /runs/{id}`` gives it)."""
    result = create_run(system, settings.coverage, catalog, username=principal.username)  # audited in its transaction
    warm_in_background(request.app)  # the map's first view in the new run's colours
    with principal.scoped(system).connect() as conn:  # the answer shows what GET would: the caller's scope
        return as_seen(conn, result)


@router.get("/runs")
def runs(engine: EngineDep) -> list[dict]:
    """Stored runs, newest first."""
    return list_runs(engine)


@router.get("/runs/{run_id}")
def one_run(run_id: int, engine: EngineDep) -> dict:
    """A stored run: summary and every village."""
    return get_run(engine, run_id)


@router.get("/runs/{run_id}/villages/{code}")
def one_village(run_id: int, code: str, engine: EngineDep) -> dict:
    """One village of a stored run."""
    return get_run(engine, run_id, code)


@router.get("/diff")
def diff(
    engine: EngineDep,
    a: Annotated[int, Query(description="earlier run id")],
    b: Annotated[int, Query(description="later run id")],
) -> dict:
    """What changed village by village between runs ``a`` and ``b``."""
    return diff_runs(engine, a, b)


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
