"""``/api/health``: is the app up and can it reach PostGIS."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from fupin_gis import __version__
from fupin_gis.api.deps import SystemEngineDep
from fupin_gis.errors import DatabaseUnavailable

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
def health(engine: SystemEngineDep) -> dict:
    """Status of the app and its database."""
    try:
        with engine.connect() as conn:
            postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable("数据库不可用", "The database is unavailable") from exc
    return {"status": "ok", "version": __version__, "database": "ok", "postgis": postgis}
