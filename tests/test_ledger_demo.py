"""The demo ledger on the plan demo: the seed's programme and 2011 tranche, derived money tagged,
unknown quantities kept unknown, and the five projects taken through the rules (one refused its
acceptance for a 7-day notice, one refused its closing for an open finding)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from ledger_helpers import ledger_on
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.ledger import demo
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.progress import measure_on
from fupin_gis.ledger.state import fetch
from fupin_gis.settings import Settings


@pytest.fixture(scope="module")
def led(import_engine: Engine, catalog: Catalog, base_settings: Settings) -> Ledger:
    return ledger_on(import_engine, catalog, base_settings)


@pytest.fixture(scope="module")
def built(led: Ledger) -> dict:
    return demo.build(led, print_sheets=False)


def test_the_seed_programme_and_tranche(led: Ledger, built: dict) -> None:
    with led.engine.connect() as conn:
        total = conn.execute(text("SELECT total_yuan FROM ledger_programmes")).scalar_one()
        targets = dict(conn.execute(text("SELECT category, amount_yuan FROM ledger_programme_targets")).all())
        tranche = conn.execute(text("SELECT villages, derived FROM ledger_tranches")).one()
        lines = dict(
            conn.execute(
                text(
                    "SELECT p.category, sum(l.amount_yuan) FROM ledger_budget_lines l JOIN ledger_projects_now p ON p.code = l.project_code "
                    "GROUP BY 1"
                )
            ).all()
        )
        underived = conn.execute(text("SELECT count(*) FROM ledger_budget_lines WHERE NOT derived")).scalar_one()
        projects = conn.execute(
            text("SELECT count(*), count(*) FILTER (WHERE 'money_derived' = ANY(flags)) FROM ledger_projects_now")
        ).one()
        unknown = conn.execute(
            text("SELECT code, quantity, flags FROM ledger_projects_now WHERE 'quantity_unknown' = ANY(flags)")
        ).all()
    assert total == Decimal("443665000.00")  # 44366.5 万元
    assert targets == {
        "infrastructure": Decimal("150695000.00"),
        "industry": Decimal("181760000.00"),
        "social": Decimal("40560000.00"),
        "household_env": Decimal("70650000.00"),
    }
    assert len(tranche.villages) == 28 and tranche.derived
    assert built["projects"] == 38 and tuple(projects) == (38, 38)
    assert {k: v for k, v in lines.items()} == {k: v * Decimal("0.2") for k, v in targets.items()}  # 20 %, derived
    assert underived == 0
    assert [(r.code, r.quantity) for r in unknown] == [("TJ2011-24", None)]  # 蔬菜XX亩 stays unknown


def test_the_projects_through_the_rules(led: Ledger, built: dict) -> None:
    assert set(built["refused"]) == {"TJ2011-05", "TJ2011-06"}
    assert "7 日历日，少于规定的 10" in built["refused"]["TJ2011-06"]  # the 7-day notice: no acceptance
    assert "审计问题未整改" in built["refused"]["TJ2011-05"]  # the open finding: no closing
    roads = fetch(led.engine, "TJ2011-02")
    assert roads.status == "closed" and fetch(led.engine, "TJ2011-06").status == "implementing"
    assert fetch(led.engine, "TJ2011-05").status == "handed_over"
    contract = roads.contracts[0]
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    paid = [x for x in roads.payments if x.state(steps) == "approved"]
    by_kind: dict[str, Decimal] = {}
    for x in paid:
        by_kind[x.kind] = by_kind.get(x.kind, Decimal(0)) + x.net
    value = contract["value"]
    assert by_kind["advance"] == (value * Decimal("0.4")).quantize(Decimal("0.01"))  # 4
    assert by_kind["advance"] + by_kind["progress"] == (value * Decimal("0.9")).quantize(Decimal("0.01"))  # 5
    assert sum(by_kind.values()) == value  # 1: the last 10 % after acceptance and the guarantee
    assert all(x.requested_by != a["approved_by"] for x in paid for a in x.approvals)
    with led.engine.connect() as conn:
        half, full = (measure_on(conn, led, roads, d) for d in (date(2011, 7, 5), date(2011, 10, 8)))
        before = measure_on(conn, led, roads, date(2011, 1, 1))
        asset_value = conn.execute(
            text("SELECT sum(value_yuan) FROM ledger_assets WHERE project_code = 'TJ2011-02'")
        ).scalar_one()
    assert before["measured"] == 0 and 0 < half["pct"] < 100 and full["pct"] == 100  # type: ignore[index]
    assert asset_value == value - (value * Decimal("0.05")).quantize(Decimal("0.01"))  # paid when handed over
