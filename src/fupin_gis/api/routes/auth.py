"""``/login`` and ``/logout``: session cookies for the pages (HttpOnly, SameSite, Secure) with a CSRF token."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fupin_gis.api.deps import CSRF_COOKIE, SESSION_COOKIE, PrincipalDep, SettingsDep
from fupin_gis.auth.accounts import login, logout, record
from fupin_gis.errors import TooManyAttempts
from fupin_gis.resources import render_template

router = APIRouter(tags=["accounts"])
LOGIN_CSRF = "fupin_login_csrf"


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def _page(settings: SettingsDep, token: str, nxt: str, error: str | None) -> HTMLResponse:
    page = HTMLResponse(
        render_template(settings.web_dir / "templates", "login.html", csrf=token, next=nxt, error=error)
    )
    page.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", secure=settings.auth.cookie_secure)
    return page


@router.get("/login", response_class=HTMLResponse)
def login_page(settings: SettingsDep, next: Annotated[str | None, Query()] = None) -> HTMLResponse:  # noqa: A002
    """The sign-in form."""
    return _page(settings, secrets.token_urlsafe(24), _safe_next(next), None)


@router.post("/login", response_class=HTMLResponse, response_model=None)
def login_form(
    request: Request,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
) -> Response:
    """Check the account; on success a session cookie and a redirect, else the form again: 401 for a
    wrong name or password, 429 with Retry-After while the account or the address must wait."""
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not secrets.compare_digest(expected, csrf):
        page = _page(
            settings, secrets.token_urlsafe(24), _safe_next(next), "表单已过期，请重试 / the form expired, try again"
        )
        page.status_code = 403
        return page
    engine = request.app.state.engine
    address = request.client.host if request.client else None
    try:
        made = login(engine, username, password, settings.auth, address)
    except TooManyAttempts as exc:
        page = _page(settings, secrets.token_urlsafe(24), _safe_next(next), f"{exc.zh} / {exc.en}")
        page.status_code = 429
        page.headers["Retry-After"] = str(exc.details["retry_after"])
        return page
    if made is None:
        page = _page(
            settings, secrets.token_urlsafe(24), _safe_next(next), "用户名或密码错误 / wrong username or password"
        )
        page.status_code = 401
        return page
    session, token = made
    answer = RedirectResponse(_safe_next(next), status_code=303)
    age = int(settings.auth.session_hours * 3600)
    secure = settings.auth.cookie_secure
    answer.set_cookie(SESSION_COOKIE, session, max_age=age, httponly=True, samesite="lax", secure=secure)
    answer.set_cookie(CSRF_COOKIE, token, max_age=age, httponly=False, samesite="strict", secure=secure)
    answer.delete_cookie(LOGIN_CSRF)
    return answer


@router.post("/logout")
def logout_form(request: Request, principal: PrincipalDep) -> RedirectResponse:
    """End the session (the CSRF header is checked like every unsafe request)."""
    if request.cookies.get(SESSION_COOKIE):
        logout(request.app.state.engine, request.cookies[SESSION_COOKIE])
    record(request.app.state.engine, principal, "logout", {})
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE)
    answer.delete_cookie(CSRF_COOKIE)
    return answer


def login_redirect(request: Request) -> RedirectResponse:
    """Where a page request without an account goes."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
