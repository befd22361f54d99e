"""Work the app does in the background: building the low-zoom tile overviews and the first view's tiles."""

from __future__ import annotations

import contextlib
import threading

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from fupin_gis.mapping.build import home_view
from fupin_gis.settings import Settings
from fupin_gis.tiles.cache import warm_home_view, warm_overviews


def warm_in_background(app: FastAPI) -> threading.Thread | None:
    """Start building the low-zoom overviews and the first view's tiles (``map.warm_overviews``); the thread, or None."""
    settings: Settings = app.state.settings
    if not settings.map.warm_overviews:
        return None

    def work() -> None:
        # if the database goes away (shutdown), the overviews are built on first use instead
        with contextlib.suppress(SQLAlchemyError):
            engine, catalog = app.state.engine, app.state.catalog
            view = home_view(engine, catalog, settings.map)
            if view.bounds is not None:  # the first view first (it builds the overviews it draws from)
                (s, w), (n, e) = view.bounds
                warm_home_view(engine, catalog, view.first_tiles(), view.run, (w, s, e, n), view.grid)
            warm_overviews(engine, catalog)

    thread = threading.Thread(target=work, name="fupin-overviews", daemon=True)
    thread.start()
    return thread
