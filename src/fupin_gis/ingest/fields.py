"""Map a file's columns to a layer's fields through the catalog's aliases."""

from __future__ import annotations

from dataclasses import dataclass, field

from fupin_gis.catalog import LayerSpec
from fupin_gis.errors import ImportRefused
from fupin_gis.ingest.values import norm

DROP = "-"


@dataclass
class FieldMapping:
    """Source column → layer field; unknown columns go to the ``extra`` JSON column."""

    mapping: dict[str, str]
    unknown: list[str]
    notes: list[str] = field(default_factory=list)


def _keys(text: str) -> set[str]:
    k = norm(text)
    return {k, k.replace("_", "").replace("-", "")}


def map_fields(spec: LayerSpec, columns: list[str], overrides: dict[str, str]) -> FieldMapping:
    """Match ``columns`` to ``spec``'s fields by name and alias (case, width and ``_`` ignored).

    ``overrides`` (``--map SRC=DST``) win; ``DST`` of ``-`` drops a column. A Shapefile column
    cut to 10 characters matches the one field whose name or alias it begins.
    """
    for dst in overrides.values():
        if dst != DROP and dst not in spec.field_names:
            raise ImportRefused(
                f"--map 的目标字段 “{dst}” 不在图层 {spec.name} 中（可用：{'、'.join(spec.field_names)}）",
                f"--map target '{dst}' is not a field of {spec.name} (fields: {', '.join(spec.field_names)})",
                field=dst,
            )
    index: dict[str, str] = {}
    for f in spec.fields:
        for word in (f.name, f.label, *f.aliases):
            for k in _keys(word):
                index.setdefault(k, f.name)
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    notes: list[str] = []
    taken: dict[str, str] = {}
    for col in columns:
        if col in overrides:
            if overrides[col] != DROP:
                mapping[col] = overrides[col]
                taken[overrides[col]] = col
            continue
        target = next((index[k] for k in _keys(col) if k in index), None)
        if target is None and len(col.encode("utf-8")) >= 8:  # cut by the 10-byte .dbf limit
            starts = {index[k] for k in index if k.startswith(norm(col))}
            target = starts.pop() if len(starts) == 1 else None
        if target is None or target in taken or target in overrides.values():
            if target is not None:
                notes.append(
                    f"{col} → {target}: {taken.get(target, '--map')} 已对应该字段，此列存入 extra / already mapped by another column, kept in extra"
                )
            unknown.append(col)
            continue
        mapping[col] = target
        taken[target] = col
    return FieldMapping(mapping, unknown, notes)
