"""Rule 7, plan versus actual: a plan's targets measured from the registry.

A plan file (TOML) lists items: the layer, filters on catalog fields, a measure (length_km,
count, area_mu), the statuses that count as done and the year field that places the work in the
plan's years. Nothing is typed in: every actual figure is computed from the map.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Connection, text

from fupin_gis.auth.scope import township_sql
from fupin_gis.catalog import Catalog
from fupin_gis.db.sql import ident
from fupin_gis.errors import InvalidInput

MEASURES = {
    "length_km": "sum(ST_Length(x.geom::geography)) / 1000.0",
    "count": "count(*)",
    "area_mu": "sum(ST_Area(x.geom::geography)) / 666.6667",
}


class PlanItem(BaseModel):
    """One target of a plan."""

    model_config = ConfigDict(extra="forbid")
    key: str
    label: str
    target: float
    unit: str
    layer: str | None = None
    measure: Literal["length_km", "count", "area_mu", "none"]
    where: dict[str, list[str]] = {}
    status: list[str] | None = None
    year_field: str | None = None


class Tranche(BaseModel):
    """A year's share of the plan."""

    model_config = ConfigDict(extra="forbid")
    key: str
    label: str
    year: int
    targets: dict[str, float]


class Plan(BaseModel):
    """A plan file."""

    model_config = ConfigDict(extra="forbid")
    name: str
    start_year: int
    end_year: int
    status: list[str] = ["completed"]
    year_field: str = "plan_year"
    items: list[PlanItem]
    tranches: list[Tranche] = []


def _bad(path: Path, where: str, zh: str, en: str) -> InvalidInput:
    return InvalidInput(
        f"规划文件 {path.name}：{where}：{zh}", f"plan file {path.name}: {where}: {en}", file=path.name, key=where
    )


def load_plan(path: Path, catalog: Catalog) -> Plan:
    """Read and check a plan file against the catalog (layers, fields, enum values)."""
    try:
        plan = Plan.model_validate(tomllib.loads(path.read_text("utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _bad(path, "(file)", str(exc), str(exc)) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise _bad(path, loc, first["msg"], first["msg"]) from exc
    keys = {i.key for i in plan.items}
    for item in plan.items:
        where = f"items.{item.key}"
        if item.measure == "none":
            continue
        if item.layer not in catalog.layers:
            raise _bad(path, where, f"没有图层 “{item.layer}”", f"no layer '{item.layer}'")
        spec = catalog.layer(item.layer)
        for name in item.where:
            if name not in spec.field_names:
                raise _bad(
                    path, where, f"图层 {spec.name} 没有字段 “{name}”", f"layer {spec.name} has no field '{name}'"
                )
        if item.year_field and item.year_field not in spec.field_names:
            raise _bad(
                path,
                where,
                f"图层 {spec.name} 没有字段 “{item.year_field}”",
                f"layer {spec.name} has no field '{item.year_field}'",
            )
        for name, values in item.where.items():
            allowed = {v.key for v in spec.field(name).enum_values(catalog)}
            for value in values:
                if allowed and value not in allowed:
                    raise _bad(path, where, f"“{value}” 不是 {name} 的取值", f"'{value}' is not a value of {name}")
    for tranche in plan.tranches:
        for key in tranche.targets:
            if key not in keys:
                raise _bad(path, f"tranches.{tranche.key}", f"没有条目 “{key}”", f"no item '{key}'")
    return plan


def _year_field(item: PlanItem, plan: Plan, catalog: Catalog) -> str | None:
    name = item.year_field if item.year_field is not None else plan.year_field
    if not name or item.layer is None or name not in catalog.layer(item.layer).field_names:
        return None
    return name


def measure(conn: Connection, plan: Plan, catalog: Catalog) -> dict[str, Any]:
    """Planned, done and share for every item: in all, by year and by township; tranches too."""
    items = []
    for item in plan.items:
        row: dict[str, Any] = {"key": item.key, "label": item.label, "unit": item.unit, "planned": item.target}
        if item.measure == "none" or item.layer is None:
            items.append(
                row | {"done": None, "share": None, "note": "登记库没有此类要素 / the registry holds no such features"}
            )
            continue
        params: dict[str, Any] = {"status": item.status or plan.status, "y0": plan.start_year, "y1": plan.end_year}
        filters = ["x.status = ANY(:status)"] if "status" in catalog.layer(item.layer).field_names else []
        for k, (name, values) in enumerate(item.where.items()):
            filters.append(f"x.{ident(name)} = ANY(:w{k})")
            params[f"w{k}"] = values
        year = _year_field(item, plan, catalog)
        year_expr = f"x.{ident(year)}" if year else "NULL::integer"
        if year:
            filters.append(f"{year_expr} BETWEEN :y0 AND :y1")
        has_village = "village_code" in catalog.layer(item.layer).field_names
        town = f"coalesce({township_sql('x.village_code')}, t.code)" if has_village else "t.code"
        sql = (
            f"SELECT {year_expr} AS year, {town} AS township, {MEASURES[item.measure]} AS amount "
            f"FROM {ident(item.layer)} x LEFT JOIN townships t ON ST_Intersects(t.geom, ST_PointOnSurface(x.geom)) "
            f"WHERE {' AND '.join(filters) or 'true'} GROUP BY 1, 2"
        )
        rows = conn.execute(text(sql), params).all()
        done = float(sum(r.amount or 0 for r in rows))
        by_year: dict[str, float] = {}
        by_township: dict[str, float] = {}
        for r in rows:
            by_year[str(r.year)] = by_year.get(str(r.year), 0.0) + float(r.amount or 0)
            by_township[str(r.township)] = by_township.get(str(r.township), 0.0) + float(r.amount or 0)
        items.append(
            row
            | {
                "done": round(done, 3),
                "share": round(done / item.target, 4) if item.target else None,
                "by_year": {k: round(v, 3) for k, v in sorted(by_year.items())},
                "by_township": {k: round(v, 3) for k, v in sorted(by_township.items())},
            }
        )
    by_key = {i["key"]: i for i in items}
    tranches = [
        {
            "key": t.key,
            "label": t.label,
            "year": t.year,
            "items": [
                {
                    "key": k,
                    "label": by_key[k]["label"],
                    "planned": v,
                    "done": (by_key[k].get("by_year") or {}).get(str(t.year), 0.0)
                    if by_key[k]["done"] is not None
                    else None,
                }
                for k, v in t.targets.items()
            ],
        }
        for t in plan.tranches
    ]
    return {"plan": plan.name, "years": [plan.start_year, plan.end_year], "items": items, "tranches": tranches}
