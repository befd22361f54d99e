"""Imports over HTTP: upload a file into a layer (or dry-run it), look at a batch, roll it back."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from fupin_gis.api.background import warm_in_background
from fupin_gis.api.deps import (
    CatalogDep,
    EngineDep,
    LayerDep,
    PrincipalDep,
    SettingsDep,
    SystemEngineDep,
    require,
)
from fupin_gis.api.schemas import Batch, BatchSummary, Rollback
from fupin_gis.auth.accounts import WRITERS, Principal, authors_within
from fupin_gis.errors import InvalidInput, UnsupportedFormat, UploadTooLarge
from fupin_gis.ingest import ImportOptions, run_import
from fupin_gis.ingest.answers import pairs, value_maps
from fupin_gis.ingest.archive import DATA_SUFFIXES, EXPECTED
from fupin_gis.ingest.batches import get_batch, list_batches, rollback

router = APIRouter(prefix="/api", tags=["imports"])


def _save_upload(upload: UploadFile, folder: Path, limit_mb: int) -> tuple[Path, str]:
    name = PurePath((upload.filename or "").replace("\\", "/")).name
    suffix = PurePath(name).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise UnsupportedFormat(
            f"{name or '(无文件名)'}：不支持的文件类型",
            f"{name or '(no name)'}: unsupported file type; expected {EXPECTED}",
            file=name,
        )
    target = folder / name  # its own name (no folders): messages about the file name it
    size = 0
    with target.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit_mb * 1024**2:
                raise UploadTooLarge(f"{name}：文件超过 {limit_mb} MB", f"{name}: larger than {limit_mb} MB", file=name)
            out.write(chunk)
    return target, name


@router.post(
    "/layers/{layer}/imports",
    responses={201: {"description": "committed"}, 422: {"description": "validation failed, nothing written"}},
)
def create_import(
    request: Request,
    spec: LayerDep,
    system: SystemEngineDep,
    principal: Annotated[Principal, Depends(require(*WRITERS))],
    catalog: CatalogDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="调查成果文件 / survey file")],
    dry_run: Annotated[bool, Form(description="只校验不写入 / validate only")] = False,
    crs: Annotated[str | None, Form(description="坐标系，如 EPSG:4545")] = None,
    encoding: Annotated[str | None, Form(description="文本编码，如 gbk")] = None,
    datum: Annotated[str | None, Form(description="gcj02 for phone map apps")] = None,
    mapping: Annotated[list[str] | None, Form(alias="map", description="SRC=DST")] = None,
    defaults: Annotated[list[str] | None, Form(alias="set", description="FIELD=VALUE")] = None,
    source: Annotated[str | None, Form(description="one layer or file of the upload")] = None,
    replace: Annotated[bool, Form(description="import an identical file again")] = False,
    preview: Annotated[bool, Form(description="add up to 1,000 features' geometry for a preview map")] = False,
    values: Annotated[list[str] | None, Form(description="FIELD:SRC=DST value answers")] = None,
    profile: Annotated[str | None, Form(description="read with this saved import profile")] = None,
    save_profile: Annotated[str | None, Form(description="save the confirmed reading as this profile")] = None,
    use_profiles: Annotated[bool, Form(description="apply a profile matching the file's columns")] = True,
) -> JSONResponse:
    """Validate an upload for a layer and commit it as one batch (or only report, on a dry run)."""
    if datum not in (None, "", "gcj02"):
        raise InvalidInput("datum 只支持 gcj02", "datum supports only gcj02", field="datum")
    options = ImportOptions.from_settings(
        settings.ingest,
        layer=spec.name,
        crs=crs or None,
        encoding=encoding or None,
        datum=datum or None,
        mapping=pairs(mapping or [], "map"),
        defaults=pairs(defaults or [], "set"),
        values=value_maps(values or []),
        profile=profile or None,
        save_profile=save_profile or None,
        use_profiles=use_profiles,
        dry_run=dry_run,
        replace=replace,
        source=source or None,
        username=principal.username,
        scope=principal.scope,
        preview=1000 if preview else 0,
    )
    with tempfile.TemporaryDirectory(prefix="fupin-upload-") as tmp:
        path, name = _save_upload(file, Path(tmp), settings.ingest.max_upload_mb)
        report = run_import(principal.scoped(system, rls=False), catalog, path, options, display_name=name)
    if report.batch:  # the import wrote its audit row in its own transaction
        warm_in_background(request.app)  # the import dropped the layer's overviews
    status = 422 if not report.ok else (201 if report.batch else 200)
    return JSONResponse(report.to_dict() | {"sha256": report.sha256}, status_code=status)


@router.get("/imports", response_model=list[BatchSummary])
def imports(engine: EngineDep, system: SystemEngineDep, principal: PrincipalDep) -> Any:
    """Import batches, newest first: for a scoped account, those written by accounts of its scope."""
    return jsonable_encoder(list_batches(engine, authors=authors_within(system, principal.scope)))


@router.get("/imports/{batch}", response_model=Batch)
def one_import(batch: int, engine: EngineDep, system: SystemEngineDep, principal: PrincipalDep) -> Any:
    """One batch with its report (a scoped account's: as in the list)."""
    return jsonable_encoder(get_batch(engine, batch, authors_within(system, principal.scope)))


@router.delete("/imports/{batch}", response_model=Rollback)
def undo_import(
    request: Request,
    batch: int,
    system: SystemEngineDep,
    catalog: CatalogDep,
    principal: Annotated[Principal, Depends(require(*WRITERS))],
) -> dict:
    """Roll a batch back: remove what it added, restore what it replaced."""
    done = rollback(principal.scoped(system, rls=False), catalog, batch, principal.scope, principal.username)
    warm_in_background(request.app)  # the rollback wrote its audit row in its transaction
    result = {"batch": batch, **done}
    return result
