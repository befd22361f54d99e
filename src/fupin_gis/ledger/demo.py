"""The demo ledger on the plan-scale demo county: the programme (the seed's totals and categories),
the 2011 tranche (28 villages, 38 sub-projects with the seed's quantities; money derived at 20 % of
each category, tagged derived), and five projects taken through the fund rules — every step by the
same core functions as the command line, so every rule applies: a road project hardened, paid 4:5:1,
accepted, handed over and closed; a well project whose open audit finding blocks its closing; a
supply project whose funds notice ran only 7 days, so its acceptance is refused; a pipeline under
way; a kitchen project paid directly to households. The 2011 completions are written into the
registry's history (batches dated in 2011), so progress is measured, never typed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import RuleRefused
from fupin_gis.ledger import acceptance, assets, audit, library, notices, payments, programmes, progress, works
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.demo_data import (
    DEPARTMENTS,
    MECHANISMS,
    PROGRAMME,
    SOURCE_SHARES,
    SUBPROJECTS,
    TRANCHE_SHARE,
    TRANCHE_VILLAGES,
    WEIGHTS,
)
from fupin_gis.ledger.money import split
from fupin_gis.ledger.sqlutil import dumps, ident
from fupin_gis.ledger.state import fetch

PLANNER = Principal("demo-县扶贫办", "planner", "*")
ENGINEER = Principal("demo-实施单位", "engineer", "*")
TOWNSHIP = Principal("demo-乡镇审核", "planner", "*")
DEPARTMENT = Principal("demo-主管部门", "planner", "*")
FINANCE = Principal("demo-县财政局", "finance", "*")
AUDITOR = Principal("demo-县审计局", "auditor", "*")
TABLES = (
    "ledger_assets, ledger_finding_updates, ledger_findings, ledger_acceptances, ledger_objections, ledger_notices, "
    "ledger_approvals, ledger_payments, ledger_progress, ledger_contract_changes, ledger_contracts, "
    "ledger_procurements, ledger_budget_lines, ledger_project_features, ledger_project_status, ledger_projects, "
    "ledger_tranches, ledger_programme_targets, ledger_programmes, ledger_events"
)
SURVEYED = datetime(2010, 12, 1, tzinfo=UTC)
# which of the registry's 2011 features a sub-project built, where its subtype alone does not say
EXTRA = {
    "village_road_renovate": ["surface <> 'hardened'"],
    "canal_new": ["work = 'new'"],
    "canal_renovated": ["work = 'renovated'"],
}
SHARED = {"group_road_renovate", "activity_rooms_rebuilt"}  # the works as the survey before the tranche found them


def reset(engine: Engine) -> None:
    """Empty the ledger (a demo load replaces the registry its rows point at)."""
    with engine.begin() as conn:
        if conn.execute(text("SELECT to_regclass('ledger_events') IS NOT NULL")).scalar_one():
            conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


def _features(conn: Connection, led: Ledger, subtype: str, villages: list[str]) -> list[int]:
    """The registry's features a sub-project of 2011 built: its subtype's kind, dated 2011, in the tranche villages."""
    sub = led.rules.subtypes[subtype]
    if sub.layer is None:
        return []
    spec = led.catalog.layer(sub.layer)
    conds, params = [], {"v": villages}
    for k, (name, values) in enumerate(sub.done.items()):
        if name != "status":
            conds.append(f"{ident(name)} = ANY(:d{k})")
            params[f"d{k}"] = values
    year = next((f for f in ("plan_year", "upgraded_year") if f in spec.field_names), None)
    if year:
        conds.append(f"{ident(year)} = 2011")
    if "village_code" in spec.field_names:  # by its village code, else where it lies
        conds.append(
            "(t.village_code = ANY(:v) OR (t.village_code IS NULL AND EXISTS (SELECT 1 FROM villages v "
            "WHERE v.code = ANY(:v) AND ST_Intersects(v.geom, t.geom))))"
        )
    if sub.min_width_m is not None:
        conds.append(f"coalesce(width_m, 0) >= {float(sub.min_width_m)}")
    conds += EXTRA.get(subtype, [])
    if subtype == "reservoir":
        conds = ["risk = 'dangerous'"]
    if subtype in SHARED:  # the features another sub-project of the tranche already counts
        return []
    sql = f"SELECT t.id FROM {ident(spec.name)} t WHERE {' AND '.join(conds) or 'true'} ORDER BY t.id"
    return [int(i) for i in conn.execute(text(sql), params).scalars()]


def record_history(conn: Connection, layer: str, ids: list[int], old: dict[str, Any], at: datetime, label: str) -> None:
    """Write into the registry's history that ``ids`` were ``old`` from the survey until ``at``."""
    if not ids:
        return
    batch = conn.execute(
        text(
            "INSERT INTO batches (layer, source, username, created_at, counts) VALUES (:l, :s, 'demo', :t, CAST(:c AS jsonb)) "
            "RETURNING id"
        ),
        {"l": layer, "s": f"demo: {label}", "t": at, "c": dumps({"updated": len(ids)})},
    ).scalar_one()
    table = ident(layer)
    conn.execute(
        text(
            "INSERT INTO feature_history (batch_id, layer, feature_id, old) SELECT :b, :l, t.id, "
            f"to_jsonb(t) || CAST(:old AS jsonb) FROM {table} t WHERE t.id = ANY(:ids)"
        ),
        {"b": batch, "l": layer, "ids": ids, "old": dumps(old | {"updated_at": SURVEYED.isoformat()})},
    )
    conn.execute(
        text(f"UPDATE {table} SET updated_at = :t, batch_id = :b WHERE id = ANY(:ids)"),
        {"t": at, "b": batch, "ids": ids},
    )


