"""The summary report's data-completeness section: how much of what the rules read is empty."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.completeness import completeness
from fupin_gis.reports.model import Column, Section
from fupin_gis.settings import CoverageSettings

COLUMNS = [
    Column("rule", "规则", "Rule"),
    Column("layer", "图层", "Layer"),
    Column("field", "字段代码", "Field"),
    Column("label", "字段", "Field label"),
    Column("features", "要素数", "Features", "int"),
    Column("empty", "空值数", "Empty", "int"),
    Column("share_empty", "空值比例", "Share empty", "pct"),
    Column("meaning", "空值视为", "An empty value counts as"),
]


def run_settings(run: dict[str, Any]) -> CoverageSettings:
    """The coverage settings a run used (stored with it), or today's defaults if they no longer read."""
    try:
        return CoverageSettings.model_validate(run.get("rules") or {})
    except ValidationError:
        return CoverageSettings()


def completeness_section(engine: Engine, catalog: Catalog, run: dict[str, Any], area: str | None) -> Section:
    """Section "数据完整性 / Data completeness": per rule, the fields it reads and the share empty.

    The counts are of the layers as they are now, as the engine may see them (a scoped account's
    features only), in ``area``; what an empty value counts as is what it meant for ``run``.
    """
    with engine.connect() as conn:
        rows = completeness(conn, catalog, run_settings(run), area)
    return Section(
        "completeness",
        "数据完整性",
        "Data completeness",
        COLUMNS,
        [
            {
                "rule": f"{r['rule_label']} / {r['rule_label_en']}",
                "layer": r["layer"],
                "field": r["field"],
                "label": r["label"],
                "features": r["features"],
                "empty": r["empty"],
                "share_empty": r["share_empty"],
                "meaning": f"{r['meaning']} / {r['meaning_en']}",
            }
            for r in rows
        ],
        note=(
            f"按当前图层数据统计（运行 {run['run_id']} 之后的导入和编辑也计入）；空值的处理按该次运行的设置。"
            f" / Counted on the layers as they are now (imports and edits after run {run['run_id']} included);"
            " what an empty value counts as follows that run's settings."
        ),
    )
