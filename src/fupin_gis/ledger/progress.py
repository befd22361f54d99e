"""Progress measured from the registry, never typed: a project's features read as they stood on a
date (the registry's history: each version of a feature holds from its ``updated_at`` until the
committed batch that replaced it; rolled-back batches never happened), measured geodesically, and
the progress reports engineers file from that measure (an override needs a reason and a certifier).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import InvalidInput
from fupin_gis.ledger import disclosure
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import PROGRESS, require, require_area
from fupin_gis.ledger.events import record
from fupin_gis.ledger.fields import not_after_today, today
from fupin_gis.ledger.library import require_status, set_status
from fupin_gis.ledger.sqlutil import acting, ident
from fupin_gis.ledger.state import Project, linked, load

FOREVER = datetime(9999, 12, 31, tzinfo=ZoneInfo("UTC"))  # "now": only the current versions hold this late
MEASURES = {
    "length_km": "ST_Length(r.geom::geography) / 1000.0",
    "count": "1.0",
    "area_mu": "ST_Area(r.geom::geography) / 666.6667",
}


def end_of_day(day: date, zone: str) -> datetime:
    """The instant a date ends in ``zone`` (a figure "as of 2011-09-30" includes that whole day)."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(zone))


def versions_sql(table: str) -> str:
    """SQL of each feature of ``:ids`` as it stood at ``:t`` (a row of the layer's type, alias ``r``)."""
    return (
        "WITH versions AS ("
        f" SELECT t.id, to_jsonb(t) AS row, t.updated_at AS since, 'infinity'::timestamptz AS until FROM {table} t"
        " WHERE t.id = ANY(:ids)"
        " UNION ALL"
        " SELECT h.feature_id, h.old, (h.old->>'updated_at')::timestamptz, b.created_at"
        " FROM feature_history h JOIN batches b ON b.id = h.batch_id"
        " WHERE h.layer = :layer AND h.feature_id = ANY(:ids) AND b.status = 'committed')"
        f" SELECT DISTINCT ON (v.id) r.* FROM versions v CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, v.row) r"
        " WHERE v.since < :t AND :t <= v.until ORDER BY v.id, v.since DESC"
    )


def measure(conn: Connection, led: Ledger, p: Project, at: datetime | None = None) -> dict[str, Any] | None:
    """The project's planned and built quantity from its linked features, built ``at`` an instant
    (None: now). None for a subtype the registry does not measure or a project without features."""
    sub = led.rules.subtypes.get(p.record.get("subtype") or "")
    if sub is None or sub.layer is None or sub.measure is None:
        return None
    ids = linked(p).get(sub.layer, [])
    if not ids:
        return None
    spec = led.catalog.layer(sub.layer)
    table = ident(spec.name)
    params: dict[str, Any] = {"ids": ids, "layer": spec.name}
    conds = []
    for k, (name, values) in enumerate(sub.done.items()):
        conds.append(f"r.{ident(name)} = ANY(:d{k})")
        params[f"d{k}"] = values
    if sub.min_width_m is not None and "width_m" in spec.field_names:
        conds.append("(r.width_m >= :w OR (r.width_m IS NULL AND :unknown))")
        params["w"] = sub.min_width_m
        params["unknown"] = led.rules.rules.reimbursement.unknown_width_counts
    done = " AND ".join(conds) or "true"
    amount = MEASURES[sub.measure]
    sql = f"SELECT r.id, {amount} AS amount, ({done}) AS done FROM ({versions_sql(table)}) r"
    planned_rows = conn.execute(text(sql), params | {"t": FOREVER}).all()
    when = at or FOREVER
    rows = conn.execute(text(sql), params | {"t": when}).all()
    planned = sum(float(r.amount or 0) for r in planned_rows)
    built = sum(float(r.amount or 0) for r in rows if r.done)
    pct = Decimal(0) if not planned else min(Decimal(100), Decimal(str(built / planned * 100)))
    return {
        "layer": spec.name,
        "unit": sub.unit,
        "measure": sub.measure,
        "as_of": at.isoformat() if at else None,
        "planned": round(planned, 6),
        "measured": round(built, 6),
        "pct": float(pct.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)),
        "features": len(ids),
        "existing": len(rows),
        "done": [int(r.id) for r in rows if r.done],
    }


