"""Data completeness where the rules read: for each rule, the fields it depends on, the share of
features where each is empty, and what the rule does with an empty value.

``READS`` declares once which fields rules 1–5 read and what an empty value becomes; the SQL
beside this module (``sql/*.sql``) reads exactly these (tests compare the two). Rule 6 reads the
household fields its checklist file names, so they come from that file. The shares are counted
in one query per layer, on the rows the connection may see (row-level security applies), so a
scoped account gets its scope's figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, text

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.coverage.checklists import load_checklists
from fupin_gis.errors import CatalogError, InvalidInput
from fupin_gis.settings import CoverageSettings

RULE_LABELS = {
    "road": ("规则1 村通硬化路", "Rule 1 village road access"),
    "water": ("规则2 安全饮水", "Rule 2 safe water"),
    "rai": ("规则3 农村可达性指数", "Rule 3 Rural Access Index"),
    "facilities": ("规则4 公共设施", "Rule 4 facilities"),
    "farmland": ("规则5 坡耕地退耕", "Rule 5 steep farmland"),
    "checks": ("规则6 户七有", "Rule 6 household checks"),
}
TEXT_TYPES = ("text", "enum", "code")  # an empty string counts as empty too


@dataclass(frozen=True)
class Reads:
    """A field a rule reads, and what the rule makes of an empty value.

    ``setting`` names a boolean coverage setting that decides it: ``zh``/``en`` hold when it is
    true, ``off_zh``/``off_en`` when false.
    """

    rule: str
    layer: str
    field: str
    zh: str
    en: str
    setting: str | None = None
    off_zh: str = ""
    off_en: str = ""

    def meaning(self, settings: CoverageSettings) -> tuple[str, str]:
        """What an empty value counts as under ``settings`` (Chinese, English)."""
        if self.setting is None:
            return self.zh, self.en
        on = bool(getattr(settings, self.setting))
        env = f"FUPIN_COVERAGE__{self.setting.upper()}={'true' if on else 'false'}"
        zh, en = (self.zh, self.en) if on else (self.off_zh, self.off_en)
        return f"{zh}（设置 {env}）", f"{en} (setting {env})"


NOT_BUILT = ("算作未建成", "counted as not built")
NO_VILLAGE = ("不计入任何村", "counted for no village")


def _access_roads(rule: str) -> list[Reads]:
    """Roads.sql (and netcache.py): a road counts for access when hardened, wide enough and built."""
    return [
        Reads(rule, "roads", "surface", "算作未硬化", "counted as not hardened"),
        Reads(
            rule,
            "roads",
            "width_m",
            "算作宽度达标",
            "counted as wide enough",
            "unknown_width_ok",
            "算作宽度不足",
            "counted as too narrow",
        ),
        Reads(rule, "roads", "status", *NOT_BUILT),
    ]


READS: list[Reads] = [
    *_access_roads("road"),
    Reads(
        "road",
        "roads",
        "structure",
        "算作普通道路：与相交道路连通",
        "counted as no bridge or tunnel: joins the roads it crosses",
    ),
    Reads("water", "water_points", "safe", "算作不安全", "counted as not safe"),
    Reads("water", "water_points", "working", "算作正常运行", "counted as working"),
    Reads("water", "water_points", "status", *NOT_BUILT),
    Reads("water", "water_lines", "kind", "不算供水管道", "not counted as a supply pipeline"),
    Reads("water", "water_lines", "status", *NOT_BUILT),
    Reads("water", "households", "members", "按1人计", "counted as 1 person"),
    *_access_roads("rai"),
    Reads("rai", "households", "members", "按1人计", "counted as 1 person"),
    Reads("facilities", "facilities", "village_code", *NO_VILLAGE),
    Reads("facilities", "facilities", "kind", "不计入任何类型", "counted as no kind"),
    Reads("facilities", "facilities", "meets_standard", "算作未达标", "counted as below the standard"),
    Reads("facilities", "facilities", "status", *NOT_BUILT),
    Reads("farmland", "slope_farmland", "village_code", *NO_VILLAGE),
    Reads(
        "farmland",
        "slope_farmland",
        "slope_grade",
        "坡度级别未知：不计入25°以上",
        "grade unknown: not counted above 25°",
    ),
    Reads("farmland", "slope_farmland", "conversion", "算作未退耕", "counted as not converted"),
]
CHECK_EMPTY = ("算作未达标（无数据不算达标）", "counted as not met (no data is no pass)")
AREA = re.compile(r"\d{6}|\d{9}")


def rule_reads(catalog: Catalog, settings: CoverageSettings) -> list[Reads]:
    """Every field the rules read: ``READS`` and rule 6's household fields from its checklist file,
    each checked against the catalog."""
    reads = list(READS)
    try:
        lists = load_checklists(settings.checklist_file, catalog)
    except InvalidInput:
        lists = None  # a missing or broken checklist file is reported by the coverage run itself
    for item in lists.household if lists else []:
        reads.append(Reads("checks", "households", item.field, *CHECK_EMPTY))
    for r in reads:
        if r.layer not in catalog.layers or r.field not in catalog.layer(r.layer).field_names:
            raise CatalogError(
                f"规则 {r.rule} 读取的字段 {r.layer}.{r.field} 不在图层目录中",
                f"rule {r.rule} reads {r.layer}.{r.field}, which the layer catalog does not have",
                key=f"{r.layer}.{r.field}",
            )
    return list(dict.fromkeys(reads))


def _empty(spec: LayerSpec, field: str) -> sql.Composable:
    column = sql.Identifier("t", field)
    if spec.field(field).type in TEXT_TYPES:
        return sql.SQL("{c} IS NULL OR btrim({c}) = ''").format(c=column)
    return sql.SQL("{c} IS NULL").format(c=column)


def _in_area(spec: LayerSpec) -> sql.Composable:
    """Rows of the county or township ``:area`` (all rows when it is null): by village code, or by
    where they lie when they have none (as the scope's policies judge them)."""
    where: sql.Composable = sql.SQL(
        "EXISTS (SELECT 1 FROM (SELECT code, geom FROM counties UNION ALL SELECT code, geom FROM townships) u"
        " WHERE u.code = :area AND ST_Intersects(u.geom, t.geom))"
    )
    if "village_code" in spec.field_names:
        where = sql.SQL("left(t.village_code, length(:area)) = :area OR (t.village_code IS NULL AND {g})").format(
            g=where
        )
    return sql.SQL("(CAST(:area AS text) IS NULL OR {w})").format(w=where)


def completeness(
    conn: Connection, catalog: Catalog, settings: CoverageSettings, area: str | None = None
) -> list[dict[str, Any]]:
    """How complete the fields are that the coverage rules read.

    Parameters
    ----------
    conn
        A connection; under an account's scope only the scope's features are counted.
    catalog
        The layer catalog (labels, field types).
    settings
        The coverage settings: what an empty width counts as, and rule 6's checklist file.
    area
        A 6-digit county or 9-digit township code to count in; None for everything visible.

    Returns
    -------
    list of dict
        One row per rule and field: ``rule``, ``rule_label``, ``layer``, ``field``, ``label``,
        ``features``, ``empty``, ``share_empty`` (None without features), ``meaning`` and
        ``meaning_en`` (what the rule does with an empty value).
    """
    if area is not None and not AREA.fullmatch(area):
        raise InvalidInput(
            f"地区代码 “{area}” 无效：应为6位县代码或9位乡镇代码",
            f"Invalid area code '{area}': give a 6-digit county or 9-digit township code",
            field="township",
            value=area,
        )
    reads = rule_reads(catalog, settings)
    counts: dict[str, dict[str, int]] = {}
    raw = conn.connection.driver_connection
    for layer in dict.fromkeys(r.layer for r in reads):
        spec = catalog.layer(layer)
        fields = list(dict.fromkeys(r.field for r in reads if r.layer == layer))
        query = sql.SQL("SELECT count(*) AS features, {empties} FROM {table} t WHERE {area}").format(
            empties=sql.SQL(", ").join(
                sql.SQL("count(*) FILTER (WHERE {e}) AS {a}").format(e=_empty(spec, f), a=sql.Identifier(f))
                for f in fields
            ),
            table=sql.Identifier(layer),
            area=_in_area(spec),
        )
        row = conn.execute(text(query.as_string(raw)), {"area": area}).mappings().one()
        counts[layer] = {k: int(v) for k, v in row.items()}
    rows = []
    for r in reads:
        spec = catalog.layer(r.layer)
        features, empty = counts[r.layer]["features"], counts[r.layer][r.field]
        zh, en = r.meaning(settings)
        rows.append(
            {
                "rule": r.rule,
                "rule_label": RULE_LABELS[r.rule][0],
                "rule_label_en": RULE_LABELS[r.rule][1],
                "layer": r.layer,
                "field": r.field,
                "label": spec.field(r.field).label,
                "label_en": spec.field(r.field).en,
                "features": features,
                "empty": empty,
                "share_empty": round(empty / features, 4) if features else None,
                "meaning": zh,
                "meaning_en": en,
            }
        )
    return rows
