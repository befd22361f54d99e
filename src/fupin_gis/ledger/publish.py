"""Open data out of the ledger: projects as an OC4IDS project package (with the GeoJSON geometry of
their features as locations), and spending as a Fiscal Data Package (a CSV of budget lines and
payments split to villages, and its ``datapackage.json``). Money is written from the Decimal text
(JSON numbers and CSV cells hold every fen exactly)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.money import split
from fupin_gis.ledger.sqlutil import ident
from fupin_gis.ledger.state import Project, linked, load
from fupin_gis.ledger.villages import weights

STATUS = {  # OC4IDS projectStatus
    "draft": "identification", "library": "preparation", "implementing": "implementation", "accepted": "completion",
    "handed_over": "completion", "closed": "completion", "cancelled": "cancelled",
}  # fmt: skip
TYPES = {
    "new": "construction",
    "expand": "expansion",
    "rebuild": "replacement",
    "renovate": "rehabilitation",
    "repair": "rehabilitation",
}
METHODS = {
    "public_tender": "open", "invited_tender": "selective", "competitive": "limited", "inquiry": "limited",
    "single_source": "direct", "direct": "direct", "self_build": "direct",
}  # fmt: skip
SECTORS = {
    "roads": "transport.road",
    "water_points": "water.supply",
    "water_lines": "water",
    "reservoirs": "water",
    "power_lines": "energy",
    "facilities": "socialHousing",
}


def money(amount: Decimal) -> dict[str, Any]:
    """An OCDS Value. A JSON number: numeric(14,2) has at most 14 digits, so the shortest text of the
    float (what ``json`` writes) is the Decimal's own, every fen exact."""
    return {"amount": float(amount), "currency": "CNY"}


def _locations(conn: Connection, p: Project) -> list[dict[str, Any]]:
    out = []
    for layer, ids in linked(p, ("planned", "as_built", "served")).items():
        rows = conn.execute(
            text(f"SELECT id, ST_AsGeoJSON(geom, 7)::jsonb AS g FROM {ident(layer)} WHERE id = ANY(:i) ORDER BY id"),
            {"i": ids},
        )
        out += [{"id": f"{layer}/{r.id}", "description": layer, "geometry": r.g} for r in rows if r.g]
    villages = conn.execute(
        text("SELECT code, name FROM villages WHERE code = ANY(:c) ORDER BY code"), {"c": list(p.record["villages"])}
    ).all()
    out += [
        {
            "id": f"village/{v.code}",
            "description": v.name,
            "gazetteer": {"scheme": "CN-STATS-2023", "identifiers": [v.code]},
        }
        for v in villages
    ]
    return out


def project(conn: Connection, led: Ledger, p: Project) -> dict[str, Any]:
    """One project as an OC4IDS project."""
    rec = p.record
    sub = led.rules.subtypes.get(rec.get("subtype") or "")
    parties = [{"id": "dept", "name": rec.get("department") or "", "roles": ["publicAuthority"]}]
    parties.append({"id": "impl", "name": rec.get("implementer") or "", "roles": ["administrativeEntity"]})
    processes = []
    for c in p.contracts:
        proc = next((x for x in p.procurements if x["id"] == c["procurement_id"]), None)
        parties.append({"id": f"supplier/{c['id']}", "name": c["contractor"], "roles": ["supplier"]})
        processes.append(
            {
                "id": c["code"],
                "summary": {
                    "ocid": f"ocds-fupin-{c['code']}",
                    "status": "implementation"
                    if p.status == "implementing"
                    else "completed"
                    if p.status != "library"
                    else "pre-award",
                    "tender": {
                        "procurementMethod": METHODS.get(proc["method"], "direct") if proc else "direct",
                        "costEstimate": money(proc["estimate_yuan"]) if proc else None,
                    },
                    "suppliers": [{"id": f"supplier/{c['id']}", "name": c["contractor"]}],
                    "contractValue": money(c["value"]),
                    "contractPeriod": {"startDate": c["signed_on"].isoformat()},
                },
            }
        )
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    paid = sum((x.net for x in p.payments if x.state(steps) == "approved"), Decimal(0))
    out: dict[str, Any] = {
        "id": p.code,
        "title": rec["name"],
        "description": rec.get("content") or "",
        "status": STATUS[p.status],
        "type": TYPES.get(rec.get("nature") or "", "construction"),
        "sector": [SECTORS.get(sub.layer or "", "socialProtection")] if sub else [],
        "period": {
            "startDate": rec["start_planned"].isoformat() if rec.get("start_planned") else None,
            "endDate": rec["end_planned"].isoformat() if rec.get("end_planned") else None,
        },
        "budget": {
            "amount": money(p.total),
            "budgetBreakdown": [
                {
                    "id": str(ln["id"]),
                    "description": led.rules.sources[ln["source"]].label,
                    "amount": money(ln["amount"]),
                    "period": {"startDate": f"{ln['year']}-01-01", "endDate": f"{ln['year']}-12-31"},
                }
                for ln in p.lines
            ],
        },  # fmt: skip
        "locations": _locations(conn, p),
        "parties": parties,
        "contractingProcesses": processes,
        "purpose": rec.get("benefit_mechanism") or "",
        "additionalClassifications": [
            {"scheme": "fupin-subtype", "id": rec.get("subtype") or "", "description": sub.label if sub else ""}
        ],
    }
    passed = p.passed_acceptance()
    if passed:
        out["completion"] = {"endDate": passed["accepted_on"].isoformat(), "finalValue": money(paid)}
    return out


