"""Bring a database up to date (the embedded cluster or ``DATABASE_URL``) and empty it."""

from __future__ import annotations

import psycopg
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.db import migrate
from fupin_gis.db.cluster import LocalCluster, create_extensions
from fupin_gis.db.engine import database_url
from fupin_gis.errors import DatabaseUnavailable
from fupin_gis.settings import Settings


def bring_up(settings: Settings) -> str:
    """Start the embedded cluster unless ``DATABASE_URL`` is set, then migrate. Returns the URL."""
    if settings.external_url:
        url = database_url(settings)
        try:
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                create_extensions(conn)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"无法连接数据库：{exc}", f"Cannot connect to the database: {exc}") from exc
    else:
        url = LocalCluster(settings.db).up()
    migrate.upgrade(settings, url)
    return url


def layer_counts(engine: Engine, catalog: Catalog) -> dict[str, int]:
    """Feature count of every layer."""
    parts = " UNION ALL ".join(
        f"SELECT '{spec.name}' AS layer, count(*) AS n FROM {spec.name}" for spec in catalog.ordered()
    )
    with engine.connect() as conn:
        return {row.layer: int(row.n) for row in conn.execute(text(parts))}


def empty_layers(engine: Engine, catalog: Catalog) -> None:
    """Remove every feature of every layer and every batch, in one transaction."""
    tables = ", ".join([*(spec.name for spec in catalog.ordered()), "batches"])
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
