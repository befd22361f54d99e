"""Engines: the configured server (``DATABASE_URL``) or the embedded cluster."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, create_engine, event

from fupin_gis.db.cluster import SCOPED_ROLE, LocalCluster
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


@event.listens_for(Engine, "begin")
def _scope_transaction(conn: Connection) -> None:
    """Give each transaction of a scoped engine (``Principal.scoped``) its scope, role and, for
    reads, the row-level-security role; settings and role end with the transaction."""
    options = conn.get_execution_options()
    if "fupin_scope" not in options:
        return
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        cur.execute(
            "SELECT set_config('fupin.scope', %s, true), set_config('fupin.role', %s, true)",
            (options["fupin_scope"], options["fupin_role"]),
        )
        if options.get("fupin_rls"):
            cur.execute(f"SET LOCAL ROLE {SCOPED_ROLE}")
    finally:
        cur.close()
