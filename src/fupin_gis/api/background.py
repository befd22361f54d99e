"""Work the app does in the background: building the low-zoom tile overviews and the first view's tiles."""

from __future__ import annotations

import contextlib
import threading

from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from fupin_gis.auth.accounts import SYSTEM, Principal
from fupin_gis.catalog import Catalog
from fupin_gis.mapping.build import home_view
from fupin_gis.settings import Settings
from fupin_gis.tiles.cache import warm_home_view, warm_overviews

_lock = threading.Lock()


def account_scopes(engine: Engine, limit: int = 50) -> list[Principal]:
    """One principal for each scope (and personal-data right) the enabled accounts have, but not the
    unrestricted one: their tiles are cached apart, so their first view is warmed apart."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT DISTINCT role, scope FROM users WHERE NOT disabled ORDER BY scope, role")
        ).all()
    seen: dict[str, Principal] = {}
    for role, scope in rows:
        principal = Principal("warm", role, scope)
        if not principal.unrestricted:
            seen.setdefault(principal.tile_key, principal)
    return list(seen.values())[:limit]


def warm_first_view(engine: Engine, catalog: Catalog, settings: Settings, principal: Principal) -> None:
    """Render into the tile cache what the map's first view asks for, as ``principal`` sees it."""
    view = home_view(engine, catalog, settings.map)
    if view.bounds is None:
        return
    (s, w), (n, e) = view.bounds
    warm_home_view(
        engine,
        catalog,
        view.first_tiles(),
        view.run,
        (w, s, e, n),
        view.grid,
        principal.tile_key,
        principal.unrestricted,
    )


def warm_in_background(app: FastAPI) -> threading.Thread | None:
    """Build the low-zoom overviews and the first view's tiles (``map.warm_overviews``) in a thread;
    the thread, or None. While one is at work, a new call only asks it for one more round (imports
    and edits in quick succession do not start a thread each)."""
    settings: Settings = app.state.settings
    if not settings.map.warm_overviews:
        return None
    with _lock:
        running: threading.Thread | None = getattr(app.state, "warmer", None)
        if running is not None and running.is_alive():
            app.state.warm_again = True
            return running
        app.state.warm_again = False

    def work() -> None:
        while True:
            # if the database goes away (shutdown), the overviews are built on first use instead
            with contextlib.suppress(SQLAlchemyError):
                engine, catalog = app.state.engine, app.state.catalog
                warm_first_view(engine, catalog, settings, SYSTEM)  # first (it builds the overviews it draws from)
                warm_overviews(engine, catalog)
                if getattr(app.state, "rls_ready", False):  # then as each account's scope sees it
                    for principal in account_scopes(engine):
                        warm_first_view(principal.scoped(engine), catalog, settings, principal)
            with _lock:
                if not app.state.warm_again:
                    return
                app.state.warm_again = False

    thread = threading.Thread(target=work, name="fupin-overviews", daemon=True)
    app.state.warmer = thread
    thread.start()
    return thread
