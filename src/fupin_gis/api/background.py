"""Work the app does in the background: building the low-zoom tile overviews."""

from __future__ import annotations

import contextlib
import threading

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from fupin_gis.settings import Settings
from fupin_gis.tiles.cache import warm_overviews


def warm_in_background(app: FastAPI) -> threading.Thread | None:
    """Start building the low-zoom overviews (``map.warm_overviews``); the thread, or None."""
    settings: Settings = app.state.settings
    if not settings.map.warm_overviews:
        return None

    def work() -> None:
        # if the database goes away (shutdown), the overviews are built on first use instead
        with contextlib.suppress(SQLAlchemyError):
            warm_overviews(app.state.engine, app.state.catalog)

    thread = threading.Thread(target=work, name="fupin-overviews", daemon=True)
    thread.start()
    return thread
