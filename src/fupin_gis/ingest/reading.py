"""A file read through its column mapping: flags, the engineer's value maps, the tally of every
enumeration's source values, and the problems a person must read first or answer."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fupin_gis.catalog import Catalog, FieldSpec, LayerSpec
from fupin_gis.ingest.fields import FieldMapping
from fupin_gis.ingest.problems import Problem
from fupin_gis.ingest.proposal import NO, YES
from fupin_gis.ingest.values import norm

FLAG_PREFIX = "__flag_"  # the synthetic column a flag field is read from
CLEARED = "-"  # --values FIELD:SRC=- : the value becomes empty


def flag_column(table: pd.DataFrame, pairs: list[tuple[str, str]]) -> pd.Series:
    """One enum field from its yes/no columns: yes → that column's value; no or empty → empty.

    A cell that is no yes/no word is passed on as it is, so the field's check names it; two
    columns both saying yes give ``a+b``, which no enumeration has, for the same reason.
    """
    out = pd.Series([None] * len(table), index=table.index, dtype=object)
    for col, key in pairs:
        cells = table[col].astype(object)
        words = cells.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else norm(str(v)))
        yes = words.isin(YES).to_numpy()
        other = (words.notna() & ~words.isin(YES) & ~words.isin(NO) & (words != "")).to_numpy()
        both = yes & out.notna().to_numpy()
        out[both] = out[both].astype(str) + "+" + key
        out[yes & ~both] = key
        out[other & out.isna().to_numpy()] = cells[other & out.isna().to_numpy()].astype(str)
    return out


def apply_value_map(series: pd.Series, values: dict[str, str]) -> pd.Series:
    """``series`` with the engineer's value answers applied (``--values``): source word → value or empty."""
    if not values:
        return series
    wanted = {norm(k): v for k, v in values.items()}
    cells = series.astype(object)
    keys = cells.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else norm(str(v)))
    hit = keys.isin(wanted).to_numpy()
    if not hit.any():
        return series
    mapped = keys[hit].map(wanted)
    cells[hit] = mapped.where(mapped != CLEARED, None)
    return cells


