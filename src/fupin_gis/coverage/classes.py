"""How the map colours villages by each coverage rule: a class per village, its colour and label.

Each rule's class is computed in the coverage tiles (a property per rule, from the stored run), so
switching the rule on the map restyles the villages without new tiles. The same SQL decides which
rules a village fails in the reports (``coverage.verdicts``): a verdict is written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass

GREEN, ORANGE, RED, GREY = "#1a9850", "#fdae61", "#d73027", "#bdbdbd"
# Farmland above 25° still to convert beyond this many mu fails rule 5 (a tenth of a mu, rounded:
# what the reports print as 0.0 is converted).
STEEP_LEFT_MU = 0.05
# SQL: the village's steep farmland not converted, in mu (an unknown converted area counts as none)
STEEP_LEFT = (
    "(coalesce((c.result->'farmland'->>'steep_mu')::numeric, 0) "
    "- coalesce((c.result->'farmland'->>'steep_converted_mu')::numeric, 0))"
)
# SQL: a facility check of the village not met (:facilities, the checklist's facility items)
FACILITIES_FAILED = (
    "EXISTS (SELECT 1 FROM jsonb_each(c.result->'checks') e "
    "WHERE e.value->>'ok' = 'false' AND e.key = ANY(CAST(:facilities AS text[])))"
)


def _share(part: str, count: str, total: str) -> str:
    """SQL: 'all', 'partial', 'none' or 'empty' for ``count`` of ``total`` in result part ``part``."""
    n, t = f"(c.result->'{part}'->>'{count}')::int", f"(c.result->'{part}'->>'{total}')::int"
    return (
        f"CASE WHEN c.result->'{part}' IS NULL THEN NULL WHEN {t} = 0 THEN 'empty' WHEN {n} >= {t} THEN 'all' "
        f"WHEN {n} = 0 THEN 'none' ELSE 'partial' END"
    )


@dataclass(frozen=True)
class RuleClasses:
    """One rule as the map shows it: the tile property, labels, the SQL of the class, the classes."""

    field: str
    label: str
    en: str
    sql: str
    classes: dict[str, tuple[str, str]]  # class -> (colour, label)
    failing: frozenset[str]  # the classes of a village that fails the rule

    def fails_sql(self) -> str:
        """SQL: true when the village (``c``, a row of coverage_villages) fails the rule; false
        when it meets it or the run has no data for it."""
        return f"coalesce(({self.sql}) IN ({', '.join(repr(k) for k in sorted(self.failing))}), false)"


def _share_rule(
    field: str, label: str, en: str, figures: tuple[str, str, str], words: tuple[str, str, str]
) -> RuleClasses:
    """A rule judged by a share (``figures``: result part, count, total): all, partial, none, or empty."""
    every, some, none = words
    classes = {"all": (GREEN, every), "partial": (ORANGE, some), "none": (RED, none)}
    return RuleClasses(
        field,
        label,
        en,
        _share(*figures),
        {**classes, "empty": (GREY, "无建档立卡户 / no households")},
        frozenset({"partial", "none"}),
    )


MAP_RULES: dict[str, RuleClasses] = {
    "road": RuleClasses(
        "_s",
        "村通硬化路",
        "Village road access",
        "CASE WHEN (c.result->'road_access'->>'connected')::boolean THEN 'connected' "
        "WHEN c.result->'road_access'->>'gap_m' IS NOT NULL THEN 'gap' ELSE 'no_road' END",
        {
            "connected": (GREEN, "通硬化路 / connected"),
            "gap": (ORANGE, "需硬化 / road to harden"),
            "no_road": (RED, "无路可通 / no road within reach"),
        },
        frozenset({"gap", "no_road"}),
    ),
    "water": _share_rule(
        "w",
        "安全饮水（800米内）",
        "Safe water within 800 m",
        ("water", "households_covered", "households"),
        ("全部户 / every household", "部分户 / some households", "无一户 / no household"),
    ),
    "rai": _share_rule(
        "r",
        "2公里内有硬化路（RAI）",
        "Within 2 km of an all-season road (RAI)",
        ("rai", "population_within_2km", "population"),
        ("全部人口 / everyone", "部分人口 / some people", "无 / no one"),
    ),
    "checks": RuleClasses(
        "k",
        "村七有",
        "Village checks",
        "CASE WHEN c.result->'checks' IS NULL THEN NULL "
        "WHEN EXISTS (SELECT 1 FROM jsonb_each(c.result->'checks') e WHERE e.value->>'ok' = 'false') THEN 'failed' "
        "WHEN EXISTS (SELECT 1 FROM jsonb_each(c.result->'checks') e WHERE e.value->>'ok' = 'true') THEN 'met' "
        "ELSE 'unknown' END",
        {
            "met": (GREEN, "已判定项均达标 / every judged check met"),
            "failed": (RED, "有未达标项 / a check not met"),
            "unknown": (GREY, "无数据 / no data"),
        },
        frozenset({"failed"}),
    ),
    "farmland": RuleClasses(
        "f",
        "25°以上坡耕地退耕",
        "Farmland above 25° converted",
        "CASE WHEN c.result->'farmland' IS NULL THEN NULL "
        "WHEN coalesce((c.result->'farmland'->>'steep_mu')::float, 0) = 0 THEN 'none' "
        f"WHEN {STEEP_LEFT} > {STEEP_LEFT_MU} THEN 'unconverted' ELSE 'converted' END",
        {
            "converted": (GREEN, "已全部退耕 / all converted"),
            "unconverted": (RED, "有未退耕 / some not converted"),
            "none": (GREY, "无25°以上坡耕地 / none above 25°"),
        },
        frozenset({"unconverted"}),
    ),
}
