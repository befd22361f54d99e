"""The seven fund rules, each with a case that passes and one that is refused: the refusal names the
rule, its configured value and the figures in Chinese and English, and writes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from ledger_helpers import (
    AUDITOR,
    DEPARTMENT,
    ENGINEER,
    FINANCE,
    PLANNER,
    TOWNSHIP,
    days_ago,
    ledger_on,
    ready,
    record,
    refused,
    villages,
)
from sqlalchemy import Engine

from fupin_gis.catalog import Catalog
from fupin_gis.ledger import acceptance, assets, audit, library, notices, payments, programmes, progress, works
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.disclosure import period_days
from fupin_gis.ledger.state import load
from fupin_gis.settings import Settings


@pytest.fixture(scope="module")
def led(import_engine: Engine, catalog: Catalog, base_settings: Settings) -> Ledger:
    return ledger_on(import_engine, catalog, base_settings)


def approve_all(led: Ledger, code: str, payment: int) -> str:
    state = ""
    for who in (TOWNSHIP, DEPARTMENT, FINANCE):
        state = payments.approve_payment(led, who, code, payment)
    return state


def state(led: Ledger, code: str):  # noqa: ANN201
    with led.engine.connect() as conn:
        return load(conn, code)


# (一) 责任制 ---------------------------------------------------------------------------------


def test_rule1_library_needs_every_field_and_a_target(led: Ledger) -> None:
    vills = villages(led.engine)
    code = library.add_project(led, PLANNER, record(vills, responsible=None, indicators=[]))
    library.add_line(led, PLANNER, code, "central", 2026, "1000000")
    with refused(led.engine, "library_fields") as info:
        library.enter_library(led, PLANNER, code)
    d = info.value.details
    assert (
        d["rule"] == "responsibility" and d["figures"]["missing"] == ["responsible"] and d["figures"]["indicators"] == 0
    )
    assert d["configured"]["min_indicators"] == 1
    assert "责任人" in info.value.zh and "绩效目标 0 项，规定至少 1 项" in info.value.zh
    assert "Person responsible" in info.value.en
    library.amend_project(led, PLANNER, code, {"responsible": "李某", "indicators": [{"name": "户数", "target": "20"}]})
    library.enter_library(led, PLANNER, code)
    assert state(led, code).status == "library"


# (二) 报批制 ---------------------------------------------------------------------------------


def test_rule2_lines_reconcile_with_the_total(led: Ledger) -> None:
    code = library.add_project(led, PLANNER, record(villages(led.engine), total_yuan="500000"))
    library.add_line(led, PLANNER, code, "central", 2026, "300000")
    with refused(led.engine, "lines_equal_total") as info:
        library.enter_library(led, PLANNER, code)
    assert info.value.details["figures"] == {"lines": "300000.00", "total": "500000.00"}
    assert "30.0 万元" in info.value.zh and "50.0 万元" in info.value.zh
    with refused(led.engine, "lines_equal_total"):
        library.add_line(led, PLANNER, code, "county", 2026, "200000.01")
    library.add_line(led, PLANNER, code, "county", 2026, "200000")
    library.enter_library(led, PLANNER, code)


def test_rule2_subprojects_within_the_project(led: Ledger) -> None:
    vills = villages(led.engine)
    parent = library.add_project(led, PLANNER, record(vills, total_yuan="100000"))
    ready(led, vills, total="60000", parent_code=parent)
    child = library.add_project(led, PLANNER, record(vills, parent_code=parent, total_yuan="50000"))
    line = library.add_line(led, PLANNER, child, "county", 2026, "50000")
    with refused(led.engine, "subprojects_within_parent") as info:
        library.enter_library(led, PLANNER, child)
    assert info.value.details["figures"] == {"parent": parent, "subprojects": "110000.00", "parent_total": "100000.00"}
    library.reverse_line(led, PLANNER, child, line, "规模调减", amount="10000")
    library.amend_project(led, PLANNER, child, {"total_yuan": "40000"})
    library.enter_library(led, PLANNER, child)


def test_rule2_categories_within_the_programme(led: Ledger) -> None:
    with refused(led.engine, "programme_categories") as info:
        programmes.add_programme(
            led, PLANNER, "GH-X", "规划", (2026, 2028), "1000", {"social": "600", "industry": "300"}
        )
    assert info.value.details["figures"] == {"categories": "900.00", "total": "1000.00"}
    programmes.add_programme(
        led, PLANNER, "GH-T", "测试规划", (2026, 2028), "1500000", {"household_env": "1200000", "social": "300000"}
    )
    vills = villages(led.engine, township=4)
    first, _ = ready(led, vills, total="1000000", programme="GH-T")
    code = library.add_project(led, PLANNER, record(vills, programme="GH-T", total_yuan="300000"))
    library.add_line(led, PLANNER, code, "central", 2026, "300000")
    with refused(led.engine, "categories_within_programme") as info:
        library.enter_library(led, PLANNER, code)
    assert info.value.details["configured"] == {"category": "household_env", "target": "1200000.00"}
    assert info.value.details["figures"]["projects"] == "1300000.00"
    assert first


# (三) 公示制 ---------------------------------------------------------------------------------


def test_rule3_works_wait_for_the_pre_works_notice(led: Ledger) -> None:
    vills = villages(led.engine, township=5)
    code, _ = ready(led, vills, notice_days=7)  # a notice of only 7 days
    with refused(led.engine, "notice_before") as info:
        works.sign_contract(led, PLANNER, code, "HT-7D", "某公司", "300000", "0.3", "0.05", days_ago(150))
    d = info.value.details
    assert d["rule"] == "disclosure" and d["configured"]["min_days"] == 10 and d["figures"]["days"] == 7
    assert "公示期 7 日历日，少于规定的 10 日历日" in info.value.zh and "ran 7 calendar days" in info.value.en
    good, _ = ready(led, vills)
    with refused(led.engine, "notice_before") as info:  # still running on the day of signing
        works.sign_contract(led, PLANNER, good, "HT-EARLY", "某公司", "300000", "0.3", "0.05", days_ago(203))
    assert "须在其后" in info.value.zh
    works.sign_contract(led, PLANNER, good, "HT-OK", "某公司", "300000", "0.3", "0.05", days_ago(190))


def test_rule3_working_days() -> None:
    assert period_days(date(2026, 11, 2), date(2026, 11, 13), "working", []) == 10  # two weeks, Mon–Fri
    assert period_days(date(2026, 11, 2), date(2026, 11, 13), "working", [date(2026, 11, 9)]) == 9
    assert period_days(date(2026, 11, 2), date(2026, 11, 13), "calendar", []) == 12


def _accepted_ready(led: Ledger, town: int) -> tuple[str, int, int]:
    """A project with a contract, full certified progress and its funds notice: ready for acceptance."""
    code, line = ready(led, villages(led.engine, township=town))
    cid = works.sign_contract(led, PLANNER, code, f"HT-{code}", "某公司", "800000", "0.4", "0.05", days_ago(190))
    progress.report_progress(led, ENGINEER, code, on=days_ago(100), certified=100, certifier="县扶贫办 赵工")
    notices.post_notice(led, PLANNER, code, "funds", days_ago(40), days_ago(31), print_sheet=False)
    return code, line, cid


def test_rule3_no_acceptance_while_a_notice_runs(led: Ledger) -> None:
    code, _, _ = _accepted_ready(led, 6)
    with refused(led.engine, "notice_running") as info:
        acceptance.accept(led, PLANNER, code, ["县扶贫办", "县财政局"], on=days_ago(35))
    assert info.value.details["figures"]["running"] and "仍在公示期内" in info.value.zh
    acceptance.accept(led, PLANNER, code, ["县扶贫办", "县财政局"], on=days_ago(30))
    assert state(led, code).status == "accepted"


def test_rule3_completion_notice_after_acceptance_and_handover_after_it(led: Ledger) -> None:
    code, _, _ = _accepted_ready(led, 7)
    with refused(led.engine, "notice_after_acceptance"):
        notices.post_notice(led, PLANNER, code, "completion", days_ago(29), days_ago(20), print_sheet=False)
    acceptance.accept(led, PLANNER, code, ["验收组"], on=days_ago(30))
    notices.post_notice(led, PLANNER, code, "completion", days_ago(29), days_ago(20), print_sheet=False)
    with refused(led.engine, "notice_before") as info:
        assets.handover(
            led, PLANNER, code, "public_welfare", "某村村委会", "village", "村委会", "张某", on=days_ago(25)
        )
    assert info.value.details["configured"]["kind"] == "completion"


# (四) 专账 -----------------------------------------------------------------------------------


def test_rule4_one_line_of_the_project_and_within_it(led: Ledger) -> None:
    code, line, cid = _accepted_ready(led, 8)
    other, other_line = ready(led, villages(led.engine, township=9))
    with refused(led.engine, "one_line") as info:
        payments.request_payment(
            led, ENGINEER, code, other_line, "1000", "advance", cid, "PZ", {"contract": "x"}, days_ago(20)
        )
    assert info.value.details["figures"]["line_project"] == other and "不得串用" in info.value.zh
    library.reverse_line(led, PLANNER, code, line, "部分资金调回", amount="900000")  # the line keeps 100,000
    with refused(led.engine, "line_balance") as info:
        payments.request_payment(
            led, ENGINEER, code, line, "100000.01", "advance", cid, "PZ", {"contract": "x"}, days_ago(20)
        )
    assert info.value.details["figures"]["line"] == "-0.01"
    payments.request_payment(led, ENGINEER, code, line, "100000", "advance", cid, "PZ", {"contract": "x"}, days_ago(20))


# (五) 报账制 ---------------------------------------------------------------------------------


def test_rule5_payments_capped_by_certified_progress_4_5_1(led: Ledger) -> None:
    code, line = ready(led, villages(led.engine, township=0, n=2)[1:])
    cid = works.sign_contract(led, PLANNER, code, "HT-451", "某公司", "1000000", "0.4", "0.10", days_ago(190))
    with refused(led.engine, "payment_cap") as info:  # before any certified progress: 40 % at most
        payments.request_payment(
            led, ENGINEER, code, line, "400000.01", "advance", cid, "PZ-1", {"contract": "c"}, days_ago(180)
        )
    d = info.value.details
    assert d["figures"]["phase"] == "before_progress" and d["figures"]["cap"] == "400000.00"
    assert d["configured"]["advance_max"] == "0.4"
    assert "上限 40.0 万元" in info.value.zh and "cap of 40.0 万元" in info.value.en
    first = payments.request_payment(
        led, ENGINEER, code, line, "400000", "advance", cid, "PZ-1", {"contract": "c"}, days_ago(180)
    )
    assert approve_all(led, code, first) == "approved"
    progress.report_progress(led, ENGINEER, code, on=days_ago(120), certified="30", certifier="监理 钱工")
    docs = {"progress_certificate": "JD-1", "invoice": "FP-1"}
    with refused(led.engine, "payment_cap") as info:  # 40 % + 30 % = 70 %
        payments.request_payment(led, ENGINEER, code, line, "300000.01", "progress", cid, "PZ-2", docs, days_ago(110))
    assert info.value.details["figures"]["cap"] == "700000.00"
    payments.request_payment(led, ENGINEER, code, line, "300000", "progress", cid, "PZ-2", docs, days_ago(110))
    progress.report_progress(led, ENGINEER, code, on=days_ago(90), certified="100", certifier="监理 钱工")
    with refused(led.engine, "payment_cap") as info:  # 90 % until acceptance
        payments.request_payment(led, ENGINEER, code, line, "200000.01", "progress", cid, "PZ-3", docs, days_ago(80))
    assert (
        info.value.details["figures"]["phase"] == "until_acceptance"
        and info.value.details["figures"]["cap"] == "900000.00"
    )
    payments.request_payment(led, ENGINEER, code, line, "200000", "progress", cid, "PZ-3", docs, days_ago(80))
    final = {"acceptance_certificate": "YS-1", "invoice": "FP-2"}
    with refused(led.engine, "payment_kind") as info:
        payments.request_payment(led, ENGINEER, code, line, "1", "final", cid, "PZ-4", final, days_ago(70))
    assert "尾款须在验收合格之后" in info.value.zh


def test_rule5_evidence_of_each_kind(led: Ledger) -> None:
    code, line = ready(led, villages(led.engine, township=1, n=2)[1:])
    cid = works.sign_contract(led, PLANNER, code, "HT-EV", "某公司", "500000", "0.3", "0.05", days_ago(190))
    with refused(led.engine, "evidence") as info:
        payments.request_payment(led, ENGINEER, code, line, "1000", "advance", cid, None, {}, days_ago(180))
    assert info.value.details["figures"]["missing"] == ["contract", "voucher"]
    assert "合同、记账凭证" in info.value.zh
    payments.request_payment(
        led, ENGINEER, code, line, "1000", "advance", cid, "PZ-9", {"contract": "HT-EV"}, days_ago(180)
    )


def test_rule5_progress_never_decreases_and_overrides_need_a_reason(led: Ledger, import_engine: Engine) -> None:
    vills = villages(led.engine, township=2, n=2)[1:]
    code, _ = ready(led, vills)
    progress.report_progress(led, ENGINEER, code, on=days_ago(150), certified="50", certifier="赵工")
    with refused(led.engine, "progress_range") as info:
        progress.report_progress(led, ENGINEER, code, on=days_ago(140), certified="40", certifier="赵工")
    assert info.value.details["figures"] == {"certified": "40.0", "previous": "50.0"}
    with refused(led.engine, "progress_range"):
        progress.report_progress(led, ENGINEER, code, on=days_ago(140), certified="100.1", certifier="赵工")
    with refused(led.engine, "progress_override"):  # no geometry to measure: a certifier is needed
        progress.report_progress(led, ENGINEER, code, on=days_ago(140), certified="60")
    # a work with geometry: the measure is the default, an override needs a reason and a certifier
    from sqlalchemy import text

    with import_engine.connect() as conn:
        road = conn.execute(
            text("SELECT id FROM roads WHERE surface = 'gravel' AND road_class = 'village' ORDER BY id LIMIT 1")
        ).scalar_one()
    road_code, _ = ready(led, vills, subtype="village_road_harden", category="infrastructure")
    library.link_features(led, PLANNER, road_code, "roads", [road])
    with refused(led.engine, "progress_override") as info:
        progress.report_progress(led, ENGINEER, road_code, on=days_ago(150), certified="20")
    assert info.value.details["figures"]["measured"] == "0.0"
    progress.report_progress(
        led, ENGINEER, road_code, on=days_ago(150), certified="20", reason="路基已完成", certifier="监理 钱工"
    )
    assert state(led, road_code).progress[-1]["override_reason"] == "路基已完成"


def test_rule5_tenders_above_the_threshold_in_force_on_the_day(led: Ledger) -> None:
    code, _ = ready(led, villages(led.engine, township=3, n=2)[1:], total="5000000")
    with refused(led.engine, "tender") as info:  # the 2018 rule: 400 万元 for works
        works.record_procurement(led, PLANNER, code, "works", "competitive", "4000000", days_ago(190))
    d = info.value.details
    assert d["configured"]["threshold"] == "4000000" and d["configured"]["from"] == "2018-06-01"
    assert "国家发展改革委令第16号" in info.value.zh
    works.record_procurement(led, PLANNER, code, "works", "competitive", "3999999", days_ago(190))
    assert led.rules.threshold_on(date(2017, 1, 1)).works == Decimal(2_000_000)  # type: ignore[union-attr]
    with refused(led.engine, "tender"):  # a contract above the threshold without a tender
        works.sign_contract(led, PLANNER, code, "HT-BIG", "某公司", "4500000", "0.3", "0.05", days_ago(185))
    tender = works.record_procurement(
        led, PLANNER, code, "works", "public_tender", "4500000", days_ago(190), days_ago(186), "某公司"
    )
    works.sign_contract(led, PLANNER, code, "HT-BIG", "某公司", "4500000", "0.3", "0.05", days_ago(185), tender)


# (六) 审计制 ---------------------------------------------------------------------------------


def test_rule6_no_closing_while_a_finding_is_open(led: Ledger) -> None:
    code, _, _ = _accepted_ready(led, 0)
    acceptance.accept(led, PLANNER, code, ["验收组"], on=days_ago(30))
    with refused(led.engine, "audit_done"):
        library.close_project(led, PLANNER, code)
    finding = audit.record_finding(led, AUDITOR, code, "documents", "报账资料缺少发票", "1200", days_ago(10))
    with refused(led.engine, "audit_open") as info:
        library.close_project(led, PLANNER, code)
    assert info.value.details["figures"]["open"] == [finding]
    audit.update_finding(led, PLANNER, code, finding, "rectifying", "已补交发票")
    with pytest.raises(Exception, match="auditor"):
        audit.update_finding(led, PLANNER, code, finding, "resolved", "已补交发票")
    audit.update_finding(led, AUDITOR, code, finding, "resolved", "核实无误")
    library.close_project(led, PLANNER, code)
    assert state(led, code).status == "closed"


# (七) 检查验收制 -----------------------------------------------------------------------------


def test_rule7_handover_needs_acceptance_class_owner_and_upkeep(led: Ledger, import_engine: Engine) -> None:
    from sqlalchemy import text

    vills = villages(led.engine, township=1)
    with import_engine.connect() as conn:
        well = conn.execute(
            text(
                "SELECT id FROM water_points WHERE kind = 'hand_pump_well' AND village_code = ANY(:v) ORDER BY id LIMIT 1"
            ),
            {"v": villages(led.engine, township=1, n=20)},
        ).scalar_one()
    code, line = ready(led, vills, subtype="hand_pump_wells", category="infrastructure")
    library.link_features(led, PLANNER, code, "water_points", [well], "as_built")
    cid = works.sign_contract(led, PLANNER, code, "HT-WELL", "打井队", "900000", "0.4", "0.05", days_ago(190))
    pay = payments.request_payment(
        led, ENGINEER, code, line, "360000", "advance", cid, "PZ", {"contract": "c"}, days_ago(185)
    )
    approve_all(led, code, pay)
    progress.report_progress(
        led, ENGINEER, code, on=days_ago(100), certified="100", reason="井已打成", certifier="县水务局 孙工"
    )
    notices.post_notice(led, PLANNER, code, "funds", days_ago(40), days_ago(31), print_sheet=False)
    with refused(led.engine, "status"):
        assets.handover(led, PLANNER, code, "public_welfare", "村委会", "village", "村委会", "张某")
    acceptance.accept(led, PLANNER, code, ["验收组"], on=days_ago(30))
    notices.post_notice(led, PLANNER, code, "completion", days_ago(29), days_ago(20), print_sheet=False)
    with refused(led.engine, "handover_fields") as info:
        assets.handover(led, PLANNER, code, "public_welfare", "某村村委会", "village", "村委会", "", on=days_ago(10))
    assert info.value.details["figures"]["missing"] == ["maintainer_person"] and "管护责任人" in info.value.zh
    ids = assets.handover(
        led, PLANNER, code, "public_welfare", "某村村委会", "village", "村委会", "张某", on=days_ago(10)
    )
    with import_engine.connect() as conn:
        row = conn.execute(
            text("SELECT asset_class, owner, maintainer, project_code, value_yuan FROM water_points WHERE id = :i"),
            {"i": well},
        ).one()
    assert row.asset_class == "public_welfare" and row.project_code == code and row.maintainer == "村委会（张某）"
    assert row.value_yuan == 360000.0  # 原值: what was paid
    assert len(ids) == 1 and state(led, code).status == "handed_over"