@dataclass
class ValueTally:
    """For each enum field: each distinct source value, what it became, and how many features had it."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    targets: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def add(self, fieldspec: FieldSpec, catalog: Catalog, raw: pd.Series, typed: pd.Series) -> None:
        """Count a chunk's values of one enum field (``raw`` as read, ``typed`` as converted)."""
        counts = self.counts.setdefault(fieldspec.name, Counter())
        targets = self.targets.setdefault(fieldspec.name, {})
        frame = pd.DataFrame({"raw": raw.astype(object).to_numpy(), "typed": typed.astype(object).to_numpy()})
        frame = frame[frame["raw"].notna()]
        if frame.empty:
            return
        frame["raw"] = frame["raw"].astype(str)
        for (source, target), n in frame.groupby(["raw", "typed"], dropna=False).size().items():
            counts[source] += int(n)
            targets[source] = None if pd.isna(target) else str(target)

    def to_dict(self, spec: LayerSpec, catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
        """JSON form: field → [{source, target, label, count}], unmatched values first."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, counts in self.counts.items():
            labels = {v.key: v.label for v in spec.field(name).enum_values(catalog)}
            rows = [
                {
                    "source": src,
                    "target": self.targets[name].get(src),
                    "label": labels.get(self.targets[name].get(src) or ""),
                    "count": n,
                }
                for src, n in counts.most_common()
            ]
            out[name] = sorted(rows, key=lambda r: (r["target"] is not None, -r["count"]))
        return out


def mapping_problems(fm: FieldMapping, spec: LayerSpec, label: str) -> list[Problem]:
    """What a person must read first (probable readings) or answer (columns the import cannot place)."""
    problems = []
    for r in fm.probable:
        target = r.target if r.value is None else f"{r.target}={r.value}"
        problems.append(
            Problem(
                "mapping_probable",
                f"列 “{r.source}” 读作 {spec.field(r.target or '').label}（{target}），依据：{'；'.join(r.evidence)}；如不对请用 --map {r.source}=字段 或 --map {r.source}=-",
                f"column '{r.source}' read as {target} (score {r.score:.2f}: {'; '.join(r.evidence)}); if wrong, answer --map {r.source}=FIELD or --map {r.source}=-",
                "warning",
                label,
                field=r.source,
                value=", ".join(r.samples[:3]) or None,
            )
        )
    if fm.personal:
        problems.append(
            Problem(
                "personal_data_dropped",
                f"列 {'、'.join(fm.personal)} 是个人信息（姓名、身份证号、电话），未导入，也不存入 extra",
                f"columns {', '.join(fm.personal)} hold personal data (names, ID or phone numbers): not imported, not kept in extra",
                "warning",
                label,
                field=", ".join(fm.personal),
            )
        )
    for r in fm.asked:
        cands = [c for c in r.candidates if c.score >= 0.2][:3]
        names = "、".join(f"{c.label}（{c.score:.2f}）" for c in cands) or "无 / none"
        problems.append(
            Problem(
                "mapping_needed",
                f"列 “{r.source}”（如 {'、'.join(r.samples[:3])}）像是规则要读的数据，但无法确定是哪个字段（候选：{names}）；请用 --map {r.source}=字段 指明，或 --map {r.source}=- 存入 extra",
                f"column '{r.source}' (e.g. {', '.join(r.samples[:3])}) looks like data a rule reads, but which field it is cannot be told (candidates: {names}); answer --map {r.source}=FIELD, or --map {r.source}=- to keep it in extra",
                "error",
                label,
                field=r.source,
                value=", ".join(r.samples[:3]) or None,
            )
        )
    return problems


def whole_file_defaults(
    spec: LayerSpec, catalog: Catalog, mapped: set[str], given: dict[str, str], label: str
) -> tuple[dict[str, str], list[Problem]]:
    """Values for required fields the file has no column for: the engineer's (``--set``), else the
    catalog's import default (a survey of what exists), each said; the others are errors naming the
    exact ``--set`` to give."""
    defaults = dict(given)
    problems = []
    for f in spec.fields:
        if not f.required or f.name in mapped or f.name in defaults:
            continue
        values = f.enum_values(catalog)
        if f.import_default is not None:
            defaults[f.name] = f.import_default
            shown = next(v.label for v in values if v.key == f.import_default)
            problems.append(
                Problem(
                    "import_default_applied",
                    f"文件没有{f.label}列：全部按“{shown}”（{f.import_default}）导入（现状调查）；如不对请用 --set {f.name}=取值",
                    f"the file has no {f.name} column: every feature imported as {f.import_default} (a survey of what exists); if wrong, give --set {f.name}=VALUE",
                    "warning",
                    label,
                    field=f.name,
                )
            )
            continue
        allowed = "、".join(f"{v.key}（{v.label}）" for v in values) if values else ""
        example = values[0].key if values else ("true" if f.type == "boolean" else "…")
        hint_zh = (
            f"可用取值：{allowed}；" if allowed else ("取值：true/false（是/否）；" if f.type == "boolean" else "")
        )
        problems.append(
            Problem(
                "required_field_missing",
                f"缺少必填字段 {f.label}（{f.name}）；可用的列名：{'、'.join(f.aliases[:6])}，或用 --map 源列={f.name}；如整个文件同一取值，用 --set {f.name}={example}（{hint_zh.rstrip('；')}）",
                f"required field {f.name} ({f.en}) is missing; name a column like {', '.join(f.aliases[:6])}, use --map SRC={f.name}, or give one value for the whole file: --set {f.name}={example}"
                + (f" (values: {', '.join(v.key for v in values)})" if values else ""),
                "error",
                label,
                field=f.name,
            )
        )
    return defaults, problems
