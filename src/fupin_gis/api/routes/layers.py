"""``/api/layers``: the catalog with feature counts; the completeness of the fields the rules read;
one feature, read and edited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from fupin_gis.api.background import warm_in_background
from fupin_gis.api.deps import CatalogDep, EngineDep, LayerDep, SettingsDep, SystemEngineDep, require
from fupin_gis.auth.accounts import WRITERS, Principal, record
from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.coverage.completeness import completeness
from fupin_gis.db.setup import layer_counts
from fupin_gis.ingest.edit import edit_feature, feature_row

router = APIRouter(prefix="/api/layers", tags=["layers"])


def layer_summary(spec: LayerSpec, catalog: Catalog, count: int) -> dict:
    """A layer's catalog entry as JSON, with its enumerations resolved."""
    body = spec.model_dump(mode="json", exclude={"fields"})
    body["fields"] = [
        {
            **field.model_dump(mode="json", exclude={"values", "enum"}, exclude_none=True),
            **({"values": [v.model_dump() for v in field.enum_values(catalog)]} if field.type == "enum" else {}),
        }
        for field in spec.fields
    ]
    body["srid"] = catalog.srid
    body["count"] = count
    return body


@router.get("")
def list_layers(catalog: CatalogDep, engine: EngineDep) -> list[dict]:
    """Every layer of the catalog, in map order, with its feature count."""
    counts = layer_counts(engine, catalog)
    return [layer_summary(spec, catalog, counts[spec.name]) for spec in catalog.ordered()]


@router.get("/completeness")  # before /{layer}, which would take it for a layer's name
def layers_completeness(
    catalog: CatalogDep,
    engine: EngineDep,
    settings: SettingsDep,
    township: Annotated[str | None, Query(description="6-digit county or 9-digit township code")] = None,
) -> list[dict]:
    """Per coverage rule, the fields it reads and the share of the caller's features where each is empty."""
    with engine.connect() as conn:
        return completeness(conn, catalog, settings.coverage, township or None)


@router.get("/{layer}")
def get_layer(spec: LayerDep, catalog: CatalogDep, engine: EngineDep) -> dict:
    """One layer of the catalog with its feature count."""
    return layer_summary(spec, catalog, layer_counts(engine, catalog)[spec.name])


class FeatureEdit(BaseModel):
    """What an edit changes: catalog fields (values as a surveyor would write them) and/or the geometry."""

    properties: dict[str, Any] = Field(default_factory=dict, description="字段 → 新值 / field → new value")
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON, CGCS2000 lon/lat")


@router.get("/{layer}/features/{feature}")
def get_feature(spec: LayerDep, feature: int, engine: EngineDep) -> dict:
    """One feature as GeoJSON (only inside the asker's scope)."""
    with engine.connect() as conn:
        row = feature_row(conn, spec, feature)
    geom = row.pop("geom")
    return {"type": "Feature", "id": feature, "geometry": geom, "properties": row}


@router.patch("/{layer}/features/{feature}")
def patch_feature(
    request: Request,
    spec: LayerDep,
    feature: int,
    edit: FeatureEdit,
    system: SystemEngineDep,
    catalog: CatalogDep,
    principal: Annotated[Principal, Depends(require(*WRITERS))],
) -> dict:
    """Edit one feature as a batch of its own (listed with the imports, rolled back the same way)."""
    result = edit_feature(
        principal.scoped(system, rls=False),
        catalog,
        spec,
        feature,
        edit.properties,
        edit.geometry,
        principal.username,
        principal.scope,
    )
    record(
        system,
        principal,
        "edit",
        {k: result[k] for k in ("batch", "layer", "feature")} | {"fields": list(result["changes"])},
    )
    warm_in_background(request.app)  # the edit dropped the layer's overviews
    return result
