"""Locate the deployment's data folders (``layers/``, ``web/``) in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder ``name`` beside the package's checkout, else the copy shipped in the wheel."""
    checkout = PACKAGE_DIR.parents[1] / name
    if checkout.is_dir():
        return checkout
    return PACKAGE_DIR / "_data" / name
