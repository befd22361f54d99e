"""Administrative codes and what a scope sees: the one place that knows how codes nest.

Codes of the 2023 statistical division nest by prefix: a county has 6 digits, a township 9, a
village 12 (its groups more). An account's scope is ``*`` or a list of county or township codes.
The SQL twin of these rules is ``db.security`` (row-level security) and the ``*_sql`` helpers below.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Connection, Engine

from fupin_gis.errors import InvalidInput

COUNTY_DIGITS, TOWNSHIP_DIGITS, VILLAGE_DIGITS = 6, 9, 12


def county_of(code: str) -> str:
    """The county of a township, village or group code (a county's own code unchanged)."""
    return code[:COUNTY_DIGITS]


def township_of(code: str) -> str:
    """The township of a village or group code (a township's or county's own code unchanged)."""
    return code[:TOWNSHIP_DIGITS]


def township_sql(expr: str) -> str:
    """SQL: the township of the code ``expr`` (as :func:`township_of`)."""
    return f"left({expr}, {TOWNSHIP_DIGITS})"


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


# -- what a scope sees ------------------------------------------------------------------------
# The database enforces the scope on rows (row-level security, ``db.security``); figures computed
# over the whole registry and stored with a coverage run (township and county totals, the joint
# harden plan, the plan's measurement, the network's size) are filtered here, by the same rule: a
# scope sees what lies inside one of its codes, and a total only when it sees everything in it.


def scope_codes(scope: str) -> list[str]:
    """The county and township codes of a scope (empty for ``*``: everything)."""
    return [] if scope in ("*", "") else [c for c in scope.replace(" ", "").split(",") if c]


def sees_code(scope: str, code: str) -> bool:
    """True when the unit ``code`` (a county, township, village or group) lies inside ``scope``."""
    codes = scope_codes(scope)
    return not codes or any(code.startswith(c) for c in codes)


def sees_all(scope: str, codes: Iterable[str]) -> bool:
    """True when ``scope`` sees every one of ``codes`` (a total over them may be shown)."""
    return all(sees_code(scope, c) for c in codes)


def within(inner: str, outer: str) -> bool:
    """True when every code of scope ``inner`` lies inside scope ``outer`` (``*`` only within ``*``)."""
    if not scope_codes(outer):
        return True
    inner_codes = scope_codes(inner)
    return bool(inner_codes) and sees_all(outer, inner_codes)


def scope_of(bind: Engine | Connection) -> str:
    """The scope an engine or connection carries (``Principal.scoped``); ``*`` for the system's."""
    return str(bind.get_execution_options().get("fupin_scope") or "*")


def filter_run(run: dict[str, Any], scope: str, visible_roads: Collection[int] = ()) -> dict[str, Any]:
    """A coverage run (stored, or as just computed) as ``scope`` may see it.

    Villages and township or county totals inside the scope; of the joint harden plan, the
    scope's townships and the roads it sees (``visible_roads``); of the plan's measurement, the
    scope's townships, and the totals only when the scope sees every township they count; the
    network's size (a figure of the whole registry) not at all.
    """
    if not scope_codes(scope):
        return run
    out = dict(run)
    if "villages" in run:
        out["villages"] = [v for v in run["villages"] if sees_code(scope, v["code"])]
    if run.get("summary"):
        out["summary"] = {unit: s for unit, s in run["summary"].items() if sees_code(scope, unit)}
    if run.get("network") is not None:
        out["network"] = None
    harden = run.get("harden_plan")
    if harden:
        towns = {t: m for t, m in (harden.get("by_township") or {}).items() if sees_code(scope, t)}
        roads = set(visible_roads)
        out["harden_plan"] = {
            "length_m": sum(towns.values()),
            "segments": [r for r in harden.get("segments") or [] if r in roads],
            "by_township": towns,
            "villages_connected_after": None,
        }
    if run.get("plan"):
        out["plan"] = _filter_plan(run["plan"], scope)
    return out


def _filter_plan(plan: dict[str, Any], scope: str) -> dict[str, Any]:
    """Rule 7's measurement for ``scope``: its townships' figures; totals it cannot wholly see hidden."""
    items, hidden = [], set()
    for item in plan.get("items") or []:
        towns = item.get("by_township") or {}
        item = {**item, "by_township": {t: v for t, v in towns.items() if t != "None" and sees_code(scope, t)}}
        if not towns or not sees_all(scope, towns):  # a county figure (or the plan's target alone)
            hidden.add(item["key"])
            item |= {"done": None, "share": None, "by_year": None, "hidden": True}
        items.append(item)
    tranches = [
        {**t, "items": [{**i, "done": None} if i["key"] in hidden else i for i in t.get("items") or []]}
        for t in plan.get("tranches") or []
    ]
    return {**plan, "items": items, "tranches": tranches, "scope": scope}
