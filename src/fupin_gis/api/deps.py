"""Typed FastAPI dependencies: settings, engine, catalog, layer."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import unquote_to_bytes

from fastapi import Depends, Path, Request
from sqlalchemy import Engine, text

from fupin_gis.auth.accounts import SYSTEM, Principal, by_session, by_token
from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.db.cluster import SCOPED_ROLE
from fupin_gis.errors import DatabaseUnavailable, Forbidden, InvalidInput, LayerNotFound, Unauthorized
from fupin_gis.settings import Settings

SESSION_COOKIE = "fupin_session"
CSRF_COOKIE = "fupin_csrf"
# C0 control characters but tab, line feed and carriage return, and DEL: no code, name or option has one,
# and PostgreSQL cannot store NUL at all
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(request: Request) -> None:
    """Refuse, for every route at once, an address that is not plain text: bytes that are no UTF-8,
    or a control character (NUL above all) in a path or query parameter (400, naming the parameter)."""
    for raw in (request.scope.get("raw_path") or b"", request.scope.get("query_string") or b""):
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                "地址含有无效的 UTF-8 字节：请只发送文字", "The address holds bytes that are no UTF-8 text"
            ) from None
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if CONTROL.search(name) or CONTROL.search(str(value)):
            shown = CONTROL.sub("?", name)
            raise InvalidInput(
                f"参数 {shown} 含有控制字符（如 NUL）：请只发送文字",
                f"Parameter {shown} contains a control character (such as NUL): send plain text",
                field=shown,
            )


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_principal(request: Request) -> Principal:
    """Who is asking: an API token (``Authorization: Bearer``) or a session cookie; the system when
    accounts are not required. Unsafe requests on a cookie session must echo its CSRF token."""
    settings: Settings = request.app.state.settings
    if not settings.auth.required:
        return SYSTEM
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    engine = request.app.state.engine
    principal = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        principal = by_token(engine, header[7:].strip())
    elif request.cookies.get(SESSION_COOKIE):
        principal = by_session(engine, request.cookies[SESSION_COOKIE])
        if principal is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get("x-csrf-token") or ""
            if not secrets.compare_digest(sent, principal.csrf or ""):
                raise Forbidden("CSRF 校验失败：请刷新页面后重试", "CSRF check failed: reload the page and try again")
    if principal is None:
        raise Unauthorized("请先登录，或提供 API 令牌", "Sign in, or send an API token (Authorization: Bearer …)")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def row_security_ready(engine: Engine) -> bool:
    """True when the role that scoped reads run as exists and the app may switch to it (raises when the
    database cannot be reached)."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT pg_has_role(current_user, :r, 'MEMBER') FROM pg_roles WHERE rolname = :r"),
                {"r": SCOPED_ROLE},
            ).scalar()
        )


def get_engine(request: Request, principal: PrincipalDep) -> Engine:
    """The database engine as the asking account sees it: its transactions run under row-level security."""
    engine: Engine = request.app.state.engine
    if principal is SYSTEM:
        return engine
    if not request.app.state.rls_ready:
        # not known at start-up (the database was away) or installed since: ask again, until it is
        request.app.state.rls_ready = row_security_ready(engine)
    if not request.app.state.rls_ready and not principal.unrestricted:
        raise DatabaseUnavailable(
            "数据库未安装行级安全（缺少角色 fupin_scoped）：请以有 CREATEROLE 权限的用户运行 fupin-gis db up",
            "Row-level security is not installed (no role fupin_scoped): run `fupin-gis db up` as a user with CREATEROLE",
        )
    return principal.scoped(engine, rls=request.app.state.rls_ready)


def get_system_engine(request: Request) -> Engine:
    """The owner's engine, for writes that check the scope themselves (imports, rollbacks, coverage runs)."""
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]
SystemEngineDep = Annotated[Engine, Depends(get_system_engine)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency admitting only ``roles`` (403 for others)."""

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise Forbidden(
                f"角色 {principal.role} 无权执行此操作（需要 {', '.join(roles)}）",
                f"Role {principal.role} may not do this (needs {', '.join(roles)})",
                role=principal.role,
            )
        return principal

    return check


def get_catalog(request: Request) -> Catalog:
    """The layer catalog loaded at start-up."""
    return request.app.state.catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def get_layer(catalog: CatalogDep, layer: Annotated[str, Path(description="图层名 / layer name")]) -> LayerSpec:
    """The layer named in the path, or LayerNotFound."""
    if layer not in catalog.layers:
        raise LayerNotFound(layer)
    return catalog.layers[layer]


LayerDep = Annotated[LayerSpec, Depends(get_layer)]
