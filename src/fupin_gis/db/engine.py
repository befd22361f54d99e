"""Engines: the configured server (``DATABASE_URL``) or the embedded cluster."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from fupin_gis.db.cluster import LocalCluster
from fupin_gis.settings import Settings


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL to use: ``DATABASE_URL`` if set, else the embedded cluster's."""
    url = settings.external_url
    if url:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return LocalCluster(settings.db).url()


def make_engine(settings: Settings, url: str | None = None) -> Engine:
    """A pooled engine on ``url`` or on the configured database."""
    return create_engine(url or database_url(settings), pool_pre_ping=True, future=True)
