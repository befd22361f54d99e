"""The demo ledger on the plan demo: the seed's programme and 2011 tranche, derived money tagged,
unknown quantities kept unknown, and the five projects taken through the rules (one refused its
acceptance for a 7-day notice, one refused its closing for an open finding)."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ledger_helpers import TODAY, counts, ledger_on
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from fupin_gis.catalog import Catalog
from fupin_gis.cli import app as cli
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


def test_reports_reconcile_with_the_seed_and_the_ledger(led: Ledger, built: dict, tmp_path: Path) -> None:
    from fupin_gis.reports.build import build_report
    from fupin_gis.reports.render import write

    funds = build_report(led.engine, led.catalog, "funds")
    rows = funds.sections[0].records() if hasattr(funds.sections[0], "records") else funds.sections[0].rows
    assert sum(r["planned"] for r in rows) == Decimal("8873.3")  # 20 % of 44366.5 万元, to the fen
    with led.engine.connect() as conn:
        paid = conn.execute(
            text(
                "SELECT sum(p.amount_yuan) FROM ledger_payments p WHERE (SELECT count(*) FROM ledger_approvals a "
                "WHERE a.payment_id = p.id AND a.decision = 'approve') = 3"
            )
        ).scalar_one()
        assets = conn.execute(text("SELECT sum(value_yuan), count(*) FROM ledger_assets")).one()
    assert sum(r["paid"] for r in rows) * 10000 == paid
    plan = build_report(led.engine, led.catalog, "plan-money")
    cats = {r["category"]: r["target"] for r in _records(plan.sections[1])}
    assert cats == {
        "基础设施建设": Decimal("15069.5"),
        "产业培育": Decimal("18176"),
        "社会事业建设": Decimal("4056"),
        "农户环境建设": Decimal("7065"),
    }
    items = {r["item"]: r for r in _records(plan.sections[0])}
    roads = fetch(led.engine, "TJ2011-02")
    assert items["硬化村道"]["target"] == 270 and items["硬化村道"]["tranche"] == 54
    assert items["硬化村道"]["money"] * 10000 == roads.total
    with led.engine.connect() as conn:
        km = conn.execute(
            text(
                "SELECT sum(ST_Length(r.geom::geography)) / 1000 FROM roads r WHERE r.id = ANY(:i) AND r.status = 'completed' "
                "AND r.surface = 'hardened' AND r.width_m >= 3.5"
            ),
            {"i": [f["feature_id"] for f in roads.features]},
        ).scalar_one()
    assert items["硬化村道"]["measured"] == pytest.approx(km, abs=1e-3)
    ledger = build_report(led.engine, led.catalog, "assets")
    assert sum(r["value"] for r in _records(ledger.sections[0])) * 10000 == assets[0]
    assert len(_records(ledger.sections[0])) == assets[1]
    problems = build_report(led.engine, led.catalog, "compliance")
    found = _records(problems.sections[0])
    assert any(r["project"] == "TJ2011-06" and "仅 7 日历日" in r["detail"] for r in found)
    assert any(r["project"] == "TJ2011-05" and r["kind"] == "审计问题逾期未整改" for r in found)
    for report in (funds, plan, ledger, problems):
        for fmt in ("html", "xlsx", "csv"):
            out = write(report, fmt, tmp_path / f"{report.name}.{fmt}", led.settings.web_dir / "templates")
            assert out.stat().st_size > 200
    assert "8,873.3" in (tmp_path / "funds.html").read_text("utf-8")
    from openpyxl import load_workbook

    book = load_workbook(tmp_path / "plan-money.xlsx")
    assert "规划项目" in book.sheetnames and "分类资金" in book.sheetnames


def _records(section) -> list[dict]:  # noqa: ANN001
    return section.records() if hasattr(section, "records") else section.rows


def test_notice_sheet_pdf_frozen_and_read_back(led: Ledger, built: dict, tmp_path: Path) -> None:
    from fupin_gis.ledger import notices
    from fupin_gis.ledger.demo import PLANNER

    nid = notices.post_notice(led, PLANNER, "TJ2011-07", "funds", TODAY - timedelta(days=3), TODAY + timedelta(days=6))
    with led.engine.connect() as conn:
        row = notices.notice(conn, nid)
    pdf = bytes(row["pdf"])
    assert hashlib.sha256(pdf).hexdigest() == row["pdf_sha256"]
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    sheet = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    p = fetch(led.engine, "TJ2011-07")
    assert "资金使用及实施情况公示" in sheet and "12317" in sheet
    assert f"{TODAY - timedelta(days=3)} 至 {TODAY + timedelta(days=6)}" in sheet and "10 个日历日" in sheet
    from fupin_gis.ledger.money import wan

    assert f"{wan(p.total)} 万元" in sheet and p.record["name"] in sheet
    assert "（演示）某建设工程有限公司" in sheet  # the contractor
    # frozen: the report command writes the same bytes, and a later change of the project does not touch them
    env = {"DATABASE_URL": led.engine.url.render_as_string(hide_password=False)}
    out = tmp_path / "again.pdf"
    result = CliRunner().invoke(cli, ["report", "notice", "-f", "pdf", "--notice", str(nid), "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == pdf and row["pdf_sha256"] in result.output


def _cells(path: Path) -> list[list]:
    from openpyxl import load_workbook

    sheet = load_workbook(path)["项目库"]
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_library_xlsx_round_trip(led: Ledger, built: dict, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from fupin_gis.ledger.demo import PLANNER
    from fupin_gis.ledger.exchange import export_xlsx, import_xlsx

    first = tmp_path / "projects.xlsx"
    with led.engine.connect() as conn:
        assert export_xlsx(conn, led, first) == 38
    before = counts(led.engine)
    dry = import_xlsx(led, PLANNER, first, dry_run=True)
    assert dry.problems == [] and dry.unchanged == 38 and not dry.changed
    again = import_xlsx(led, PLANNER, first)
    assert again.unchanged == 38 and counts(led.engine) == before  # the same sheet changes nothing
    second = tmp_path / "again.xlsx"
    with led.engine.connect() as conn:
        export_xlsx(conn, led, second)
    assert _cells(first) == _cells(second)  # identical round trip
    # edited in Excel: a project's content, and 1,234.56 yuan more from the county
    book = load_workbook(first)
    sheet = book["项目库"]
    head = [c.value for c in sheet[2]]
    row = next(r for r in sheet.iter_rows(min_row=3) if r[head.index("项目编号")].value == "TJ2011-30")
    row[head.index("建设内容及规模")].value = "培训转移农民工620人（含电商培训）"
    county = row[head.index("县级财政专项扶贫资金（万元）")]
    total = row[head.index("资金规模合计（万元）")]
    county.value = float(Decimal(str(county.value)) + Decimal("0.123456"))
    total.value = float(Decimal(str(total.value)) + Decimal("0.123456"))
    edited = tmp_path / "edited.xlsx"
    book.save(edited)
    dry = import_xlsx(led, PLANNER, edited, dry_run=True)
    assert dry.changed == ["TJ2011-30"] and counts(led.engine) == before
    done = import_xlsx(led, PLANNER, edited)
    assert done.changed == ["TJ2011-30"] and not done.problems
    p = fetch(led.engine, "TJ2011-30")
    assert p.record["content"] == "培训转移农民工620人（含电商培训）" and p.lines_total == p.total
    third = tmp_path / "third.xlsx"
    with led.engine.connect() as conn:
        export_xlsx(conn, led, third)
    assert _cells(third) == _cells(edited)
    # problems by row and column, nothing written
    book = load_workbook(edited)
    sheet = book["项目库"]
    sheet.cell(row=4, column=head.index("建设地点（村代码）") + 1, value="511921999999")
    sheet.cell(row=6, column=head.index("省级财政专项扶贫资金（万元）") + 1, value="十万")
    bad = tmp_path / "bad.xlsx"
    book.save(bad)
    before = counts(led.engine)
    report = import_xlsx(led, PLANNER, bad)
    where = {(p["row"], p["column"]) for p in report.problems}
    assert (4, "建设地点（村代码）") in where and (6, "省级财政专项扶贫资金（万元）") in where
    assert not report.to_dict()["written"] and counts(led.engine) == before


def test_oc4ids_and_fiscal_data_package(led: Ledger, built: dict) -> None:
    import csv
    import io
    import json

    from fupin_gis.ledger.publish import datapackage, oc4ids, spending

    with led.engine.connect() as conn:
        package = json.loads(oc4ids(conn, led))
        rows = list(csv.DictReader(io.StringIO(spending(conn, led))))
        lines = conn.execute(text("SELECT sum(amount_yuan) FROM ledger_budget_lines")).scalar_one()
        paid = conn.execute(
            text(
                "SELECT sum(p.amount_yuan) FROM ledger_payments p WHERE (SELECT count(*) FROM ledger_approvals a "
                "WHERE a.payment_id = p.id AND a.decision = 'approve') = 3"
            )
        ).scalar_one()
    assert len(package["projects"]) == 38
    road = next(p for p in package["projects"] if p["id"] == "TJ2011-02")
    assert road["status"] == "completion" and road["completion"]["finalValue"]["currency"] == "CNY"
    assert Decimal(str(road["budget"]["amount"]["amount"])) == fetch(led.engine, "TJ2011-02").total
    assert {loc["geometry"]["type"] for loc in road["locations"] if "geometry" in loc} == {"MultiLineString"}
    assert road["contractingProcesses"][0]["summary"]["tender"]["procurementMethod"] == "open"
    total = {"approved": Decimal(0), "executed": Decimal(0)}
    for r in rows:
        total[r["phase"]] += Decimal(r["amount"])
    assert total == {"approved": lines, "executed": paid}  # split to villages, every fen kept
    fields = [f["name"] for f in datapackage(led)["resources"][0]["schema"]["fields"]]
    assert fields == list(rows[0])
