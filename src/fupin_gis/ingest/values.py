"""Parse survey values into the catalog's types; flag what is off, never guess.

Certain repairs are made and flagged as warnings: thousands separators (``1,650``), full-width
digits (``３０``), a unit after a number (``4.5米``). Uncertain ones are errors that block the
import: letters that look like digits (``l56``: did you mean 156?), placeholders (``XX0``),
enumeration values the catalog does not know.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fupin_gis.catalog import Catalog, FieldSpec

NULLS = {"", "na", "n/a", "nan", "null", "none", "-", "--", "—", "/", "／", "<null>"}
_NULLS_ARROW = pa.array(sorted(NULLS))
_ARROW_TEXT = pd.StringDtype("pyarrow")
TRUE_WORDS = {
    "是",
    "有",
    "对",
    "√",
    "✓",
    "y",
    "yes",
    "true",
    "t",
    "1",
    "达标",
    "正常",
    "合格",
    "安全",
    "已达标",
    "运行",
    "functional",
    "working",
}
FALSE_WORDS = {
    "否",
    "无",
    "没有",
    "×",
    "✗",
    "x",
    "n",
    "no",
    "false",
    "f",
    "0",
    "不达标",
    "未达标",
    "不正常",
    "损坏",
    "不合格",
    "不安全",
    "停用",
    "报废",
    "not functional",
    "non-functional",
    "broken",
}
UNITS = r"(米|m|km|公里|千米|亩|万元|元|户|人|个|座|处|口|眼|m3|m³|立方米|方|kv|千伏|mm|毫米|平方米|㎡|m2|年)"
THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
WITH_UNIT = re.compile(r"([+-]?\d+(?:\.\d+)?)\s*" + UNITS, re.IGNORECASE)
LOOKALIKE = str.maketrans({"l": "1", "I": "1", "|": "1", "O": "0", "o": "0"})
PLACEHOLDER = re.compile(r"[\dXx?？*]+")


@dataclass(frozen=True)
class Issue:
    """What is wrong with one value."""

    code: str
    severity: str
    zh: str
    en: str


def norm(text: str) -> str:
    """NFKC, trimmed, case-folded, inner blanks removed: how words are compared."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def _is_null(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, float) and np.isnan(raw):
        return True
    return isinstance(raw, str) and raw.strip().casefold() in NULLS


def parse_number(raw: Any, integer: bool) -> tuple[float | None, Issue | None]:
    """A number from a survey value; (None, issue) when it cannot be read with certainty."""
    if isinstance(raw, bool):
        return None, Issue("not_a_number", "error", "不是数字", "not a number")
    if isinstance(raw, (int, float, np.integer, np.floating)):
        return _integral(float(raw), integer, None)
    text = str(raw).strip()
    folded = unicodedata.normalize("NFKC", text).strip()
    warn = None
    if folded != text:
        warn = Issue(
            "fullwidth_digits",
            "warning",
            f"全角字符已转换：{text} → {folded}",
            f"full-width characters converted: {text} → {folded}",
        )
    try:
        return _integral(float(folded), integer, warn)
    except ValueError:
        pass
    if THOUSANDS.fullmatch(folded):
        value = float(folded.replace(",", ""))
        return _integral(
            value,
            integer,
            Issue(
                "thousands_separator",
                "warning",
                f"已去掉千位分隔符：{text} → {value:g}",
                f"thousands separator removed: {text} → {value:g}",
            ),
        )
    m = WITH_UNIT.fullmatch(folded)
    if m:
        value = float(m.group(1))
        return _integral(
            value,
            integer,
            Issue("unit_removed", "warning", f"已去掉单位：{text} → {value:g}", f"unit removed: {text} → {value:g}"),
        )
    fixed = folded.translate(LOOKALIKE)
    if fixed != folded:
        try:
            guess = float(fixed)
            return None, Issue(
                "number_typo",
                "error",
                f"“{text}” 含形似数字的字母，是否为 {guess:g}？请在源文件中更正",
                f"'{text}' has letters that look like digits; did you mean {guess:g}? Fix it in the source file",
            )
        except ValueError:
            pass
    if PLACEHOLDER.fullmatch(folded) and any(c in folded for c in "Xx?？*"):
        return None, Issue(
            "number_unknown",
            "error",
            f"“{text}” 是占位符，数值未知，请填写实际数值",
            f"'{text}' is a placeholder, not a number: fill in the real value",
        )
    return None, Issue("not_a_number", "error", f"“{text}” 不是数字", f"'{text}' is not a number")


