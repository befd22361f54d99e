"""Administrative codes and what a scope sees: the one place that knows how codes nest.

Codes of the 2023 statistical division nest by prefix: a county has 6 digits, a township 9, a
village 12 (its groups more). An account's scope is ``*`` or a list of county or township codes.
"""

from __future__ import annotations

import re

from fupin_gis.errors import InvalidInput

COUNTY_DIGITS, TOWNSHIP_DIGITS, VILLAGE_DIGITS = 6, 9, 12


def county_of(code: str) -> str:
    """The county of a township, village or group code (a county's own code unchanged)."""
    return code[:COUNTY_DIGITS]


def township_of(code: str) -> str:
    """The township of a village or group code (a township's or county's own code unchanged)."""
    return code[:TOWNSHIP_DIGITS]


def is_county(code: str) -> bool:
    """True for a county's code (6 digits)."""
    return len(code) == COUNTY_DIGITS


def in_area(code: str, area: str | None) -> bool:
    """True when ``code`` lies in ``area`` (a county or township code; None: everywhere)."""
    return area is None or code.startswith(area)


def check_area(area: str | None) -> str | None:
    """A county (6 digits) or township (9 digits) code to filter by, checked (None or empty: everywhere)."""
    if area is None or area == "":
        return None
    if not re.fullmatch(r"\d{6}|\d{9}", area):
        raise InvalidInput(
            f"地区代码 “{area}” 无效：应为6位县代码或9位乡镇代码",
            f"Invalid area code '{area}': give a 6-digit county or 9-digit township code",
            field="township",
            value=area,
        )
    return area
