"""Map a file's columns to a layer's fields: the readings of ``proposal`` put through one policy.

Certain readings (a name, label or alias of the catalog; a name cut to the .dbf's 10 bytes) are
applied. Probable ones are applied and reported first, with their evidence. A column whose values
look decisive without a confident target — or with two close candidates — is asked about
(``mapping_needed``); the engineer answers with ``--map SRC=DST``, ``--map SRC=FIELD=VALUE`` (a
yes/no column as one value of an enum field) or ``--map SRC=-`` (keep it in ``extra``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import ImportRefused
from fupin_gis.ingest.proposal import (
    CERTAIN,
    MARGIN,
    PROBABLE,
    Candidate,
    Reading,
    candidates,
    distinct,
    looks_decisive,
)
from fupin_gis.ingest.values import norm

DROP = "-"
SAMPLE_VALUES = 5
# Values that are personal data whatever the column is called: a resident ID number (18 digits, the
# last may be X; the old 15), a mobile or a landline number.
PERSONAL_VALUES = re.compile(r"^(\d{17}[\dXx]|\d{15}|1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


@dataclass
class FieldMapping:
    """Source column → layer field; flags (field → [(column, enum key)]); the rest goes to ``extra``."""

    mapping: dict[str, str]
    unknown: list[str]
    notes: list[str] = field(default_factory=list)
    flags: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    readings: list[Reading] = field(default_factory=list)
    personal: list[str] = field(default_factory=list)  # dropped: personal data on a restricted layer

    @property
    def asked(self) -> list[Reading]:
        """The columns the engineer must place."""
        return [r for r in self.readings if r.decision == "asked"]

    @property
    def probable(self) -> list[Reading]:
        """The columns read with less than certainty (applied, and reported first)."""
        return [r for r in self.readings if r.decision == "probable"]


def check_overrides(spec: LayerSpec, catalog: Catalog, overrides: dict[str, str]) -> None:
    """Refuse a ``--map`` target the layer does not have, naming the fields it has."""
    for dst in overrides.values():
        if dst == DROP:
            continue
        name, _, value = dst.partition("=")
        if name not in spec.field_names:
            raise ImportRefused(
                f"--map 的目标字段 “{name}” 不在图层 {spec.name} 中（可用：{'、'.join(spec.field_names)}）",
                f"--map target '{name}' is not a field of {spec.name} (fields: {', '.join(spec.field_names)})",
                field=name,
            )
        keys = [v.key for v in spec.field(name).enum_values(catalog)]
        if value and value not in keys:
            raise ImportRefused(
                f"--map 的 “{dst}”：{name} 没有取值 “{value}”（可用：{'、'.join(keys) or '无，非枚举字段'}）",
                f"--map '{dst}': {name} has no value '{value}' (values: {', '.join(keys) or 'none, not an enum'})",
                field=name,
            )


def _samples(series: pd.Series | None) -> list[str]:
    if series is None:
        return []
    out: list[str] = []
    for v in series.dropna():
        text = str(v).replace("\x00", "").strip()
        if text and text not in out:
            out.append(text[:40])
            if len(out) == SAMPLE_VALUES:
                break
    return out


def map_fields(
    spec: LayerSpec,
    catalog: Catalog,
    columns: list[str],
    overrides: dict[str, str],
    sample: pd.DataFrame | None = None,
) -> FieldMapping:
    """Read ``columns`` (with ``sample``, rows of their values) as ``spec``'s fields; ``overrides``
    (``--map``, a profile) win."""
    check_overrides(spec, catalog, overrides)
    ignored = {norm(c) for c in catalog.ignore_columns}
    fm = FieldMapping({}, [])
    taken: dict[str, str] = {}  # field -> the column that has it
    flagged: dict[tuple[str, str], str] = {}  # (field, value) -> the column that sets it
    pending: list[Reading] = []
    for col in columns:
        series = sample[col] if sample is not None and col in sample else None
        values = distinct(series.head(5000)) if series is not None else []
        reading = Reading(col, _samples(series))
        fm.readings.append(reading)
        if col in overrides:
            dst = overrides[col]
            if dst == DROP:
                reading.decision, reading.evidence = "chosen", ["--map SRC=-：存入 extra / kept in extra on purpose"]
                continue
            name, _, value = dst.partition("=")
            reading.apply(Candidate(name, 1.0, ["指定 / chosen (--map or profile)"], value or None), "chosen")
            continue
        if norm(col) in ignored:
            reading.decision = "ignored"
            reading.evidence = ["GIS 软件自带的列 / a column GIS tools add (catalog ignore_columns)"]
            continue
        reading.candidates = candidates(spec, catalog, col, values)
        reading.decisive = looks_decisive(spec, values, catalog)
        pending.append(reading)
    for r in fm.readings:
        if r.decision == "chosen" and r.target is not None:
            if r.value is None:
                taken[r.target] = r.source
            else:
                flagged[(r.target, r.value)] = r.source
    # certain readings first, then the others by how sure they are
    pending.sort(key=lambda r: -(r.candidates[0].score if r.candidates else 0))
    for r in pending:
        best = r.candidates[0] if r.candidates else None
        if best is None:
            r.decision = "asked" if r.decisive else r.decision
            continue
        if best.score >= CERTAIN:
            if _free(best, taken, flagged):
                r.apply(best, "certain")
                _take(r, taken, flagged)
            else:
                fm.notes.append(
                    f"{r.source} → {best.target}: {_holder(best, taken, flagged)} 已对应该字段，此列存入 extra / already mapped by another column, kept in extra"
                )
                r.evidence = [f"{best.label} 已由另一列对应 / taken by another column"]
            continue
        if not r.samples:
            r.evidence = ["空列 / an empty column"]
            continue
        free = [c for c in r.candidates if _free(c, taken, flagged)]
        top = free[0] if free else None
        runner_up = next((c.score for c in free[1:] if c.label != top.label), 0.0) if top else 0.0
        if top is not None and top.score >= PROBABLE and top.score - runner_up >= MARGIN:
            r.apply(top, "probable")
            _take(r, taken, flagged)
        elif r.decisive or (top is not None and spec.field(top.target).decisive and top.score >= 0.4):
            r.decision = "asked"
    for r in fm.readings:
        if spec.restricted and r.target is None and _personal(spec, r.source, sample):
            r.decision, r.samples = "personal", []  # not even a sample goes into the report
            r.evidence = ["个人信息，不导入 / personal data: not imported"]
            fm.personal.append(r.source)
        elif r.target is None:
            fm.unknown.append(r.source)
        elif r.value is None:
            fm.mapping[r.source] = r.target
        elif r.target in taken:  # a flag for a field another column fills: ask instead
            r.decision, r.kind, r.target, r.value = "asked", "extra", None, None
            fm.unknown.append(r.source)
        else:
            fm.flags.setdefault(r.target, []).append((r.source, r.value))
    return fm


def _personal(spec: LayerSpec, column: str, sample: pd.DataFrame | None) -> bool:
    """A column of names, ID or phone numbers: by the catalog's list of such columns, or its values."""
    if norm(column) in {norm(c) for c in spec.personal_columns}:
        return True
    if sample is None or column not in sample:
        return False
    cells = [str(v).strip() for v in sample[column].dropna().head(2000)]
    cells = [c for c in cells if c]
    return bool(cells) and sum(bool(PERSONAL_VALUES.match(c)) for c in cells) >= 0.5 * len(cells)


def _take(r: Reading, taken: dict[str, str], flagged: dict[tuple[str, str], str]) -> None:
    if r.value is None:
        taken[r.target or ""] = r.source
    else:
        flagged[(r.target or "", r.value)] = r.source


def _free(c: Candidate, taken: dict[str, str], flagged: dict[tuple[str, str], str]) -> bool:
    if c.value is None:
        return c.target not in taken and not any(f == c.target for f, _ in flagged)
    return c.target not in taken and (c.target, c.value) not in flagged


def _holder(c: Candidate, taken: dict[str, str], flagged: dict[tuple[str, str], str]) -> str:
    return taken.get(c.target) or flagged.get((c.target, c.value or ""), "--map")
