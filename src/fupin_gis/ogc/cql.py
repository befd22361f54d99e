"""CQL2 filters (OGC API Features Part 3) turned into bound SQL by walking their syntax tree.

Parsing is the ``cql2`` library's (text and JSON both become the CQL2 JSON tree); what the tree may
say is ours: comparisons, LIKE, IN, BETWEEN, IS NULL, CASEI, S_INTERSECTS, AND/OR/NOT, on the
layer's queryables (its catalog fields and its geometry) with literals of a matching type. Every
literal becomes a bind parameter and every column comes from the catalog, so no text of the
filter ever reaches the SQL; anything else is refused with a 400 that names the operator,
property or value. GDAL sends ``filter-lang=cql-text`` with ``ILIKE``, which is read as
``CASEI(a) LIKE CASEI('…')``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

import cql2
import shapely

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import InvalidInput
from fupin_gis.ogc.crs import OutputCrs, bounds_to_storage, geometry_to_storage, read_geojson
from fupin_gis.ogc.sql import Params, column

LANGS = ("cql2-text", "cql2-json", "cql-text")
GEOMETRY = "geometry"
COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
MAX_NODES = 1000
KINDS = {"text": "text", "code": "text", "enum": "text", "integer": "number", "number": "number"}
KINDS |= {"boolean": "boolean", "date": "date"}
_WHERE = re.compile(r"--> (\d+):(\d+)")


@dataclass(frozen=True)
class Queryable:
    """A name a filter may use: its SQL column and its kind (text, number, boolean, date, geometry)."""

    name: str
    sql: str
    kind: str
    integer: bool = False


def queryables(spec: LayerSpec, alias: str = "t") -> dict[str, Queryable]:
    """The layer's queryables by name: every catalog field, and its geometry (``geometry``, or ``geom``)."""
    found = {f.name: Queryable(f.name, column(alias, f.name), KINDS[f.type], f.type == "integer") for f in spec.fields}
    geometry = Queryable(GEOMETRY, column(alias, "geom"), "geometry")
    found.setdefault(GEOMETRY, geometry)
    found.setdefault("geom", geometry)
    return found


def _refuse(zh: str, en: str, **details: Any) -> InvalidInput:
    return InvalidInput(f"过滤条件（filter）无效：{zh}", f"invalid filter: {en}", field="filter", **details)


def _tokens(text: str) -> list[str]:
    """``text`` cut into quoted strings, quoted names, words and single other characters."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            j = i + 1
            while j < len(text):
                if text[j] == ch and text[j + 1 : j + 2] == ch:
                    j += 2
                elif text[j] == ch:
                    break
                else:
                    j += 1
            out.append(text[i : j + 1])
            i = j + 1
        elif ch.isalnum() or ch == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] in "_."):
                j += 1
            out.append(text[i:j])
            i = j
        else:
            out.append(ch)
            i += 1
    return out


def cql_text_to_cql2(text: str) -> str:
    """GDAL's ``cql-text`` as CQL2 text: ``a ILIKE 'x%'`` becomes ``CASEI(a) LIKE CASEI('x%')``."""
    tokens = _tokens(text)
    for i, token in enumerate(tokens):
        if token.upper() != "ILIKE":
            continue
        before = [j for j in range(i) if not tokens[j].isspace()]
        after = [j for j in range(i + 1, len(tokens)) if not tokens[j].isspace()]
        if before and after and tokens[after[0]].startswith("'"):
            tokens[before[-1]] = f"CASEI({tokens[before[-1]]})"
            tokens[i] = "LIKE"
            tokens[after[0]] = f"CASEI({tokens[after[0]]})"
    return "".join(tokens)


def parse_filter(text: str, lang: str | None) -> Any:
    """The CQL2 JSON tree of a ``filter`` in ``lang`` (cql2-text by default); InvalidInput naming where it fails."""
    lang = (lang or "cql2-text").lower()
    if lang not in LANGS:
        raise InvalidInput(
            f"filter-lang “{lang}” 不受支持：可用 {', '.join(LANGS)}",
            f"filter-lang '{lang}' is not supported: use one of {', '.join(LANGS)}",
            field="filter-lang",
            value=lang,
        )
    try:
        if lang == "cql2-json":
            return cql2.parse_json(text).to_json()
        return cql2.parse_text(cql_text_to_cql2(text) if lang == "cql-text" else text).to_json()
    except (cql2.ParseError, ValueError) as exc:
        said = str(exc).strip()
        where = _WHERE.search(said)
        if where:
            line, col = int(where.group(1)), int(where.group(2))
            rest = text.splitlines()[line - 1][col - 1 :] if line <= len(text.splitlines()) else ""
            token = rest.split()[0] if rest.split() else rest
            raise _refuse(
                f"第 {col} 个字符处的 “{token}” 无法解析", f"cannot parse '{token}' at character {col}", token=token
            ) from None
        first = said.splitlines()[0] if said else type(exc).__name__
        raise _refuse(f"无法解析（{first}）", f"cannot parse it ({first})") from None