def _integral(value: float, integer: bool, warn: Issue | None) -> tuple[float | None, Issue | None]:
    if not np.isfinite(value):
        return None, Issue("not_a_number", "error", "不是有限数值", "not a finite number")
    if integer and not float(value).is_integer():
        return None, Issue("not_integer", "error", f"{value:g} 不是整数", f"{value:g} is not a whole number")
    return value, warn


INT4 = (-(2**31), 2**31 - 1)  # the range of an integer column


def _bounds(field: FieldSpec) -> tuple[float | None, float | None]:
    """The field's allowed range; an integer also within the column's."""
    if field.type != "integer":
        return field.min, field.max
    return max(field.min, INT4[0]) if field.min is not None else INT4[0], (
        min(field.max, INT4[1]) if field.max is not None else INT4[1]
    )


def _range_issue(field: FieldSpec, value: float) -> Issue | None:
    low, high = _bounds(field)
    if low is not None and value < low or high is not None and value > high:
        lo = "" if low is None else f"{low:g}"
        hi = "" if high is None else f"{high:g}"
        return Issue("out_of_range", "error", f"{value:g} 超出范围 [{lo}, {hi}]", f"{value:g} is outside [{lo}, {hi}]")
    return None


def enum_words(field: FieldSpec, catalog: Catalog) -> dict[str, str]:
    """Normalised word → stored key, from keys, labels, English labels and synonyms."""
    words: dict[str, str] = {}
    for value in field.enum_values(catalog):
        for word in (value.key, value.label, value.en, *value.synonyms):
            words[norm(word)] = value.key
    return words


