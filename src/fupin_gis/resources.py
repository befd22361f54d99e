"""Locate the deployment's data folders (``layers/``, ``web/``) in a checkout or an installed wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder ``name`` beside the package's checkout, else the copy shipped in the wheel."""
    checkout = PACKAGE_DIR.parents[1] / name
    if checkout.is_dir():
        return checkout
    return PACKAGE_DIR / "_data" / name


@cache
def _environment(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True)


def render_template(folder: Path, name: str, **values: object) -> str:
    """The HTML template ``name`` of ``folder`` (``web/templates``) rendered with ``values``; one
    environment per folder, so each template is compiled once, not on every request."""
    return _environment(folder).get_template(name).render(**values)