def oc4ids(conn: Connection, led: Ledger) -> str:
    """The library as an OC4IDS project package (JSON text)."""
    codes = list(conn.execute(text("SELECT code FROM ledger_projects_now ORDER BY code")).scalars())
    package = {
        "version": "0.9",
        "uri": f"{led.settings.ledger.public_url.rstrip('/')}/api/ledger/oc4ids.json",
        "publishedDate": datetime.now(UTC).isoformat(timespec="seconds"),
        "publisher": {"name": "fupin-gis"},
        "license": "http://opendatacommons.org/licenses/pddl/1.0/",
        "projects": [project(conn, led, load(conn, c)) for c in codes],
    }
    return json.dumps(package, ensure_ascii=False, indent=1)


FDP_FIELDS = [
    "project_code",
    "project_name",
    "category",
    "subtype",
    "township_code",
    "village_code",
    "source",
    "year",
    "phase",
    "amount",
]


def spending(conn: Connection, led: Ledger) -> str:
    """Budget lines (phase ``approved``) and approved payments (phase ``executed``) by project, village,
    source and year, split to villages by the spatial join of the works (CSV text)."""
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(FDP_FIELDS)
    codes = conn.execute(
        text("SELECT code FROM ledger_projects_now WHERE status NOT IN ('draft', 'cancelled') ORDER BY code")
    ).scalars()
    for code in list(codes):
        p = load(conn, code)
        _, w = weights(conn, led, p)
        w = w or {"": 1.0}
        lines = {ln["id"]: ln for ln in p.lines}
        rows: list[tuple[str, int, str, Decimal]] = [
            (ln["source"], int(ln["year"]), "approved", ln["amount"]) for ln in p.lines
        ]
        for x in p.payments:
            if x.state(steps) == "approved":
                rows.append((lines[x.line_id]["source"], x.requested_on.year, "executed", x.net))
        for source, year, phase, amount in rows:
            for village, part in split(amount, w).items():
                if part:
                    writer.writerow(
                        [code, p.record["name"], p.record.get("category") or "", p.record.get("subtype") or "", village[:9] or p.record.get("township_code") or "",
                         village, source, year, phase, format(part, "f")]
                    )  # fmt: skip
    return buf.getvalue()


def datapackage(led: Ledger, path: str = "spending.csv") -> dict[str, Any]:
    """The Fiscal Data Package descriptor of the spending CSV."""
    types = {"year": "integer", "amount": "number"}
    return {
        "profile": "fiscal-data-package",
        "name": "fupin-spending",
        "title": "扶贫项目资金执行 / poverty-alleviation project spending",
        "resources": [
            {
                "name": "spending",
                "path": path,
                "format": "csv",
                "encoding": "utf-8",
                "schema": {"fields": [{"name": f, "type": types.get(f, "string")} for f in FDP_FIELDS]},
            }
        ],
        "model": {
            "measures": {"amount": {"source": "amount", "currency": "CNY"}},
            "dimensions": {
                "project": {
                    "attributes": {
                        "code": {"source": "project_code"},
                        "name": {"source": "project_name", "labelfor": "code"},
                    },
                    "primaryKey": "code",
                },
                "category": {
                    "attributes": {"category": {"source": "category"}},
                    "primaryKey": "category",
                    "dimensionType": "classification",
                },
                "location": {
                    "attributes": {"township": {"source": "township_code"}, "village": {"source": "village_code"}},
                    "primaryKey": "village",
                    "dimensionType": "location",
                },
                "source": {
                    "attributes": {"source": {"source": "source"}},
                    "primaryKey": "source",
                    "dimensionType": "classification",
                },
                "date": {"attributes": {"year": {"source": "year"}}, "primaryKey": "year", "dimensionType": "datetime"},
                "phase": {
                    "attributes": {"phase": {"source": "phase"}},
                    "primaryKey": "phase",
                    "dimensionType": "other",
                },
            },
        },
        "sources": [{"title": f"fund rules {led.rules.version}"}],
    }
