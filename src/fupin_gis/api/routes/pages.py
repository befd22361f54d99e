"""HTML pages: ``/`` is the map of every layer, ``/upload`` the upload page, ``/batches`` the import batches,
``/layers/{layer}/features/{id}`` one feature (edited by engineers), ``/topology`` the road network check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import text

from fupin_gis.api.deps import CatalogDep, EngineDep, LayerDep, PrincipalDep, SettingsDep, SystemEngineDep
from fupin_gis.auth.accounts import WRITERS, authors_within
from fupin_gis.ingest.batches import list_batches
from fupin_gis.ingest.edit import feature_row
from fupin_gis.mapping.build import build_map
from fupin_gis.resources import render_template
from fupin_gis.settings import Settings

router = APIRouter(tags=["pages"])


@router.get("/", response_class=HTMLResponse)
def map_page(
    request: Request, engine: EngineDep, catalog: CatalogDep, settings: SettingsDep, principal: PrincipalDep
) -> HTMLResponse:
    """The planner's map; rebuilt only when the data or the coverage changed (a new batch or run)."""
    with engine.connect() as conn:
        version = conn.execute(
            text(
                "SELECT coalesce(max(id), 0), count(*), max(rolled_back_at), "
                "(SELECT coalesce(max(id), 0) FROM coverage_runs) FROM batches"
            )
        ).one()
    cache = request.app.state.page_cache
    key = ("map", tuple(version), principal.tile_key)
    if key not in cache:
        if len(cache) > 50:
            cache.clear()
        cache[key] = build_map(engine, catalog, settings.map).get_root().render()
    return HTMLResponse(cache[key])


def _template(settings: Settings, name: str, **values: object) -> HTMLResponse:
    return HTMLResponse(render_template(settings.web_dir / "templates", name, **values))


@router.get("/upload", response_class=HTMLResponse)
def upload_page(catalog: CatalogDep, settings: SettingsDep, principal: PrincipalDep) -> HTMLResponse:
    """The engineers' upload page: choose a layer, drop a file, read the dry-run report and preview, commit."""
    fields = {
        spec.name: [
            {
                "name": f.name,
                "label": f.label,
                "type": f.type,
                "values": [{"key": v.key, "label": v.label} for v in f.enum_values(catalog)],
            }
            for f in spec.fields
        ]
        for spec in catalog.ordered()
    }
    return _template(settings, "upload.html", layers=catalog.ordered(), fields=fields)


@router.get("/batches", response_class=HTMLResponse)
def batches_page(
    engine: EngineDep, system: SystemEngineDep, catalog: CatalogDep, settings: SettingsDep, principal: PrincipalDep
) -> HTMLResponse:
    """Import batches, newest first (a scoped account's: those of its scope), each committed one with a
    rollback button."""
    labels = {s.name: s.label for s in catalog.ordered()}
    shown = list_batches(engine, authors=authors_within(system, principal.scope))
    return _template(settings, "batches.html", batches=shown, labels=labels)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@router.get("/layers/{layer}/features/{feature}", response_class=HTMLResponse)
def feature_page(
    spec: LayerDep, feature: int, engine: EngineDep, catalog: CatalogDep, settings: SettingsDep, principal: PrincipalDep
) -> HTMLResponse:
    """One feature's fields with catalog labels, its geometry on a map, and (for engineers) a form to edit them."""
    with engine.connect() as conn:
        row = feature_row(conn, spec, feature)
    fields = []
    for f in spec.fields:
        options = None
        if f.type == "enum":
            options = [(v.key, f"{v.label} {v.en}") for v in f.enum_values(catalog)]
        elif f.type == "boolean":
            options = [("true", "是 yes"), ("false", "否 no")]
        fields.append(
            {
                "name": f.name,
                "label": f.label,
                "en": f.en,
                "unit": f.unit,
                "value": _shown(row.get(f.name)),
                "options": options,
                "readonly": f.name == spec.key,
            }
        )
    return _template(
        settings,
        "feature.html",
        spec=spec,
        feature_id=feature,
        fields=fields,
        geometry=row["geom"],
        can_edit=principal.role in WRITERS,
        role=principal.role,
    )


@router.get("/topology", response_class=HTMLResponse)
def topology_page(settings: SettingsDep, principal: PrincipalDep) -> HTMLResponse:
    """What engineers should fix in the roads of their scope, on a map and in tables
    (the page asks ``/api/coverage/topology``)."""
    c = settings.coverage
    return _template(settings, "topology.html", tol=f"{c.snap_tolerance_m:g}", gap=f"{c.topology_gap_m:g}", limit=2000)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon: answer 204 instead of a 404 in every browser console."""
    return Response(status_code=204)
