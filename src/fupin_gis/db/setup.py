"""Bring a database up to date (the embedded cluster or ``DATABASE_URL``) and empty it."""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.db import migrate
from fupin_gis.db.cluster import LocalCluster, create_extensions
from fupin_gis.db.engine import database_url
from fupin_gis.db.sql import ident, literal
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


def _server_url(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql", database=database).render_as_string(hide_password=False)


def create_scratch_database(settings: Settings, name: str) -> str:
    """A fresh, migrated database ``name`` beside the configured one (tests, benchmarks).

    On the embedded cluster, or on the ``DATABASE_URL`` server (which needs CREATEDB);
    never the configured database itself. Returns its SQLAlchemy URL.
    """
    bring_up(settings)
    if settings.external_url:
        base = database_url(settings)
        with psycopg.connect(_server_url(base, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(_server_url(base, name), autocommit=True) as conn:
            create_extensions(conn)
        from sqlalchemy.engine import make_url

        url = make_url(base).set(database=name).render_as_string(hide_password=False)
    else:
        url = LocalCluster(settings.db).create_database(name)
    migrate.upgrade(settings, url)
    return url


def drop_scratch_database(settings: Settings, name: str) -> None:
    """Drop a database made by :func:`create_scratch_database`."""
    if settings.external_url:
        with psycopg.connect(_server_url(database_url(settings), "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    else:
        LocalCluster(settings.db).drop_database(name)


def layer_counts(engine: Engine, catalog: Catalog) -> dict[str, int]:
    """Feature count of every layer."""
    parts = " UNION ALL ".join(
        f"SELECT {literal(spec.name)} AS layer, count(*) AS n FROM {ident(spec.name)}" for spec in catalog.ordered()
    )
    with engine.connect() as conn:
        return {row.layer: int(row.n) for row in conn.execute(text(parts))}


def empty_layers(engine: Engine, catalog: Catalog) -> None:
    """Remove every feature of every layer and every batch, in one transaction."""
    tables = ", ".join(ident(name) for name in [*(spec.name for spec in catalog.ordered()), "batches"])
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