@dataclass(frozen=True)
class _Expr:
    sql: str
    kind: str  # text, number, boolean, date, timestamp, null
    literal: str | None = None  # the text of a string literal (a date may be written as one)


class FilterSql:
    """Turns one CQL2 JSON tree into an SQL condition on one layer, with its values bound in ``params``."""

    def __init__(self, names: dict[str, Queryable], params: Params, filter_crs: OutputCrs, storage_srid: int) -> None:
        self.names = names
        self.params = params
        self.crs = filter_crs
        self.srid = storage_srid
        self.nodes = 0

    def condition(self, node: Any) -> str:
        """The SQL of a boolean CQL2 expression."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _refuse(f"条件过多（最多 {MAX_NODES} 个节点）", f"too many terms (at most {MAX_NODES})")
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if not isinstance(node, dict) or "op" not in node:
            raise _refuse(f"“{_show(node)}” 不是条件", f"'{_show(node)}' is not a condition", token=_show(node))
        op, args = str(node["op"]).lower(), node.get("args")
        if not isinstance(args, list):
            raise _refuse(f"运算 {op} 缺少参数", f"operator '{op}' has no args", token=op)
        if op in ("and", "or") and len(args) >= 2:
            return "(" + f" {op.upper()} ".join(self.condition(a) for a in args) + ")"
        if op == "not" and len(args) == 1:
            return f"(NOT {self.condition(args[0])})"
        if op in COMPARISONS and len(args) == 2:
            return self._compare(COMPARISONS[op], args[0], args[1])
        if op == "like" and len(args) == 2:
            left, pattern = self.scalar(args[0]), self.scalar(args[1])
            if left.kind != "text" or pattern.kind != "text":
                raise _refuse("LIKE 只用于文本", "LIKE compares text only", token="like")
            return f"({left.sql} LIKE {pattern.sql})"
        if op == "between" and len(args) == 3:
            value, low, high = (self.scalar(a) for a in args)
            value, low = self._unify(value, low, "between")
            value, high = self._unify(value, high, "between")
            return f"({value.sql} BETWEEN {low.sql} AND {high.sql})"
        if op == "in" and len(args) == 2 and isinstance(args[1], list) and args[1]:
            value = self.scalar(args[0])
            items = []
            for a in args[1]:
                value, item = self._unify(value, self.scalar(a), "in")
                items.append(item)
            return f"({value.sql} IN ({', '.join(i.sql for i in items)}))"
        if op == "isnull" and len(args) == 1:
            target = args[0]
            if isinstance(target, dict) and "property" in target:
                return f"({self._property(target['property'], any_kind=True).sql} IS NULL)"
            return f"({self.scalar(target).sql} IS NULL)"
        if op == "s_intersects" and len(args) == 2:
            return f"ST_Intersects({self._geometry(args[0])}, {self._geometry(args[1])})"
        raise _refuse(
            f"不支持的运算 “{op}”（可用：比较、LIKE、IN、BETWEEN、IS NULL、CASEI、S_INTERSECTS、AND/OR/NOT）",
            f"unsupported operator '{op}' (supported: comparisons, LIKE, IN, BETWEEN, IS NULL, CASEI, "
            "S_INTERSECTS, AND/OR/NOT)",
            token=op,
        )

    def _compare(self, op: str, a: Any, b: Any) -> str:
        left, right = self.scalar(a), self.scalar(b)
        if "null" in (left.kind, right.kind):
            raise _refuse("与 NULL 比较请用 IS NULL", "compare with NULL through IS NULL", token="null")
        left, right = self._unify(left, right, op)
        if "boolean" in (left.kind, right.kind) and op not in ("=", "<>"):
            raise _refuse(f"是/否值不能用 {op} 比较", f"booleans do not compare with {op}", token=op)
        return f"({left.sql} {op} {right.sql})"

    def _unify(self, a: _Expr, b: _Expr, op: str) -> tuple[_Expr, _Expr]:
        """``a`` and ``b`` of one kind: a text literal beside a date is read as a date (GDAL writes them so)."""
        kinds = {a.kind, b.kind}
        if len(kinds) == 1 or kinds == {"timestamp", "date"}:
            return a, b
        if kinds == {"date", "text"}:
            text_side = a if a.kind == "text" else b
            if text_side.literal is not None:
                day = _Expr(f"CAST({self.params.bind(_date(text_side.literal[:10]))} AS date)", "date")
                return (day, b) if a is text_side else (a, day)
        raise _refuse(
            f"{op} 两边的类型不同（{a.kind}、{b.kind}）", f"{op} compares a {a.kind} with a {b.kind}", token=op
        )

    def _property(self, name: Any, any_kind: bool = False) -> Queryable:
        found = self.names.get(str(name))
        if found is None:
            known = ", ".join(sorted(n for n in self.names if n != "geom"))
            raise _refuse(
                f"没有可查询字段 “{name}”（可用：{known}）",
                f"'{name}' is not a queryable of this collection (queryables: {known})",
                token=str(name),
            )
        if found.kind == "geometry" and not any_kind:
            raise _refuse(
                f"几何 “{name}” 只能用于 S_INTERSECTS", f"'{name}' is a geometry: use S_INTERSECTS", token=name
            )
        return found

    def scalar(self, node: Any) -> _Expr:
        """A scalar CQL2 expression: a property, a literal, or CASEI of one."""
        self.nodes += 1
        if node is None:
            return _Expr("NULL", "null")
        if isinstance(node, bool):
            return _Expr(self.params.bind(node), "boolean")
        if isinstance(node, int | float):
            value: Any = int(node) if float(node).is_integer() and abs(node) < 2**63 else float(node)
            return _Expr(self.params.bind(value), "number")
        if isinstance(node, str):
            return _Expr(self.params.bind(node), "text", node)
        if isinstance(node, dict):
            if "property" in node:
                found = self._property(node["property"])
                return _Expr(found.sql, found.kind)
            if "date" in node:
                return _Expr(f"CAST({self.params.bind(_date(node['date']))} AS date)", "date")
            if "timestamp" in node:
                return _Expr(f"CAST({self.params.bind(_timestamp(node['timestamp']))} AS timestamptz)", "timestamp")
            if str(node.get("op", "")).lower() == "casei" and len(node.get("args") or []) == 1:
                inner = self.scalar(node["args"][0])
                if inner.kind != "text":
                    raise _refuse("CASEI 只用于文本", "CASEI takes text only", token="casei")
                return _Expr(f"lower({inner.sql})", "text")
            if "op" in node:
                op = str(node["op"])
                raise _refuse(f"不支持的运算 “{op}”", f"unsupported operator '{op}'", token=op)
        raise _refuse(f"无法理解 “{_show(node)}”", f"cannot read '{_show(node)}'", token=_show(node))

    def _geometry(self, node: Any) -> str:
        if isinstance(node, dict) and "property" in node:
            found = self._property(node["property"], any_kind=True)
            if found.kind != "geometry":
                raise _refuse(f"“{found.name}” 不是几何", f"'{found.name}' is not a geometry", token=found.name)
            return found.sql
        if isinstance(node, dict) and "bbox" in node:
            box = node["bbox"]
            if not isinstance(box, list) or len(box) not in (4, 6) or not all(isinstance(v, int | float) for v in box):
                raise _refuse("BBOX 应为 4 个数", "BBOX takes four numbers", token="bbox")
            corners = (box[0], box[1], box[3], box[4]) if len(box) == 6 else tuple(box)
            west, south, east, north = bounds_to_storage(corners, self.crs, self.srid, "filter")  # type: ignore[arg-type]
            bound = ", ".join(self.params.bind(float(v)) for v in (west, south, east, north))
            return f"ST_MakeEnvelope({bound}, {self.srid})"
        if isinstance(node, dict) and "type" in node and "coordinates" in node:
            literal = read_geojson(node, "filter")
            moved = geometry_to_storage(literal, self.crs, self.srid, "filter")
            return f"ST_GeomFromWKB({self.params.bind(shapely.to_wkb(moved))}, {self.srid})"
        raise _refuse(f"“{_show(node)}” 不是几何", f"'{_show(node)}' is not a geometry", token=_show(node))


def _date(value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise _refuse(f"“{value}” 不是日期", f"'{value}' is not a date", token=str(value)) from None


def _timestamp(value: Any) -> str:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise _refuse(f"“{value}” 不是时间", f"'{value}' is not a timestamp", token=str(value)) from None


def _show(node: Any) -> str:
    return json.dumps(node, ensure_ascii=False)[:80]


def filter_sql(
    spec: LayerSpec,
    catalog: Catalog,
    tree: Any,
    params: Params,
    filter_crs: OutputCrs,
    alias: str = "t",
) -> str:
    """The SQL condition of a parsed filter on ``spec`` (values bound in ``params``)."""
    return FilterSql(queryables(spec, alias), params, filter_crs, catalog.srid).condition(tree)
