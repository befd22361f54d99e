"""Failures at the HTTP boundary, translated once: the database away, its disk full, a value it
refuses, an address no route has.

The database driver's exceptions never reach a user as a bare 500 (``db.failures``, which the
command line asks too): an outage (connection refused,
the server shutting down, a broken connection) is ``database_unavailable`` (503), a full disk
``database_disk_full`` (507), a value PostgreSQL cannot take (a NUL character, a number out of
range) ``invalid_input`` (400). The API and the tiles answer JSON; a browser asking for a page
gets a small page in both languages. Nothing is cached about the outage: the engine's pool
(``pool_pre_ping``) reconnects by itself when the database is back.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException
from starlette.routing import Match

from fupin_gis.db.failures import database_failure
from fupin_gis.errors import DatabaseUnavailable, FupinError, status_code
from fupin_gis.resources import render_template

RETRY_AFTER_S = 5


def wants_page(request: Request) -> bool:
    """True when a browser asks for a page (not the API or a tile)."""
    return (
        request.method in ("GET", "HEAD")
        and "text/html" in request.headers.get("accept", "")
        and not request.url.path.startswith(("/api/", "/tiles/"))
    )


def error_response(request: Request, error: FupinError, templates: Path) -> Response:
    """``error`` as JSON, or for an outage asked by a browser as a small bilingual page."""
    status = status_code(error)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    if isinstance(error, DatabaseUnavailable) and wants_page(request):
        page = render_template(
            templates, "error.html", zh=error.zh, en=error.en, code=error.code, status=status, retry=status == 503
        )
        return HTMLResponse(page, status_code=status, headers=headers)
    return JSONResponse(error.to_dict(), status_code=status, headers=headers)


HTTP_ERRORS = {
    404: ("没有这个地址", "No such address"),
    405: ("此地址不接受该请求方法", "This address does not accept that method"),
}


METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this address (Starlette's 405 names one route's only: FastAPI
    makes a route per method)."""
    routes = request.app.router.routes
    return [m for m in METHODS if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]


def add_failure_handlers(app: FastAPI, templates: Path) -> None:
    """Register the translations of this module on ``app``."""

    async def database(request: Request, exc: Exception) -> Response:
        error = database_failure(exc)
        if error is None:
            raise exc  # a fault of ours: the server error page, and the traceback in the log
        return error_response(request, error, templates)

    async def unavailable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DatabaseUnavailable)
        return error_response(request, exc, templates)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        zh, en = HTTP_ERRORS.get(exc.status_code, ("请求无效", "Invalid request"))
        detail = exc.detail if isinstance(exc.detail, str) else ""
        body = {"code": "not_found" if exc.status_code == 404 else "http_error", "message": zh, "message_en": en}
        if detail and exc.status_code not in HTTP_ERRORS:
            body["message_en"] = f"{en}: {detail}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    for kind in (sa.DBAPIError, sa.TimeoutError, psycopg.Error):
        app.add_exception_handler(kind, database)
    app.add_exception_handler(DatabaseUnavailable, unavailable)
    app.add_exception_handler(HTTPException, http_error)