def _pay(
    led: Ledger, code: str, amount: Decimal, kind: str, contract: int | None, day: date, docs: dict[str, str]
) -> None:
    """Pay ``amount`` from the project's lines in order (one line a payment), each approved in turn."""
    p = fetch(led.engine, code)
    paid = {ln["id"]: Decimal(0) for ln in p.lines}
    for x in p.live_payments():
        paid[x.line_id] += x.net
    left = amount
    for ln in sorted(p.lines, key=lambda ln: list(SOURCE_SHARES).index(ln["source"])):
        room = ln["amount"] - paid[ln["id"]]
        if left <= 0 or room <= 0 or ln["source"] == "labour":  # labour is contributed, not paid out
            continue
        part = min(room, left)
        pid = payments.request_payment(
            led, ENGINEER, code, ln["id"], part, kind, contract, f"PZ-{code}-{day:%m%d}", docs, day
        )
        for who in (TOWNSHIP, DEPARTMENT, FINANCE):
            payments.approve_payment(led, who, code, pid, on=day)
        left -= part


def _room(led: Ledger, code: str, contract: int, day: date) -> Decimal:
    """What the 4:5:1 cap lets the contract be paid more on ``day``."""
    p = fetch(led.engine, code)
    c = p.contract(contract)
    assert c is not None
    return payments.cap(led, p, c, day)["room"]


