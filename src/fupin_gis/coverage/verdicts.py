"""Which rules a village of a stored run fails: one verdict per rule, for the reports and the map.

A verdict is the SQL of the map's class of the rule (``coverage.classes.MAP_RULES``): a village
fails a rule when its class is one of the rule's failing classes; a rule whose data the run lacks
is not failed. So the map's red villages, the tiles' properties and the reports' lists agree.
Rule ``facilities`` (a facility check of 村七有 not met) has no map class of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from fupin_gis.coverage.classes import FACILITIES_FAILED, MAP_RULES
from fupin_gis.db.sql import ident


@dataclass(frozen=True)
class Rule:
    """A rule a village may fail, as the reports name it, with the SQL of its verdict."""

    zh: str
    en: str
    fails_sql: str  # over ``c``, a row of coverage_villages; :facilities bound


RULES: dict[str, Rule] = {
    "road": Rule("通硬化路", "road access", MAP_RULES["road"].fails_sql()),
    "water": Rule("安全饮水", "safe water", MAP_RULES["water"].fails_sql()),
    "rai": Rule("2公里内有全天候道路", "all-season road within 2 km", MAP_RULES["rai"].fails_sql()),
    "farmland": Rule("25°以上坡耕地退耕", "steep farmland converted", MAP_RULES["farmland"].fails_sql()),
    "facilities": Rule("公共设施", "facilities", f"coalesce({FACILITIES_FAILED}, false)"),
    "checks": Rule("村七有", "village checks", MAP_RULES["checks"].fails_sql()),
}

Verdicts = dict[str, bool]  # rule -> failed


def village_verdicts(conn: Connection, run_id: int, area: str | None, facility_keys: set[str]) -> dict[str, Verdicts]:
    """Per village of run ``run_id`` (whose code starts with ``area``, as ``conn`` may see them),
    which rules it fails (``facility_keys``: the checklist's facility items)."""
    columns = ", ".join(f"{rule.fails_sql} AS {ident(key)}" for key, rule in RULES.items())
    rows = conn.execute(
        text(f"SELECT c.code, {columns} FROM coverage_villages c WHERE c.run_id = :r AND c.code LIKE :a"),
        {"r": run_id, "a": (area or "") + "%", "facilities": sorted(facility_keys)},
    ).mappings()
    return {r["code"]: {key: bool(r[key]) for key in RULES} for r in rows}
