"""Rule 6: the seven checks (村七有, 户七有) as configurable checklists.

Villages are judged by rules (road access, facilities) or reported unknown where the registry
holds no data; households by their fields, with computed rules (water access) that must hold
too. Each item reports pass/fail with its reason; nothing missing is assumed to pass.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Connection, text

from fupin_gis.catalog import Catalog
from fupin_gis.errors import InvalidInput


class VillageItem(BaseModel):
    """One village check."""

    model_config = ConfigDict(extra="forbid")
    key: str
    label: str
    rule: Literal["road_access", "facilities", "none"]
    kinds: list[str] = []
    standard: bool = False
    if_present: bool = False


class HouseholdItem(BaseModel):
    """One household check."""

    model_config = ConfigDict(extra="forbid")
    key: str
    label: str
    field: str
    also_rule: Literal["water_access"] | None = None


class Checklists(BaseModel):
    """Both lists (and the facility kinds' labels from the catalog, for the reasons)."""

    model_config = ConfigDict(extra="forbid")
    village: list[VillageItem]
    household: list[HouseholdItem]
    kind_labels: dict[str, str] = {}


def load_checklists(path: Path, catalog: Catalog) -> Checklists:
    """Read the checklists and check their fields and facility kinds against the catalog."""
    try:
        lists = Checklists.model_validate(tomllib.loads(path.read_text("utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(
            f"检查清单 {path.name} 无效：{exc}", f"invalid checklist file {path.name}: {exc}", file=path.name
        ) from exc
    except ValidationError as exc:
        loc = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise InvalidInput(
            f"检查清单 {path.name}：{loc}：{exc.errors()[0]['msg']}",
            f"checklist file {path.name}: {loc}: {exc.errors()[0]['msg']}",
            file=path.name,
            key=loc,
        ) from exc
    labels = {v.key: v.label for v in catalog.layer("facilities").field("kind").enum_values(catalog)}
    lists.kind_labels = labels
    kinds = set(labels)
    for item in lists.village:
        for kind in item.kinds:
            if kind not in kinds:
                raise InvalidInput(
                    f"检查清单 {path.name}：village.{item.key}：没有设施类型 “{kind}”",
                    f"checklist file {path.name}: village.{item.key}: no facility kind '{kind}'",
                    file=path.name,
                    key=f"village.{item.key}",
                )
    fields = catalog.layer("households").field_names
    for h in lists.household:
        if h.field not in fields:
            raise InvalidInput(
                f"检查清单 {path.name}：household.{h.key}：户图层没有字段 “{h.field}”",
                f"checklist file {path.name}: household.{h.key}: households have no field '{h.field}'",
                file=path.name,
                key=f"household.{h.key}",
            )
    return lists


def village_checks(
    lists: Checklists, access: dict[str, Any], facilities: dict[str, dict[str, int]]
) -> dict[str, dict[str, Any]]:
    """Each village item: ok (True, False, or None for no data) and the reason."""
    out: dict[str, dict[str, Any]] = {}
    for item in lists.village:
        if item.rule == "road_access":
            out[item.key] = {"ok": access["connected"], "reason": access["reason"] or "通硬化路 / connected"}
        elif item.rule == "facilities":
            counts = {k: facilities.get(k, {"count": 0, "standard": 0}) for k in item.kinds}
            have = {k: c["standard"] if item.standard else c["count"] for k, c in counts.items()}
            if item.if_present and all(c["count"] == 0 for c in counts.values()):
                out[item.key] = {"ok": True, "reason": "无此类设施（不适用）/ none in the village: not applicable"}
            else:
                ok = all(
                    (c["standard"] == c["count"] if item.if_present else v > 0)
                    for v, c in zip(have.values(), counts.values(), strict=True)
                )
                what = "达标" if item.standard else "已建"
                out[item.key] = {
                    "ok": ok,
                    "reason": "，".join(
                        f"{lists.kind_labels.get(k, k)} {what} {have[k]}/{counts[k]['count']}" for k in item.kinds
                    ),
                }
        else:
            out[item.key] = {"ok": None, "reason": "登记库无此项数据 / no data in the registry"}
    return out


def household_checks(conn: Connection, lists: Checklists, ids: np.ndarray, water_ok: np.ndarray) -> pd.DataFrame:
    """Per household (indexed by id, in the order of ``ids``): code, village and each item met or not.

    A household field left empty counts as not met (unknown is not a pass). ``water_ok`` is
    rule 2 per household, in the order of ``ids``.
    """
    fields = ", ".join(dict.fromkeys(h.field for h in lists.household))
    frame = pd.read_sql(text(f"SELECT id, code, village_code, {fields} FROM households"), conn).set_index("id").loc[ids]
    met = frame[["code", "village_code"]].copy()
    for h in lists.household:
        ok = frame[h.field].fillna(False).astype(bool).to_numpy()
        if h.also_rule == "water_access":
            ok = ok & water_ok
        met[h.key] = ok
    return met


def missing_items(lists: Checklists, met: pd.DataFrame) -> np.ndarray:
    """Per household, the keys of the items not met as a PostgreSQL array literal (``{house,biogas}``)."""
    joined = np.full(len(met), "", dtype=object)
    for h in lists.household:
        joined = joined + np.where(met[h.key].to_numpy(), "", h.key + ",")
    return np.array(["{" + s[:-1] + "}" if s else "{}" for s in joined], dtype=object)


def household_counts(lists: Checklists, met: pd.DataFrame) -> pd.DataFrame:
    """Per village: households, households meeting every item, and how many miss each item."""
    keys = [h.key for h in lists.household]
    counts = pd.DataFrame({"households": 1, "all_ok": met[keys].all(axis=1).to_numpy()}, index=met.index)
    for key in keys:
        counts[f"missing_{key}"] = ~met[key].to_numpy()
    return counts.groupby(met["village_code"].to_numpy()).sum().astype(int)
