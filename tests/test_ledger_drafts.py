"""From a coverage run's gaps to draft projects, and the whole way of one of them as a new user
would take it: into the library, its notice, progress the registry measures, a payment above the
cap refused, an acceptance refused while a notice runs, then accepted — its villages' road access
changes — and handed over to the asset register."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from ledger_helpers import DEPARTMENT, ENGINEER, FINANCE, PLANNER, TODAY, TOWNSHIP, days_ago, ledger_on, refused
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.snapshots import create_run, get_run
from fupin_gis.errors import InvalidInput
from fupin_gis.ledger import acceptance, assets, library, notices, payments, progress, works
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.demo import record_history
from fupin_gis.ledger.drafts import draft_from_run
from fupin_gis.ledger.state import fetch
from fupin_gis.settings import Settings


@pytest.fixture(scope="module")
def led(import_engine: Engine, catalog: Catalog, base_settings: Settings) -> Ledger:
    return ledger_on(import_engine, catalog, base_settings, rerun=True)


@pytest.fixture(scope="module")
def run(led: Ledger) -> dict:
    return create_run(led.engine, led.settings.coverage, led.catalog)


@pytest.fixture(scope="module")
def drafted(led: Ledger, run: dict) -> list[dict]:
    return draft_from_run(led, PLANNER, run["run_id"])


def test_drafts_from_the_joint_harden_plan_and_the_water_gaps(led: Ledger, run: dict, drafted: list[dict]) -> None:
    segments = set(run["harden_plan"]["segments"])
    roads = [d for d in drafted if d["kind"] == "road"]
    linked: set[int] = set()
    with led.engine.connect() as conn:
        for d in roads:
            p = fetch(led.engine, d["code"])
            ids = {f["feature_id"] for f in p.features if f["role"] == "planned"}
            linked |= ids
            assert (
                p.status == "draft"
                and p.record["source_run"] == run["run_id"]
                and p.record["subtype"] == "village_road_harden"
            )
            # the estimate: each piece's geodesic length × 元/km of its class and present surface
            rows = conn.execute(
                text("SELECT road_class, surface, ST_Length(geom::geography) AS m FROM roads WHERE id = ANY(:i)"),
                {"i": list(ids)},
            ).all()
            table = led.rules.unit_costs.road_km
            expected = sum(
                (
                    Decimal(str(r.m))
                    / 1000
                    * table.get(r.road_class, table["village"]).get(r.surface, table["village"]["gravel"])
                ).quantize(Decimal(1))
                for r in rows
            )
            assert p.total == expected == d["estimate"]
            towns = (
                conn.execute(
                    text("SELECT DISTINCT left(village_code, 9) FROM roads WHERE id = ANY(:i)"), {"i": list(ids)}
                )
                .scalars()
                .all()
            )
            assert list(towns) == [d["township"]]
    assert linked == segments  # every piece of the plan, in one draft, once
    wells = {d["township"]: d for d in drafted if d["kind"] == "water"}
    gaps: dict[str, int] = {}
    for v in run["villages"]:
        gap = v["water"]["households"] - v["water"]["households_covered"]
        if gap > 0:
            gaps[v["code"][:9]] = gaps.get(v["code"][:9], 0) + math.ceil(gap / 5)
    assert {t: d["wells"] for t, d in wells.items()} == gaps
    with pytest.raises(InvalidInput, match="already"):
        draft_from_run(led, PLANNER, run["run_id"])


def test_a_draft_all_the_way_to_the_asset_register(led: Ledger, run: dict, drafted: list[dict]) -> None:
    before = {v["code"]: v for v in get_run(led.engine, run["run_id"])["villages"]}
    road = next(d for d in drafted if d["kind"] == "road" and d["km"] > 0)
    code = road["code"]
    p = fetch(led.engine, code)
    gaps = [v for v in p.record["villages"] if not before[v]["road_access"]["connected"]]
    assert gaps
    library.amend_project(
        led, PLANNER, code,
        {
            "department": "县交通运输局", "implementer": "乡人民政府", "responsible": "王某", "benefit_mechanism": "贫困户投工投劳",
            "start_planned": str(days_ago(70)), "end_planned": str(days_ago(20)),
        },
    )  # fmt: skip
    total = p.total
    line = library.add_line(led, PLANNER, code, "central", TODAY.year, total)
    library.enter_library(led, PLANNER, code, on=days_ago(65))
    notices.post_notice(led, PLANNER, code, "plan", days_ago(60), days_ago(51), print_sheet=False)
    value = total
    cid = works.sign_contract(led, PLANNER, code, "HT-DRAFT", "某路桥公司", value, "0.4", "0.05", days_ago(50))
    # the registry: the pieces were hardened and finished 20 days ago (a survey of that day)
    ids = [f["feature_id"] for f in p.features]
    finished = datetime.combine(days_ago(20), time(12), ZoneInfo("Asia/Shanghai")).astimezone(UTC)
    with led.engine.begin() as conn:
        conn.execute(
            text("UPDATE roads SET surface = 'hardened', status = 'completed', width_m = 4.5 WHERE id = ANY(:i)"),
            {"i": ids},
        )
        record_history(
            conn, "roads", ids, {"surface": "gravel", "status": "existing", "width_m": 3.0}, finished, "test survey"
        )
    assert progress.measure_on(led.engine.connect(), led, fetch(led.engine, code), days_ago(21))["pct"] == 0  # type: ignore[index]
    progress.report_progress(led, ENGINEER, code, on=days_ago(19))
    assert fetch(led.engine, code).certified_pct == Decimal(100)
    first = payments.request_payment(
        led,
        ENGINEER,
        code,
        line,
        value * Decimal("0.4"),
        "advance",
        cid,
        "PZ-1",
        {"contract": "HT-DRAFT"},
        days_ago(45),
    )
    for who in (TOWNSHIP, DEPARTMENT, FINANCE):
        payments.approve_payment(led, who, code, first)
    docs = {"progress_certificate": "JD-1", "invoice": "FP-1"}
    with refused(led.engine, "payment_cap") as info:  # 95 % before acceptance: above the 90 % cap
        payments.request_payment(
            led,
            ENGINEER,
            code,
            line,
            (value * Decimal("0.55")).quantize(Decimal("0.01")),
            "progress",
            cid,
            "PZ-2",
            docs,
            days_ago(18),
        )
    assert info.value.details["figures"]["phase"] == "until_acceptance"
    payments.request_payment(
        led, ENGINEER, code, line, value * Decimal("0.5"), "progress", cid, "PZ-2", docs, days_ago(18)
    )
    notices.post_notice(led, PLANNER, code, "funds", days_ago(25), days_ago(16), print_sheet=False)
    team = ["县扶贫办", "县交通运输局", "乡人民政府"]
    with refused(led.engine, "notice_running"):
        acceptance.accept(led, PLANNER, code, team, on=days_ago(18))
    accepted = acceptance.accept(led, PLANNER, code, team, on=days_ago(15))
    with led.engine.connect() as conn:
        row = conn.execute(
            text("SELECT verified, effects, run_before, run_after FROM ledger_acceptances WHERE id = :i"),
            {"i": accepted},
        ).one()
    assert row.run_before == run["run_id"] and row.run_after > run["run_id"]
    assert row.verified["measured"]["pct"] == 100
    newly = set(row.effects["villages_newly_connected"])
    after = {v["code"]: v for v in get_run(led.engine, row.run_after)["villages"]}
    assert (
        newly == {v for v in gaps if after[v]["road_access"]["connected"]} and newly
    )  # its villages now reach the township
    notices.post_notice(led, PLANNER, code, "completion", days_ago(14), days_ago(5), print_sheet=False)
    assets.handover(led, PLANNER, code, "public_welfare", "村民委员会", "village", "村民委员会", "李某")
    with led.engine.connect() as conn:
        owned = conn.execute(
            text(
                "SELECT count(*) FROM roads WHERE id = ANY(:i) AND project_code = :c AND asset_class = 'public_welfare'"
            ),
            {"i": ids, "c": code},
        ).scalar_one()
        ledger = conn.execute(
            text("SELECT sum(value_yuan) FROM ledger_assets WHERE project_code = :c"), {"c": code}
        ).scalar_one()
    assert owned == len(ids)
    assert ledger == (value * Decimal("0.4")).quantize(Decimal("0.01"))  # 原值 from what finance approved so far
    assert fetch(led.engine, code).status == "handed_over"
