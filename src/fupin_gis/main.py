"""The FastAPI application factory: ``uvicorn --factory fupin_gis.main:create_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from fupin_gis import __version__
from fupin_gis.api.background import warm_in_background
from fupin_gis.api.deps import plain_text, row_security_ready
from fupin_gis.api.failures import add_failure_handlers
from fupin_gis.api.headers import SecurityHeaders
from fupin_gis.api.openapi import openapi_with_vocabularies
from fupin_gis.api.routes import auth, coverage, health, imports, layers, pages, profiles, reports, tiles, villages
from fupin_gis.api.routes import ledger_exchange as ledger_files
from fupin_gis.api.routes import ogc as ogc_routes
from fupin_gis.api.routes import project_actions as ledger_actions
from fupin_gis.api.routes import project_pages as ledger_pages
from fupin_gis.api.routes import projects as ledger_projects
from fupin_gis.catalog import load_catalog
from fupin_gis.db.engine import make_engine
from fupin_gis.errors import FupinError, TooManyAttempts, Unauthorized, status_code
from fupin_gis.scratch import sweep as sweep_scratch
from fupin_gis.settings import Settings
from fupin_gis.tiles.cache import clear


def forget_tiles(engine: Engine) -> None:
    """Drop cached tiles at start-up: a new version of the app or the catalog may draw them differently."""
    try:
        with engine.begin() as conn:
            clear(conn)
    except SQLAlchemyError:
        pass  # no database yet: /api/health says so; the cache is empty anyway


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app from the catalog (its names are the OpenAPI document's vocabularies); its lifespan
    opens the engine."""
    settings = settings or Settings()
    catalog = load_catalog(settings.catalog_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.catalog = catalog
        app.state.engine = make_engine(settings)
        app.state.page_cache = {}
        forget_tiles(app.state.engine)
        sweep_scratch()  # upload and import folders a killed server left behind
        try:
            app.state.rls_ready = row_security_ready(app.state.engine)
        except SQLAlchemyError:
            app.state.rls_ready = False  # the database is away: asked again on the first scoped request
        app.state.warmer = warm_in_background(app)
        yield
        app.state.engine.dispose()

    # every route refuses NUL and other control characters in its parameters (one check, before any query)
    app = FastAPI(title="fupin-gis", version=__version__, lifespan=lifespan, dependencies=[Depends(plain_text)])
    app.openapi = openapi_with_vocabularies(app, catalog)  # type: ignore[method-assign]
    add_failure_handlers(app, settings.web_dir / "templates")

    @app.exception_handler(FupinError)
    async def fupin_error(request: Request, exc: FupinError) -> Response:
        page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if isinstance(exc, Unauthorized) and page and not request.url.path.startswith(("/api/", "/tiles/")):
            return auth.login_redirect(request)
        wait = exc.details.get("retry_after") if isinstance(exc, TooManyAttempts) else None
        headers = {"Retry-After": str(wait)} if wait is not None else None
        return JSONResponse(exc.to_dict(), status_code=status_code(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"][1:] or first["loc"])
        body = {
            "code": "invalid_input",
            "message": f"参数 {where} 无效：{first['msg']}",
            "message_en": f"Invalid parameter {where}: {first['msg']}",
            "field": where,
            "detail": jsonable_encoder(exc.errors()),
        }
        return JSONResponse(body, status_code=422)

    app.include_router(auth.router)
    app.include_router(health.router)
    app.include_router(layers.router)
    app.include_router(imports.router)
    app.include_router(profiles.router)
    app.include_router(coverage.router)
    app.include_router(pages.router)
    app.include_router(reports.router)
    app.include_router(tiles.router)
    app.include_router(villages.router)
    ogc_routes.install(app)  # /ogc: OGC API Features and Tiles
    app.include_router(ledger_projects.router)
    app.include_router(ledger_actions.router)
    app.include_router(ledger_pages.router)
    app.include_router(ledger_files.router)
    app.add_middleware(SecurityHeaders)
    app.mount("/vendor", StaticFiles(directory=settings.web_dir / "node_modules", check_dir=False), name="vendor")
    app.mount("/static", StaticFiles(directory=settings.web_dir / "static", check_dir=False), name="static")
    return app