def _library(conn: Connection, led: Ledger, villages: list[str]) -> dict[str, dict[str, Any]]:
    """The 38 sub-projects: records, their features and their derived money."""
    stats = {
        r.code: r
        for r in conn.execute(
            text(
                "SELECT code, households, population, poor_households, poor_people FROM villages WHERE code = ANY(:v)"
            ),
            {"v": villages},
        )
    }
    by_category: dict[str, list[int]] = {}
    for k, (subtype, _, _) in enumerate(SUBPROJECTS):
        by_category.setdefault(led.rules.subtypes[subtype].category, []).append(k)
    out: dict[str, dict[str, Any]] = {}
    for category, members in by_category.items():
        weights = {}
        for k in members:
            subtype, qty = SUBPROJECTS[k][0], SUBPROJECTS[k][1]
            known = [SUBPROJECTS[j][1] * WEIGHTS[SUBPROJECTS[j][0]] for j in members if SUBPROJECTS[j][1] is not None]  # type: ignore[operator]
            weights[k] = qty * WEIGHTS[subtype] if qty is not None else sorted(known)[len(known) // 2]
        money = split(PROGRAMME["targets"][category] * TRANCHE_SHARE, weights)  # type: ignore[index]
        for k in members:
            subtype, qty, said = SUBPROJECTS[k]
            code = f"TJ2011-{k + 1:02d}"
            ids = _features(conn, led, subtype, villages)
            layer = led.rules.subtypes[subtype].layer
            where = (
                sorted(
                    {
                        r
                        for r in conn.execute(
                            text(f"SELECT village_code FROM {ident(layer)} WHERE id = ANY(:i)"), {"i": ids}
                        ).scalars()
                        if r
                    }
                )
                if ids and layer and "village_code" in led.catalog.layer(layer).field_names
                else []
            )
            where = where or [villages[(3 * k + j) % len(villages)] for j in range(2)]
            counts = {
                "households": sum(stats[v].households or 0 for v in where),
                "people": sum(stats[v].population or 0 for v in where),
                "poor_households": sum(stats[v].poor_households or 0 for v in where),
                "poor_people": sum(stats[v].poor_people or 0 for v in where),
            }
            flags = ["money_derived"] + ([] if qty is not None else ["quantity_unknown"])
            out[code] = {
                "subtype": subtype,
                "layer": layer,
                "features": ids,
                "record": {
                    "code": code,
                    "name": f"2011年{led.rules.subtypes[subtype].label}",
                    "programme": str(PROGRAMME["code"]),
                    "tranche": "TJ-2011",
                    "category": category,
                    "subtype": subtype,
                    "nature": "new"
                    if "new" in subtype or subtype in ("hand_pump_wells", "storage_tanks", "biogas")
                    else "renovate",
                    "villages": where,
                    "content": said,
                    "quantity": qty,
                    "department": DEPARTMENTS[category],
                    "implementer": "相关乡镇人民政府",
                    "responsible": "（演示）项目负责人",
                    "start_planned": "2011-03-01",
                    "end_planned": "2011-11-30",
                    "indicators": [
                        {
                            "name": said,
                            "target": str(qty) if qty is not None else "",
                            "unit": led.rules.subtypes[subtype].unit,
                        }
                    ],
                    "benefit_mechanism": MECHANISMS[category],
                    "beneficiaries": counts,
                    "total_yuan": money[k],
                    "derived": True,
                    "flags": flags,
                },
            }
    return out


def _works(led: Ledger, code: str, item: dict[str, Any], finish: list[datetime], old: dict[str, Any]) -> None:
    """Record in the registry's history when the project's features were finished (half, then all)."""
    ids = item["features"]
    if not ids or item["layer"] is None:
        return
    half = max(1, len(ids) // 2)
    with led.engine.begin() as conn:
        record_history(conn, item["layer"], ids[:half], old, finish[0], f"{code} 竣工测量 / completion survey")
        record_history(conn, item["layer"], ids[half:], old, finish[-1], f"{code} 竣工测量 / completion survey")


def build(led: Ledger, print_sheets: bool = True) -> dict[str, Any]:
    """Load the demo ledger (after the demo registry); returns what it holds and what was refused."""
    reset(led.engine)
    programmes.add_programme(
        led, PLANNER, str(PROGRAMME["code"]), PROGRAMME["name"], PROGRAMME["years"], PROGRAMME["total"],  # type: ignore[arg-type]
        PROGRAMME["targets"], source=PROGRAMME["source"],  # type: ignore[arg-type]
    )  # fmt: skip
    with led.engine.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT village_code, count(*) FROM roads WHERE plan_year = 2011 AND village_code IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"
            )
        ).all()
        everyone = list(conn.execute(text("SELECT code FROM villages ORDER BY code")).scalars())
        villages = sorted(
            ([r[0] for r in counts] + [v for v in everyone if v not in {r[0] for r in counts}])[:TRANCHE_VILLAGES]
        )
        items = _library(conn, led, villages)
    programmes.add_tranche(
        led, PLANNER, "TJ-2011", str(PROGRAMME["code"]), 2011, "2011年度项目（28个村38个子项目）", villages,
        approval_ref=None, derived=True, note="资金为演示推算：各类别规划资金的20%（非来源数据）/ money derived at 20 % of each category",
    )  # fmt: skip
    for code, item in items.items():
        library.add_project(led, PLANNER, item["record"], reason="2011年度计划（演示）")
        lines = split(item["record"]["total_yuan"], SOURCE_SHARES)
        for source, amount in lines.items():
            if amount > 0:
                library.add_line(led, PLANNER, code, source, 2011, amount, derived=True, note="演示推算 / derived")
        if item["features"]:
            library.link_features(led, PLANNER, code, item["layer"], item["features"], "as_built")
        library.enter_library(led, PLANNER, code, on=date(2011, 1, 20))
    refused: dict[str, str] = {}
    roads, wells, supply, pipe, kitchens = "TJ2011-02", "TJ2011-05", "TJ2011-06", "TJ2011-07", "TJ2011-16"
    _works(
        led,
        roads,
        items[roads],
        [datetime(2011, 6, 30, tzinfo=UTC), datetime(2011, 9, 30, tzinfo=UTC)],
        {"status": "under_construction", "surface": "gravel"},
    )
    for code in (wells, supply):
        _works(
            led,
            code,
            items[code],
            [datetime(2011, 6, 30, tzinfo=UTC), datetime(2011, 9, 30, tzinfo=UTC)],
            {"status": "under_construction"},
        )
    _works(
        led,
        pipe,
        items[pipe],
        [datetime(2011, 8, 31, tzinfo=UTC), datetime(2012, 5, 31, tzinfo=UTC)],
        {"status": "under_construction"},
    )
    for code in (roads, wells, supply, pipe):
        notices.post_notice(led, PLANNER, code, "plan", date(2011, 2, 1), date(2011, 2, 10), print_sheet=print_sheets)
        total = Decimal(items[code]["record"]["total_yuan"])
        value = (total * Decimal("0.95")).quantize(Decimal("0.01"))
        proc = works.record_procurement(
            led, PLANNER, code, "works", "public_tender" if value >= 2_000_000 else "inquiry", value,
            date(2011, 2, 15), date(2011, 3, 5), "（演示）某建设工程有限公司",
        )  # fmt: skip
        cid = works.sign_contract(
            led,
            PLANNER,
            code,
            f"HT-{code}",
            "（演示）某建设工程有限公司",
            value,
            "0.4",
            "0.05",
            date(2011, 3, 10),
            proc,
        )
        _pay(
            led,
            code,
            (value * Decimal("0.4")).quantize(Decimal("0.01")),
            "advance",
            cid,
            date(2011, 3, 20),
            {"contract": f"HT-{code}"},
        )
        guess = None if items[code]["features"] else "50"  # no registry features: a certified figure
        progress.report_progress(led, ENGINEER, code, on=date(2011, 7, 5), certified=guess, certifier="（演示）监理")
        certified = fetch(led.engine, code).certified_pct
        docs = {"progress_certificate": f"JD-{code}-1", "invoice": f"FP-{code}-1"}
        room = min(Decimal("0.4") + certified / 100, Decimal("0.9")) - Decimal("0.4")
        if room > 0:
            _pay(
                led,
                code,
                (value * min(room, Decimal("0.3"))).quantize(Decimal("0.01")),
                "progress",
                cid,
                date(2011, 7, 10),
                docs,
            )
        if code == pipe:
            continue
        guess = None if items[code]["features"] else "100"
        progress.report_progress(led, ENGINEER, code, on=date(2011, 10, 8), certified=guess, certifier="（演示）监理")
        _pay(
            led,
            code,
            _room(led, code, cid, date(2011, 10, 10)),
            "progress",
            cid,
            date(2011, 10, 10),
            docs | {"progress_certificate": f"JD-{code}-2"},
        )
        short = code == supply  # the funds notice ran only 7 days: acceptance is refused
        notices.post_notice(
            led,
            PLANNER,
            code,
            "funds",
            date(2011, 10, 9),
            date(2011, 10, 15 if short else 18),
            print_sheet=print_sheets,
        )
        try:
            acceptance.accept(
                led,
                PLANNER,
                code,
                ["县扶贫移民局", "县财政局", "县审计局", "乡镇人民政府"],
                on=date(2011, 10, 20),
                rerun_coverage=False,
            )
        except RuleRefused as exc:
            refused[code] = exc.zh
            continue
        final = {"acceptance_certificate": f"YS-{code}", "invoice": f"FP-{code}-2"}
        _pay(led, code, _room(led, code, cid, date(2011, 10, 28)), "final", cid, date(2011, 10, 28), final)
        notices.post_notice(
            led, PLANNER, code, "completion", date(2011, 10, 21), date(2011, 10, 30), print_sheet=print_sheets
        )
        assets.handover(
            led,
            PLANNER,
            code,
            "public_welfare",
            "各村村民委员会",
            "village",
            "村民委员会",
            "（演示）村级管护员",
            on=date(2011, 11, 5),
            confirmed_on=date(2011, 11, 5),
        )
        if code == roads:
            audit.record_finding(led, AUDITOR, code, "none", "竣工审计：资金使用规范", found_on=date(2011, 12, 15))
            _pay(
                led,
                code,
                _room(led, code, cid, date(2012, 11, 1)),
                "retention",
                cid,
                date(2012, 11, 1),
                {"guarantee_certificate": f"ZB-{code}"},
            )
            library.close_project(led, PLANNER, code, on=date(2012, 11, 10))
        else:
            audit.record_finding(
                led,
                AUDITOR,
                code,
                "documents",
                "部分机压井缺少竣工验收签字资料",
                "36000",
                date(2011, 12, 15),
                date(2012, 3, 14),
            )
            try:
                library.close_project(led, PLANNER, code, on=date(2012, 4, 1))
            except RuleRefused as exc:
                refused[code] = exc.zh
    notices.post_notice(led, PLANNER, kitchens, "plan", date(2011, 2, 1), date(2011, 2, 10), print_sheet=print_sheets)
    notices.post_notice(
        led, PLANNER, kitchens, "beneficiary", date(2011, 4, 1), date(2011, 4, 7), print_sheet=print_sheets
    )
    progress.report_progress(
        led, ENGINEER, kitchens, on=date(2011, 5, 30), certified="60", certifier="（演示）乡镇验收组"
    )
    half = (Decimal(items[kitchens]["record"]["total_yuan"]) * Decimal("0.5")).quantize(Decimal("0.01"))
    _pay(led, kitchens, half, "direct", None, date(2011, 6, 1), {"beneficiary_list": "HMC-2011-016"})
    return {"projects": len(items), "villages": villages, "refused": refused}
