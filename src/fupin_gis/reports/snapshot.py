"""What every report made from a coverage snapshot shares: the township columns, the names of the
administrative units, the lines saying which run and rules a report comes from, the checklists the
run used, shares and text as the tables print them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from fupin_gis.auth.scope import in_area, township_of
from fupin_gis.catalog import Catalog
from fupin_gis.coverage.checklists import Checklists, load_checklists
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.reports.model import Column

__all__ = [
    "TOWN",
    "about_run",
    "as_text",
    "in_area",
    "no_villages",
    "run_checklists",
    "share",
    "town_of",
    "unit_names",
]

# the first columns of every village and household table
TOWN = [Column("town_code", "乡镇代码", "Township code"), Column("town", "乡镇", "Township")]


def town_of(code: str, names: dict[str, str]) -> dict[str, str]:
    """The ``TOWN`` columns of a row about the village (or a household's village) ``code``."""
    town = township_of(code)
    return {"town_code": town, "town": names.get(town, "")}


def share(part: Any, whole: Any) -> float | None:
    """``part`` of ``whole`` to four places (None without a whole)."""
    return round(part / whole, 4) if whole else None


def as_text(value: Any) -> str:
    """A stored value as a table prints it: 是/否 for booleans, nothing for None."""
    if isinstance(value, bool):
        return "是" if value else "否"
    return "" if value is None else str(value)


def no_villages(run_id: int, area: str) -> NotFound:
    """The answer for a well-formed area code with no village of the run in it (as the caller sees it)."""
    return NotFound(f"运行 {run_id} 中没有 {area} 的村", f"No village of {area} in run {run_id}", area=area)


def unit_names(engine: Engine) -> dict[str, str]:
    """Township and county names by code."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT code, name FROM townships UNION ALL SELECT code, name FROM counties")).all()
    return {r.code: r.name for r in rows}


def about_run(
    run: dict[str, Any], area: str | None, names: dict[str, str], extra: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Which run, data version, area and rule settings a report comes from (``extra``: its own lines)."""
    rules = run.get("rules") or {}
    about = [
        ("覆盖分析运行 / Coverage run", str(run["run_id"])),
        ("运行时间 / Run at", str(run["created_at"])[:19].replace("T", " ")),
        ("数据版本（最新导入批次）/ Data version (latest batch)", str(run["data_version"])),
        ("范围 / Area", f"{area} {names.get(area, '')}".strip() if area else "全部 / all"),
        *extra,
    ]
    labels = {
        "min_road_width_m": "最小路面宽度(米) / minimum road width (m)",
        "snap_tolerance_m": "路网捕捉容差(米) / snap tolerance (m)",
        "access_distance_m": "驻地接入距离(米) / seat access distance (m)",
        "water_distance_m": "取水距离(米) / water point distance (m)",
        "pipe_distance_m": "管网供水距离(米) / piped supply distance (m)",
        "rai_distance_m": "农村可达性距离(米) / RAI distance (m)",
        "unknown_width_ok": "宽度未知视为达标 / unknown width counts as wide",
    }
    about += [(label, str(rules[key])) for key, label in labels.items() if key in rules]
    return about


def run_checklists(catalog: Catalog, run: dict[str, Any]) -> Checklists | None:
    """The checklists the run used (for item labels); None if that file is gone or changed beyond use."""
    path = (run.get("rules") or {}).get("checklist_file")
    try:
        return load_checklists(Path(path), catalog) if path else None
    except InvalidInput:
        return None
