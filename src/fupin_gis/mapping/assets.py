"""Offline front-end assets: every folium resource link is replaced by a file the app serves.

The files come from npm packages installed under ``web/node_modules`` at setup and are served
at ``/vendor``. A resource with no local copy raises, so an unconverted plugin fails the tests
instead of loading silently from a CDN the target machines cannot reach.
"""

from __future__ import annotations

from branca.element import Element
from folium.elements import JSCSSMixin

VENDOR = "/vendor"

# folium resource name -> path under web/node_modules (None: not needed, dropped)
LOCAL_ASSETS: dict[str, str | None] = {
    "leaflet": "leaflet/dist/leaflet.js",
    "leaflet_css": "leaflet/dist/leaflet.css",
    "jquery": "jquery/dist/jquery.min.js",
    "bootstrap": "bootstrap/dist/js/bootstrap.bundle.min.js",
    "bootstrap_css": "bootstrap/dist/css/bootstrap.min.css",
    "awesome_markers": "leaflet.awesome-markers/dist/leaflet.awesome-markers.js",
    "awesome_markers_css": "leaflet.awesome-markers/dist/leaflet.awesome-markers.css",
    "awesome_markers_font_css": "@fortawesome/fontawesome-free/css/all.min.css",
    # Bootstrap 3 glyphicons and the marker rotation CSS serve icon options this app never uses.
    "glyphicons_css": None,
    "awesome_rotate_css": None,
    "vectorGrid": "leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.js",
}


class MissingAsset(RuntimeError):
    """A map element needs a resource that has no offline copy."""


def _localise(links: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, url in links:
        if name not in LOCAL_ASSETS:
            raise MissingAsset(f"no offline copy of {name} ({url}); add it to LOCAL_ASSETS")
        local = LOCAL_ASSETS[name]
        if local is not None:
            out.append((name, f"{VENDOR}/{local}"))
    return out


def localise(root: Element) -> None:
    """Point every resource link of ``root`` and its descendants at the app's own files."""
    stack = [root]
    while stack:
        element = stack.pop()
        if isinstance(element, JSCSSMixin):
            element.default_js = _localise(list(element.default_js))
            element.default_css = _localise(list(element.default_css))
        stack.extend(element._children.values())
