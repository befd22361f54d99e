"""Hand-over of finished works to the asset register (资产移交): the registry features themselves
get their class (经营性 / 公益性 / 到户类), owner, upkeep, project and value (原值, from what was
paid, split over the features like the money by village), as one registry batch; the ledger keeps
the hand-over with the upkeep person and the value by source."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import InvalidInput
from fupin_gis.ingest.edit import edit_in
from fupin_gis.ledger import disclosure
from fupin_gis.ledger.checks import Checks
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import LIBRARY, require, require_area
from fupin_gis.ledger.events import record
from fupin_gis.ledger.fields import not_after_today, parse_date, today
from fupin_gis.ledger.library import require_status, set_status
from fupin_gis.ledger.money import split
from fupin_gis.ledger.sqlutil import acting, dumps, ident
from fupin_gis.ledger.state import Project, linked, load
from fupin_gis.tiles.cache import invalidate_batch

CLASSES = {
    "operating": ("经营性资产", "operating"),
    "public_welfare": ("公益性资产", "public welfare"),
    "household": ("到户类资产", "household"),
}
OWNER_LEVELS = {
    "county": ("县级", "county"),
    "township": ("乡镇级", "township"),
    "village": ("村集体", "village collective"),
    "household": ("农户", "household"),
    "other": ("其他", "other"),
}
LABELS = {
    "asset_class": ("资产类别", "asset class"),
    "owner": ("确权主体", "owner"),
    "maintainer_unit": ("管护单位", "upkeep unit"),
    "maintainer_person": ("管护责任人", "upkeep person"),
}


def _fields_check(led: Ledger, checks: Checks, values: dict[str, Any]) -> None:
    wanted = led.rules.rules.acceptance.handover_fields
    missing = [k for k in wanted if not str(values.get(k) or "").strip()]
    checks.require(
        not missing,
        "handover_fields",
        f"移交缺少：{'、'.join(LABELS.get(k, (k, k))[0] for k in missing)}",
        f"the hand-over lacks: {', '.join(LABELS.get(k, (k, k))[1] for k in missing)}",
        wanted,
        missing=missing,
    )


def paid_by_source(led: Ledger, p: Project) -> dict[str, Decimal]:
    """What has been paid (approved, net of reversals) by funding source."""
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    out: dict[str, Decimal] = {}
    for x in p.payments:
        if x.state(steps) == "approved":
            line = p.line(x.line_id)
            assert line is not None
            out[line["source"]] = out.get(line["source"], Decimal(0)) + x.net
    return out


def handover(
    led: Ledger,
    who: Principal,
    code: str,
    asset_class: str,
    owner: str,
    owner_level: str,
    maintainer_unit: str,
    maintainer_person: str,
    on: Any = None,
    confirmed_on: Any = None,
    certificate: str | None = None,
) -> list[int]:
    """Hand the project's works over to the asset register; returns the ledger's asset ids."""
    require(who, LIBRARY, "library")
    values = {
        "asset_class": asset_class,
        "owner": owner,
        "maintainer_unit": maintainer_unit,
        "maintainer_person": maintainer_person,
    }
    if asset_class and asset_class not in CLASSES:
        raise InvalidInput(
            f"资产类别 “{asset_class}” 无效：{', '.join(CLASSES)}",
            f"unknown asset class '{asset_class}'",
            field="asset_class",
        )
    if owner_level not in OWNER_LEVELS:
        raise InvalidInput(
            f"权属层级 “{owner_level}” 无效：{', '.join(OWNER_LEVELS)}",
            f"unknown owner level '{owner_level}'",
            field="owner_level",
        )
    day = not_after_today(parse_date(on, "on") or today(led.rules), led.rules, "on")
    confirmed = parse_date(confirmed_on, "confirmed_on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        checks = led.checks()
        require_status(p, checks, ("accepted", "handed_over"), ("移交资产", "hand over"))
        passed = p.passed_acceptance()
        checks.require(
            passed is not None,
            "accepted",
            "项目尚未验收合格，不能移交",
            "the project has not passed acceptance: nothing to hand over",
            "pass",
            result=p.acceptances[-1]["result"] if p.acceptances else None,
        )
        disclosure.require_notices(led, checks, p, "handover", day)
        _fields_check(led, checks, values)
        done = {(a["layer"], a["feature_id"]) for a in p.assets}
        works = {layer: [i for i in ids if (layer, i) not in done] for layer, ids in linked(p).items()}
        works = {k: v for k, v in works.items() if v}
        if not works:
            raise InvalidInput(
                "项目没有待移交的登记要素", "the project has no registry features left to hand over", field="code"
            )
        value = sum(paid_by_source(led, p).values(), Decimal(0))
        sizes = _sizes(conn, works)
        values_by_feature = split(value, sizes)
        by_source = {src: split(amount, sizes) for src, amount in paid_by_source(led, p).items()}
        main_source = max(paid_by_source(led, p).items(), key=lambda kv: kv[1])[0] if value else None
        payload = {"features": {k: v for k, v in works.items()}, "value": value, **values, "owner_level": owner_level}
        event = record(conn, who, "handover", code, payload, checks, entity="asset")
        ids = []
        for layer, feature_ids in works.items():
            spec = led.catalog.layer(layer)
            batch = conn.execute(
                text("INSERT INTO batches (layer, source, username) VALUES (:l, :s, :u) RETURNING id"),
                {"l": layer, "s": f"handover: {code}", "u": who.username},
            ).scalar_one()
            for fid in feature_ids:
                fields = {
                    "asset_class": asset_class,
                    "owner": owner,
                    "maintainer": f"{maintainer_unit}（{maintainer_person}）",
                    "project_code": code,
                    "project": p.record["name"],
                    "year_built": passed["accepted_on"].year if passed else None,
                    "value_yuan": float(values_by_feature[(layer, fid)]),
                }
                if main_source:
                    fields["funding_source"] = led.rules.sources[main_source].catalog
                fields = {k: v for k, v in fields.items() if k in spec.field_names}
                edit_in(conn, led.catalog, spec, fid, fields, None, who.username, who.scope, batch=int(batch))
                village = (
                    conn.execute(
                        text(f"SELECT village_code FROM {ident(layer)} WHERE id = :i"), {"i": fid}
                    ).scalar_one_or_none()
                    if "village_code" in spec.field_names
                    else None
                )
                ids.append(
                    conn.execute(
                        text(
                            "INSERT INTO ledger_assets (project_code, layer, feature_id, asset_class, owner, owner_level, confirmed_on, "
                            "certificate, maintainer_unit, maintainer_person, value_yuan, value_by_source, handed_on, batch_id, "
                            "village_code, event_id) VALUES (:c, :l, :f, :k, :o, :ol, :cd, :cert, :mu, :mp, :v, CAST(:vs AS jsonb), "
                            ":d, :b, :vc, :e) RETURNING id"
                        ),
                        {
                            "c": code,
                            "l": layer,
                            "f": fid,
                            "k": asset_class,
                            "o": owner,
                            "ol": owner_level,
                            "cd": confirmed,
                            "cert": certificate,
                            "mu": maintainer_unit,
                            "mp": maintainer_person,
                            "v": values_by_feature[(layer, fid)],
                            "vs": dumps({s: parts[(layer, fid)] for s, parts in by_source.items()}),
                            "d": day,
                            "b": batch,
                            "vc": village,
                            "e": event,
                        },
                    ).scalar_one()
                )
            n = len(feature_ids)
            conn.execute(
                text("UPDATE batches SET counts = CAST(:c AS jsonb), report = CAST(:r AS jsonb) WHERE id = :b"),
                {
                    "b": batch,
                    "c": dumps({"read": n, "inserted": 0, "updated": n}),
                    "r": dumps({"handover": {"project": code, "features": feature_ids}}),
                },
            )
            invalidate_batch(conn, spec, int(batch))
        if p.status == "accepted":
            set_status(conn, code, "handed_over", day, event)
    return [int(i) for i in ids]


def _sizes(conn: Any, works: dict[str, list[int]]) -> dict[tuple[str, int], float]:
    """Each feature's geodesic length, area or 1 (a point): the weights its value is split by."""
    out: dict[tuple[str, int], float] = {}
    for layer, ids in works.items():
        rows = conn.execute(
            text(
                "SELECT id, CASE WHEN GeometryType(geom) LIKE '%POLYGON' THEN ST_Area(geom::geography) "
                "WHEN GeometryType(geom) LIKE '%LINESTRING' THEN ST_Length(geom::geography) ELSE 1.0 END AS w "
                f"FROM {ident(layer)} WHERE id = ANY(:ids) ORDER BY id"
            ),
            {"ids": ids},
        )
        for r in rows:
            out[(layer, int(r.id))] = float(r.w or 1.0)
    return out
