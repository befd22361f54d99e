"""Typed FastAPI dependencies: settings, engine, catalog, layer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Engine

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import LayerNotFound
from fupin_gis.settings import Settings


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    """The app's database engine."""
    return request.app.state.engine


def get_catalog(request: Request) -> Catalog:
    """The layer catalog loaded at start-up."""
    return request.app.state.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def get_layer(catalog: CatalogDep, layer: Annotated[str, Path(description="图层名 / layer name")]) -> LayerSpec:
    """The layer named in the path, or LayerNotFound."""
    if layer not in catalog.layers:
        raise LayerNotFound(layer)
    return catalog.layers[layer]


LayerDep = Annotated[LayerSpec, Depends(get_layer)]
