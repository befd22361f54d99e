"""Import profiles over HTTP: the saved readings of survey files, listed, shown and deleted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from fupin_gis.api.deps import EngineDep, SystemEngineDep, require
from fupin_gis.auth.accounts import WRITERS, Principal
from fupin_gis.ingest.profiles import delete_profile, get_profile, list_profiles

router = APIRouter(prefix="/api/import-profiles", tags=["imports"])


@router.get("")
def profiles(engine: EngineDep) -> list[dict]:
    """Every saved import profile."""
    with engine.connect() as conn:
        return [p.to_dict() for p in list_profiles(conn)]


@router.get("/{name}")
def profile(name: str, engine: EngineDep) -> dict:
    """One import profile: columns, value answers, whole-file values, encoding, CRS."""
    with engine.connect() as conn:
        return get_profile(conn, name).to_dict()


@router.delete("/{name}")
def remove_profile(
    name: str, system: SystemEngineDep, principal: Annotated[Principal, Depends(require(*WRITERS))]
) -> dict:
    """Delete an import profile (engineers and admins); audited."""
    with system.begin() as conn:
        delete_profile(conn, name, principal.username)
    return {"deleted": name}
