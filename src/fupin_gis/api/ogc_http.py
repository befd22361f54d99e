"""HTTP glue of ``/ogc``: who is asking, the 401 every client understands, nothing cached on the way.

Desktop clients have one authentication method in common, HTTP Basic: QGIS's and GDAL's user and
password take the account name and its API token (``fupin-gis users token NAME``). A bearer token
works as everywhere else, and so does the browser's session. Without an account the answer is a
401 in JSON with ``WWW-Authenticate`` (never the sign-in page's redirect, which a client would
take for data). Every answer under ``/ogc`` is ``Cache-Control: private, no-store``: what a
county's account sees must not be served to another county from a proxy's cache.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fupin_gis.api.deps import get_engine, get_principal
from fupin_gis.auth.accounts import SYSTEM, Principal, by_token
from fupin_gis.errors import Unauthorized, status_code
from fupin_gis.settings import Settings

PREFIX = "/ogc"
REALM = "fupin-gis"
CHALLENGES = (f'Basic realm="{REALM}", charset="UTF-8"', f'Bearer realm="{REALM}"')
NO_STORE = b"private, no-store"
REQUEST_ID = re.compile(r"^[\w.:-]{1,64}$")


class OgcUnauthorized(Unauthorized):
    """No account on ``/ogc``: a 401 with the challenges, for clients rather than browsers."""


def _refused() -> OgcUnauthorized:
    return OgcUnauthorized(
        "需要账号：Authorization: Bearer <API 令牌>，或 HTTP Basic（用户名为账号，密码为 API 令牌）",
        "An account is needed: Authorization: Bearer <API token>, or HTTP Basic with the account name and its "
        "API token as the password",
    )


def ogc_principal(request: Request) -> Principal:
    """The account of a bearer token, of HTTP Basic with the token as password, or of a session."""
    settings: Settings = request.app.state.settings
    if not settings.auth.required:
        return SYSTEM
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            user, _, token = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _refused() from None
        principal = by_token(request.app.state.engine, token) if token else None
        if principal is None or (user and not secrets.compare_digest(user, principal.username)):
            raise _refused()
        request.state.principal = principal
        return principal
    try:
        return get_principal(request)
    except OgcUnauthorized:
        raise
    except Unauthorized:
        raise _refused() from None


OgcPrincipalDep = Annotated[Principal, Depends(ogc_principal)]


def ogc_engine(request: Request, principal: OgcPrincipalDep) -> Engine:
    """The engine as the caller sees the data: each transaction under their scope (row-level security)."""
    return get_engine(request, principal)


OgcEngineDep = Annotated[Engine, Depends(ogc_engine)]


def base_url(request: Request) -> str:
    """The absolute address of ``/ogc`` for links: the configured public one, else the request's."""
    settings: Settings = request.app.state.settings
    if settings.ogc.public_url:
        return settings.ogc.public_url.rstrip("/")
    return str(request.base_url).rstrip("/") + PREFIX


def request_id(request: Request) -> str:
    """The client's ``X-Request-Id`` if it is a plain token, else a new one."""
    sent = request.headers.get("x-request-id", "")
    return sent if REQUEST_ID.match(sent) else secrets.token_hex(8)


async def unauthorized(request: Request, exc: Exception) -> Response:
    """A 401 as JSON with both challenges."""
    assert isinstance(exc, OgcUnauthorized)
    response = JSONResponse(exc.to_dict(), status_code=status_code(exc))
    for challenge in CHALLENGES:
        response.headers.append("WWW-Authenticate", challenge)
    return response


class PrivateNoStore:
    """ASGI middleware: ``Cache-Control: private, no-store`` on every answer under ``/ogc`` (errors too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; set the header on answers under the prefix."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return

        async def private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message["headers"] = [*headers, (b"cache-control", NO_STORE)]
            await send(message)

        await self.app(scope, receive, private)


def install_http(app: FastAPI) -> None:
    """The 401 handler and the cache middleware of ``/ogc``."""
    app.add_exception_handler(OgcUnauthorized, unauthorized)
    app.add_middleware(PrivateNoStore)
