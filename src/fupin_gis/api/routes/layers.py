"""``/api/layers``: the catalog with feature counts."""

from __future__ import annotations

from fastapi import APIRouter

from fupin_gis.api.deps import CatalogDep, EngineDep, LayerDep
from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.db.setup import layer_counts

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


@router.get("/{layer}")
def get_layer(spec: LayerDep, catalog: CatalogDep, engine: EngineDep) -> dict:
    """One layer of the catalog with its feature count."""
    return layer_summary(spec, catalog, layer_counts(engine, catalog)[spec.name])