def measure_on(conn: Connection, led: Ledger, p: Project, day: date | None) -> dict[str, Any] | None:
    """:func:`measure` at the end of ``day`` in the rules' time zone (None: now)."""
    return measure(conn, led, p, end_of_day(day, led.rules.timezone) if day else None)


def _photos(photos: list[Any] | None, srid: int) -> str | None:
    if not photos:
        return None
    points = []
    for p in photos:
        try:
            lon, lat = float(p[0]), float(p[1])
        except (TypeError, ValueError, IndexError):
            raise InvalidInput("照片位置应为 [经度, 纬度]", "photo positions are [lon, lat]", field="photos") from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InvalidInput("照片位置不是经纬度", "photo positions are not lon/lat", field="photos")
        points.append([lon, lat])
    return json.dumps(
        {"type": "MultiPoint", "coordinates": points, "crs": {"type": "name", "properties": {"name": f"EPSG:{srid}"}}}
    )


def report_progress(
    led: Ledger,
    who: Principal,
    code: str,
    on: date | None = None,
    certified: Any = None,
    reason: str | None = None,
    certifier: str | None = None,
    photos: list[Any] | None = None,
) -> int:
    """File a progress report: the registry's measure on ``on`` and the certified % (by default the
    measured one); returns its id."""
    require(who, PROGRESS, "progress")
    day = not_after_today(on or today(led.rules), led.rules, "on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        checks = led.checks()
        require_status(p, checks, ("library", "implementing"), ("报告进度", "report progress"))
        m = measure_on(conn, led, p, day)
        measured_pct = Decimal(str(m["pct"])) if m else None
        value = Decimal(str(certified)).quantize(Decimal("0.1")) if certified not in (None, "") else measured_pct
        if value is None:
            raise InvalidInput(
                "此项目的进度无法从登记库测算：请给出认定进度及认定人",
                "the registry cannot measure this project's progress: give the certified % and the certifier",
                field="certified",
            )
        previous = p.certified_pct
        checks.require(
            Decimal(0) <= value <= Decimal(100) and value >= previous,
            "progress_range",
            f"认定进度 {value}% 须在 0–100 之间且不低于上次的 {previous}%",
            f"certified progress {value}% must lie in 0–100 and not below the previous {previous}%",
            "0 ≤ 进度 ≤ 100，不倒退 / never decreasing",
            certified=value,
            previous=previous,
        )
        overridden = measured_pct is not None and value != measured_pct
        if measured_pct is None:  # nothing to measure: the certified figure stands on its certifier
            checks.require(
                bool(certifier),
                "progress_override",
                f"登记库无法测算此项目的进度：认定进度 {value}% 须有认定人",
                f"the registry cannot measure this project: the certified {value}% needs a certifier",
                "认定人 / certifier",
                certified=value,
                certifier=bool(certifier),
            )
        checks.require(
            not overridden or (bool(reason) and bool(certifier)),
            "progress_override",
            f"认定进度 {value}% 与登记库实测 {measured_pct}% 不同，须说明理由并由认定人签认",
            f"certified {value}% differs from the registry's measured {measured_pct}%: give a reason and a certifier",
            "理由 + 认定人 / reason + certifier",
            certified=value,
            measured=measured_pct,
            reason=bool(reason),
            certifier=bool(certifier),
        )
        if value > 0:
            disclosure.require_notices(led, checks, p, "works", day)
        event = record(
            conn, who, "progress", code, {"on": day, "certified": value, "measured": m}, checks, reason, "progress"
        )
        pid = conn.execute(
            text(
                "INSERT INTO ledger_progress (project_code, reported_on, measured, measured_pct, certified_pct, "
                "override_reason, certifier, photos, reporter, event_id) VALUES (:c, :d, CAST(:m AS jsonb), :mp, :cp, "
                ":r, :who, ST_GeomFromGeoJSON(:ph), :rep, :e) RETURNING id"
            ),
            {
                "c": code,
                "d": day,
                "m": json.dumps(m or {}, ensure_ascii=False),
                "mp": measured_pct,
                "cp": value,
                "r": reason,
                "who": certifier or who.username,
                "ph": _photos(photos, led.srid),
                "rep": who.username,
                "e": event,
            },
        ).scalar_one()
        if p.status == "library" and value > 0:
            set_status(conn, code, "implementing", day, event)
    return int(pid)
