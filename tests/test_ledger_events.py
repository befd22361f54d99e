"""The ledger's tables: append-only events with actor, time, reason and the checks applied;
corrections as reversals; separation of duties and row-level security in the database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ledger_helpers import DEPARTMENT, ENGINEER, FINANCE, PLANNER, TODAY, days_ago, ledger_on, ready, record, villages
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from fupin_gis.auth.accounts import Principal, add_user
from fupin_gis.catalog import Catalog
from fupin_gis.errors import Forbidden
from fupin_gis.ledger import library, payments, works
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.state import load
from fupin_gis.settings import Settings


@pytest.fixture(scope="module")
def led(import_engine: Engine, catalog: Catalog, base_settings: Settings) -> Ledger:
    return ledger_on(import_engine, catalog, base_settings)


def test_every_change_is_an_event_with_actor_reason_and_checks(led: Ledger) -> None:
    code = library.add_project(led, PLANNER, record(villages(led.engine)), reason="村民代表会议提议")
    line = library.add_line(led, PLANNER, code, "central", 2026, "1000000")
    library.enter_library(led, PLANNER, code)
    with led.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, role, action, reason, rules_version, checks, at FROM ledger_events WHERE project_code = :c ORDER BY id"
            ),
            {"c": code},
        ).all()
        audit = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action LIKE 'ledger_%' AND detail->>'project' = :c"), {"c": code}
        ).scalar_one()
    assert [r.action for r in rows] == ["project_add", "line_add", "project_enter"]
    assert rows[0].actor == "planner1" and rows[0].role == "planner" and rows[0].reason == "村民代表会议提议"
    entered = {c["check"] for c in rows[2].checks}
    assert {"status", "library_fields", "lines_equal_total"} <= entered
    assert all(c["passed"] and c["version"] == led.rules.version for c in rows[2].checks)
    assert rows[2].rules_version == led.rules.version
    assert audit == 3  # the product's audit log has the same trail
    # a correction is a reversal: the line keeps its row, a negative one points at it
    library.reverse_line(led, PLANNER, code, line, "来源更正为省级资金", amount="400000")
    with led.engine.connect() as conn:
        p = load(conn, code)
        assert p.lines[0]["original"] == Decimal("1000000.00") and p.lines[0]["amount"] == Decimal("600000.00")
        n = conn.execute(
            text("SELECT count(*) FROM ledger_budget_lines WHERE project_code = :c"), {"c": code}
        ).scalar_one()
    assert n == 2


@pytest.mark.parametrize("table", ["ledger_events", "ledger_budget_lines", "ledger_projects"])
def test_ledger_tables_refuse_updates_and_deletes(led: Ledger, table: str) -> None:
    column = "revision" if table == "ledger_projects" else "id"
    for sql in (f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), led.engine.begin() as conn:
            conn.execute(text(sql))


def test_the_database_refuses_an_approval_by_the_requester(led: Ledger) -> None:
    code, line = ready(led, villages(led.engine, township=1))
    cid = works.sign_contract(led, PLANNER, code, "HT-SOD", "某公司", "500000", "0.3", "0.05", days_ago(180))
    pay = payments.request_payment(
        led, ENGINEER, code, line, "150000", "advance", cid, "PZ-1", {"contract": "HT-SOD"}, days_ago(170)
    )
    # the core says no (403) …
    with pytest.raises(Forbidden, match="separation of duties"):
        payments.approve_payment(led, Principal("engineer1", "planner", "*"), code, pay)
    # … and so does the database, whatever path writes the row
    with pytest.raises(DBAPIError, match="separation of duties"), led.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_approvals (payment_id, step, decision, approved_by, role, on_date, event_id) "
                "VALUES (:p, 'township', 'approve', 'engineer1', 'planner', :d, (SELECT max(id) FROM ledger_events))"
            ),
            {"p": pay, "d": TODAY},
        )
    with pytest.raises(DBAPIError, match="in the name of"), led.engine.begin() as conn:
        conn.execute(text("SELECT set_config('fupin.user', 'mallory', true)"))
        conn.execute(
            text(
                "INSERT INTO ledger_approvals (payment_id, step, decision, approved_by, role, on_date, event_id) "
                "VALUES (:p, 'township', 'approve', 'dept1', 'planner', :d, (SELECT max(id) FROM ledger_events))"
            ),
            {"p": pay, "d": TODAY},
        )
    # one person approves one step at most; the finance step only by finance
    assert payments.approve_payment(led, DEPARTMENT, code, pay) == "pending"
    with pytest.raises(Forbidden, match="separation of duties"):
        payments.approve_payment(led, DEPARTMENT, code, pay)
    assert payments.approve_payment(led, PLANNER, code, pay) == "pending"
    with pytest.raises(Forbidden, match="finance"):
        payments.approve_payment(led, Principal("dept2", "planner", "*"), code, pay)
    assert payments.approve_payment(led, FINANCE, code, pay) == "approved"


def test_finance_and_auditor_accounts(led: Ledger) -> None:
    add_user(led.engine, "cwj", "finance-pass", "finance", "*")
    add_user(led.engine, "sjj", "auditor-pass", "auditor", "*")
    with led.engine.connect() as conn:
        roles = dict(conn.execute(text("SELECT username, role FROM users WHERE username IN ('cwj', 'sjj')")).all())
    assert roles == {"cwj": "finance", "sjj": "auditor"}


def test_row_level_security_by_the_projects_township(led: Ledger) -> None:
    a = library.add_project(led, PLANNER, record(villages(led.engine, township=2), name="甲乡项目"))
    b = library.add_project(led, PLANNER, record(villages(led.engine, township=3), name="乙乡项目"))
    library.add_line(led, PLANNER, b, "county", 2026, "1000")
    town_a = villages(led.engine, township=2)[0][:9]
    viewer = Principal("v", "viewer", town_a)
    with viewer.scoped(led.engine).connect() as conn:
        seen = set(conn.execute(text("SELECT code FROM ledger_projects_now")).scalars())
        lines = conn.execute(
            text("SELECT count(*) FROM ledger_budget_lines WHERE project_code = :b"), {"b": b}
        ).scalar_one()
        events = set(
            conn.execute(
                text("SELECT DISTINCT project_code FROM ledger_events WHERE project_code IS NOT NULL")
            ).scalars()
        )
    assert a in seen and b not in seen
    assert lines == 0
    assert b not in events
    # and writes outside the scope are refused by the same predicate
    outsider = Principal("p2", "planner", town_a)
    with pytest.raises(Forbidden, match="scope"):
        library.add_line(led, outsider, b, "county", 2026, "1")
