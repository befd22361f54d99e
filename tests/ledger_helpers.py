"""Helpers for the project-ledger tests: the ledger on a test database, people with their roles, a
project ready for works, and the proof that a refusal wrote nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.catalog import Catalog
from fupin_gis.errors import RuleRefused
from fupin_gis.ledger import library, notices
from fupin_gis.ledger.context import Ledger, open_ledger
from fupin_gis.settings import Settings

TODAY = date.today()
PLANNER = Principal("planner1", "planner", "*")
TOWNSHIP = Principal("township1", "planner", "*")
DEPARTMENT = Principal("dept1", "planner", "*")
ENGINEER = Principal("engineer1", "engineer", "*")
FINANCE = Principal("finance1", "finance", "*")
AUDITOR = Principal("auditor1", "auditor", "*")
LEDGER_TABLES = [
    "ledger_events", "ledger_projects", "ledger_project_status", "ledger_budget_lines", "ledger_procurements",
    "ledger_contracts", "ledger_contract_changes", "ledger_progress", "ledger_payments", "ledger_approvals",
    "ledger_notices", "ledger_acceptances", "ledger_findings", "ledger_finding_updates", "ledger_assets",
    "ledger_project_features", "ledger_programmes", "ledger_tranches", "audit_log", "batches", "feature_history",
]  # fmt: skip


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def ledger_on(engine: Engine, catalog: Catalog, base: Settings, rerun: bool = False) -> Ledger:
    """The ledger on a test database (coverage reruns at acceptance only when asked: they take a second)."""
    url = engine.url.render_as_string(hide_password=False)
    settings = base.model_copy(
        update={"database_url": url, "ledger": base.ledger.model_copy(update={"rerun_coverage": rerun})}
    )
    return open_ledger(engine, catalog, settings)


def counts(engine: Engine) -> dict[str, int]:
    """Rows of every ledger table and of the registry's history and audit tables."""
    with engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in LEDGER_TABLES}


@contextmanager
def refused(engine: Engine, check: str) -> Iterator[pytest.ExceptionInfo[RuleRefused]]:
    """Expect a RuleRefused of ``check``, naming its rule, configured value and figures, and nothing written."""
    before = counts(engine)
    with pytest.raises(RuleRefused) as info:
        yield info
    assert info.value.details["check"] == check, info.value.details
    for key in ("rule", "rule_label", "configured", "figures", "rules_version"):
        assert key in info.value.details
    assert info.value.zh.startswith("（") and "规则版本" in info.value.zh
    assert info.value.en.startswith("Rule ")
    assert counts(engine) == before


def villages(engine: Engine, n: int = 1, township: int = 0) -> list[str]:
    """``n`` village codes of one township of the demo."""
    with engine.connect() as conn:
        towns = conn.execute(text("SELECT code FROM townships ORDER BY code")).scalars().all()
        return list(
            conn.execute(
                text("SELECT code FROM villages WHERE code LIKE :t ORDER BY code LIMIT :n"),
                {"t": towns[township] + "%", "n": n},
            ).scalars()
        )


def record(vills: list[str], **changes: Any) -> dict[str, Any]:
    """A complete 项目库 record (every required field, one 绩效目标)."""
    return {
        "name": "测试项目",
        "category": "household_env",
        "subtype": "kitchens",
        "nature": "rebuild",
        "villages": vills,
        "content": "改厨 20 户",
        "quantity": 20,
        "department": "县扶贫办",
        "implementer": "乡人民政府",
        "responsible": "王某",
        "start_planned": str(days_ago(300)),
        "end_planned": str(days_ago(10)),
        "indicators": [{"name": "改厨户数", "target": "20", "unit": "户"}],
        "benefit_mechanism": "改善贫困户居住条件",
        "beneficiaries": {"households": 20, "people": 80, "poor_households": 12, "poor_people": 45},
        "total_yuan": "1000000.00",
    } | changes


def ready(
    led: Ledger, vills: list[str], total: str = "1000000.00", notice_days: int = 10, **changes: Any
) -> tuple[str, int]:
    """A project in the library with one central line = its total and a pre-works notice that ran
    ``notice_days`` days, ending 200 days ago. Returns (code, line id)."""
    code = library.add_project(led, PLANNER, record(vills, total_yuan=total, **changes))
    line = library.add_line(led, PLANNER, code, "central", TODAY.year, total)
    library.enter_library(led, PLANNER, code, on=days_ago(260))
    notices.post_notice(led, PLANNER, code, "plan", days_ago(200 + notice_days - 1), days_ago(200), print_sheet=False)
    return code, line