def convert(series: pd.Series, field: FieldSpec, catalog: Catalog) -> tuple[pd.Series, pd.Series]:
    """Typed values of one column, and an issue (or None) per row.

    Each distinct raw value is parsed once, so a column of 2,000,000 rows with few distinct
    values costs little; numeric columns take a vectorised path.
    """
    n = len(series)
    issues = pd.Series([None] * n, index=series.index, dtype=object)
    if (
        field.type in ("integer", "number")
        and pd.api.types.is_numeric_dtype(series)
        and not pd.api.types.is_bool_dtype(series)
    ):
        values = series.astype(float)
        bad = values.notna() & ~np.isfinite(values.fillna(0))
        if field.type == "integer":
            bad |= values.notna() & (values.fillna(0) % 1 != 0)
        low, high = _bounds(field)
        lo = values < low if low is not None else pd.Series(False, index=series.index)
        hi = values > high if high is not None else pd.Series(False, index=series.index)
        for i in np.flatnonzero((bad | lo | hi).to_numpy()):
            v = values.iloc[i]
            issues.iloc[i] = _range_issue(field, v) or Issue(
                "not_integer", "error", f"{v:g} 不是整数", f"{v:g} is not a whole number"
            )
        values[(bad | lo | hi)] = np.nan
        return (values.round().astype("Int64") if field.type == "integer" else values), issues
    if field.type == "text" and (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        # In Arrow, column at a time: stripped, the placeholders of an empty value made NULL.
        as_text = series if isinstance(series.array, pd.arrays.ArrowStringArray) else series.astype(_ARROW_TEXT)
        stripped = pc.utf8_trim_whitespace(without_nul(pa.array(as_text.array)))
        null = pc.fill_null(pc.is_in(pc.utf8_lower(stripped), value_set=_NULLS_ARROW), True)
        text = pc.if_else(null, pa.scalar(None, pa.string()), stripped)
        return pd.Series(pd.arrays.ArrowStringArray(text), index=series.index), pd.Series(
            [None] * n, index=series.index, dtype=object
        )
    # Each distinct value is parsed once; rows pick their result by their factor code.
    factor, uniques = pd.factorize(series, use_na_sentinel=True)
    words = enum_words(field, catalog) if field.type == "enum" else {}
    parsed = [(None, None) if _is_null(raw) else _parse_one(raw, field, words) for raw in uniques]
    parsed_values = np.empty(len(parsed) + 1, dtype=object)
    parsed_issues = np.empty(len(parsed) + 1, dtype=object)
    for k, (value, issue) in enumerate(parsed):
        parsed_values[k], parsed_issues[k] = value, issue
    parsed_values[-1] = parsed_issues[-1] = None  # factor -1: a missing value
    issues = pd.Series(parsed_issues[factor], index=series.index, dtype=object)
    if field.type in ("enum", "code", "text"):  # text, taken from the distinct values in Arrow
        dictionary = pa.array([value for value, _ in parsed], pa.string())
        taken = dictionary.take(pa.array(factor, mask=factor < 0))
        return pd.Series(pd.arrays.ArrowStringArray(taken), index=series.index), issues
    values = pd.Series(parsed_values[factor], index=series.index)
    if field.type == "integer":
        values = pd.Series(pd.array(values.tolist(), dtype="Int64"), index=series.index)
    elif field.type == "number":
        values = pd.to_numeric(values, errors="coerce")
    return values, issues


def _parse_one(raw: Any, field: FieldSpec, words: dict[str, str]) -> tuple[Any, Issue | None]:
    if field.type == "boolean":
        if isinstance(raw, (bool, np.bool_)):
            return bool(raw), None
        w = norm(str(raw))
        if w.endswith(".0"):
            w = w[:-2]
        if w in TRUE_WORDS:
            return True, None
        if w in FALSE_WORDS:
            return False, None
        if _is_null(raw):
            return None, None
        return None, Issue("not_boolean", "error", f"“{raw}” 不是“是/否”", f"'{raw}' is not yes/no")
    if _is_null(raw):
        return None, None
    if field.type == "integer" and _is_year(field) and (year := _year_of_date(raw)) is not None:
        # A date where a year is asked (建成年份 kept as a date column): its year is certain.
        wrong = _range_issue(field, year)
        if wrong is not None:
            return None, wrong
        return year, Issue(
            "year_from_date", "warning", f"日期 “{raw}” 取年份 {year}", f"took the year {year} of the date '{raw}'"
        )
    if field.type in ("integer", "number"):
        value, issue = parse_number(raw, field.type == "integer")
        if value is not None:
            issue = _range_issue(field, value) or issue
            if issue is not None and issue.severity == "error":
                value = None
        return value, issue
    if field.type == "enum":
        key = words.get(norm(str(raw)))
        if key is None:
            allowed = "、".join(sorted({w for w in words if not w.isascii()}))[:200]
            return None, Issue(
                "enum_unknown",
                "error",
                f"“{raw}” 不是已知取值（可用：{allowed}）",
                f"'{raw}' is not a known value of {field.name}",
            )
        return key, None
    if field.type == "code":
        text = _text(raw)
        digits = unicodedata.normalize("NFKC", text).replace(" ", "")
        if not digits.isdigit() or len(digits) != field.digits:
            return None, Issue(
                "code_format",
                "error",
                f"“{text}” 不是 {field.digits} 位数字代码",
                f"'{text}' is not a {field.digits}-digit code",
            )
        return digits, None
    if field.type == "date":
        stamp = pd.to_datetime(str(raw), errors="coerce")
        if pd.isna(stamp):
            return None, Issue("not_a_date", "error", f"“{raw}” 不是日期", f"'{raw}' is not a date")
        return stamp.date(), None
    return _text(raw), None


def _text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).replace("\x00", "").strip()


def without_nul(text: pa.Array) -> pa.Array:
    """Text with its NUL characters removed (PostgreSQL's text cannot hold them; some tools pad
    with them). The data buffer is scanned once: almost always there are none."""
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    data = text.buffers()[2] if len(text.buffers()) > 2 else None
    if data is None or np.frombuffer(data, dtype=np.uint8).all():
        return text
    return pc.replace_substring(text, "\x00", "")


DATE_TEXT = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2})\s*日?|月)?\s*$")


def _is_year(field: FieldSpec) -> bool:
    """An integer field that holds a year (its range lies within 1900–2100)."""
    return field.min is not None and field.max is not None and field.min >= 1900 and field.max <= 2100


def _year_of_date(raw: Any) -> int | None:
    """The year of a date value or of date text (2015-06-01, 2015/6/1, 2015年6月), else None."""
    if isinstance(raw, (datetime.date, np.datetime64)):
        return pd.Timestamp(raw).year
    m = DATE_TEXT.match(raw) if isinstance(raw, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12 or not 1 <= int(m.group(3) or 1) <= 31:
        return None
    return int(m.group(1))
