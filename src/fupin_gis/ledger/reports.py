"""The ledger's reports, in the same machinery as the coverage reports (HTML, PDF, XLSX, CSV):
资金执行表 ``funds`` (source × category × township × year), ``plan-money`` (each plan item's money
planned and paid against its quantity planned and measured), ``compliance``; the asset ledger and
the notice sheet are in :mod:`fupin_gis.ledger.report_assets`. Every figure comes from the ledger's
facts (money split to townships by the spatial join of each project's works)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from fupin_gis.coverage.plan import load_plan
from fupin_gis.ledger import compliance as checks
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.money import share, split, to_wan, wan
from fupin_gis.ledger.progress import measure
from fupin_gis.ledger.state import Project, load
from fupin_gis.ledger.villages import weights
from fupin_gis.reports.model import Column, Report, Section

LEDGER_REPORTS = {
    "funds": ("资金执行表", "Funds execution"),
    "plan-money": ("规划资金与建设完成对照", "Plan money against works built"),
    "notice": ("公示表", "Notice sheet"),
    "assets": ("项目资产台账", "Project asset ledger"),
    "compliance": ("资金规则合规清单", "Fund-rule compliance list"),
}
LIVE = "status NOT IN ('draft', 'cancelled')"


def section(key: str, zh: str, en: str, columns: list[Column], rows: list[dict[str, Any]], note: str = "") -> Section:
    """A report section from rows keyed by column (positional rows for a Section that wants tuples)."""
    if hasattr(Section, "cells"):  # rows keyed by column
        return Section(key, zh, en, columns, rows, note)  # type: ignore[arg-type]
    return Section(key, zh, en, columns, [tuple(r[c.key] for c in columns) for r in rows], note)  # type: ignore[misc]


def run_of(conn: Connection, tag: str) -> dict[str, Any]:
    """What a ledger report says it comes from: the newest event and the registry's data version."""
    event = conn.execute(text("SELECT coalesce(max(id), 0) FROM ledger_events")).scalar_one()
    version = conn.execute(text("SELECT coalesce(max(id), 0) FROM batches")).scalar_one()
    return {
        "run_id": f"账本事件 {event}",
        "tag": f"{tag}-e{event}",
        "created_at": datetime.now(UTC).isoformat(),
        "data_version": version,
        "rules": {},
    }


def about(led: Ledger, conn: Connection, area: str | None) -> list[tuple[str, str]]:
    """The report's provenance: rules version and date, events, area."""
    run = run_of(conn, "x")
    return [
        ("资金规则 / Fund rules", f"{led.rules.version}（{led.rules.dated}）"),
        ("账本事件 / Ledger events up to", run["run_id"]),
        ("数据版本（最新导入批次）/ Data version", str(run["data_version"])),
        ("范围 / Area", area or "全部 / all"),
        ("金额单位 / Money", "万元（一位小数），合计按分精确 / 10,000 yuan, one decimal; totals exact to the fen"),
    ]


def projects(conn: Connection, area: str | None) -> list[Project]:
    """The live projects (not drafts, not cancelled) the connection sees, in the area."""
    codes = conn.execute(
        text(
            f"SELECT code FROM ledger_projects_now WHERE {LIVE} AND (CAST(:a AS text) IS NULL OR township_code LIKE :a || '%' "
            "OR EXISTS (SELECT 1 FROM unnest(villages) v WHERE v LIKE :a || '%')) ORDER BY code"
        ),
        {"a": area},
    ).scalars()
    return [load(conn, c) for c in list(codes)]


def _paid(led: Ledger, p: Project) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """Requested (pending or approved) and paid (approved) per budget line."""
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    asked: dict[int, Decimal] = {}
    paid: dict[int, Decimal] = {}
    for x in p.live_payments():
        asked[x.line_id] = asked.get(x.line_id, Decimal(0)) + x.net
        if x.state(steps) == "approved":
            paid[x.line_id] = paid.get(x.line_id, Decimal(0)) + x.net
    return asked, paid


def funds(engine: Engine, led: Ledger, area: str | None = None) -> Report:
    """资金执行表: planned (budget lines), requested and paid, by source × category × township × year."""
    cells: dict[tuple[str, str, str, int], list[Decimal]] = {}
    with engine.connect() as conn:
        names: dict[str, str] = dict(conn.execute(text("SELECT code, name FROM townships")).all())
        for p in projects(conn, area):
            _, w = weights(conn, led, p)
            towns: dict[str, float] = {}
            for village, value in w.items():
                towns[village[:9]] = towns.get(village[:9], 0.0) + value
            towns = towns or {(p.record.get("township_code") or "")[:9]: 1.0}
            asked, paid = _paid(led, p)
            for ln in p.lines:
                parts = [
                    split(v, towns)
                    for v in (ln["amount"], asked.get(ln["id"], Decimal(0)), paid.get(ln["id"], Decimal(0)))
                ]
                for town in towns:
                    key = (ln["source"], p.record.get("category") or "", town, int(ln["year"]))
                    cell = cells.setdefault(key, [Decimal(0)] * 3)
                    for k in range(3):
                        cell[k] += parts[k][town]
        info = about(led, conn, area)
        run = run_of(conn, "funds")
    rows = []
    for (source, category, town, year), (planned, asked_, paid_) in sorted(cells.items()):
        rows.append(
            {
                "source": led.rules.sources[source].label,
                "category": led.rules.categories[category].label if category else "",
                "town_code": town,
                "town": names.get(town, ""),
                "year": year,
                "planned": to_wan(planned),
                "requested": to_wan(asked_),
                "paid": to_wan(paid_),
                "share": share(paid_, planned),
            }
        )
    columns = [
        Column("source", "资金来源", "Source"),
        Column("category", "项目类别", "Category"),
        Column("town_code", "乡镇代码", "Township code"),
        Column("town", "乡镇", "Township"),
        Column("year", "年度", "Year", "int"),
        Column("planned", "计划（万元）", "Planned (10k yuan)", "num1"),
        Column("requested", "已申请报账（万元）", "Requested (10k yuan)", "num1"),
        Column("paid", "已拨付（万元）", "Paid (10k yuan)", "num1"),
        Column("share", "拨付率", "Paid share", "pct"),
    ]
    totals = [sum((c[k] for c in cells.values()), Decimal(0)) for k in range(3)]
    return Report(
        "funds",
        *LEDGER_REPORTS["funds"],
        run=run,
        about=info,
        sections=[section("funds", "资金执行表", "Funds execution", columns, rows)],
        headline=[
            ("计划资金 / planned", f"{wan(totals[0])} 万元"),
            ("已申请报账 / requested", f"{wan(totals[1])} 万元"),
            ("已拨付 / paid", f"{wan(totals[2])} 万元"),
        ],
    )


def plan_money(engine: Engine, led: Ledger, area: str | None = None) -> Report:
    """Each plan item: money planned and paid, quantity planned and measured, unit cost, variance;
    and the programme's categories against the projects."""
    plan = load_plan(led.settings.coverage.plan_file, led.catalog)
    tranche = {k: v for t in plan.tranches for k, v in t.targets.items()}
    items: dict[str, dict[str, Any]] = {
        i.key: {"money": Decimal(0), "paid": Decimal(0), "measured": 0.0, "projects": 0} for i in plan.items
    }
    steps = [s.key for s in led.rules.rules.reimbursement.steps]
    with engine.connect() as conn:
        live = projects(conn, area)
        for p in live:
            sub = led.rules.subtypes.get(p.record.get("subtype") or "")
            if sub is None or sub.plan_item not in items:
                continue
            item = items[sub.plan_item]
            item["projects"] += 1
            item["money"] += p.total
            item["paid"] += sum((x.net for x in p.payments if x.state(steps) == "approved"), Decimal(0))
            m = measure(conn, led, p)
            item["measured"] += m["measured"] if m else 0.0
        categories = conn.execute(
            text("SELECT t.programme, t.category, t.amount_yuan FROM ledger_programme_targets t ORDER BY 1, 2")
        ).all()
        info = about(led, conn, area)
        run = run_of(conn, "plan-money")
    rows = []
    for i in plan.items:
        it = items[i.key]
        measured = it["measured"] if i.measure != "none" else None
        money_share = share(it["paid"], it["money"]) if it["money"] else None
        works_share = (measured / i.target) if measured is not None and i.target else None
        flags = []
        if money_share is not None and works_share is not None and float(money_share) > works_share + 0.10:
            flags.append("资金快于工程 / money ahead of works")
        if measured is not None and i.key in tranche and measured < tranche[i.key]:
            flags.append(f"实测低于2011年度计划 {tranche[i.key]:g} / below the 2011 target")
        if not it["projects"]:
            flags.append("无项目 / no project")
        rows.append(
            {
                "item": i.label,
                "unit": i.unit,
                "target": i.target,
                "tranche": tranche.get(i.key),
                "projects": it["projects"],
                "money": to_wan(it["money"]),
                "paid": to_wan(it["paid"]),
                "measured": round(measured, 3) if measured is not None else None,
                "unit_cost": (to_wan(it["paid"]) / Decimal(str(measured))).quantize(Decimal("0.01"))
                if measured
                else None,
                "flags": "；".join(flags),
            }
        )
    columns = [
        Column("item", "规划项目", "Plan item"),
        Column("unit", "单位", "Unit"),
        Column("target", "三年规划量", "Three-year target", "num1"),
        Column("tranche", "2011年度计划量", "2011 target", "num1"),
        Column("projects", "项目数", "Projects", "int"),
        Column("money", "计划资金（万元）", "Money planned (10k yuan)", "num1"),
        Column("paid", "已拨付（万元）", "Paid (10k yuan)", "num1"),
        Column("measured", "登记库实测量", "Measured in the registry", "num2"),
        Column("unit_cost", "单位成本（万元/单位）", "Unit cost (10k yuan / unit)", "num2"),
        Column("flags", "偏差提示", "Variance"),
    ]
    by_category: dict[str, Decimal] = {}
    for p in live:
        if not p.record.get("parent_code"):
            by_category[p.record.get("category") or ""] = (
                by_category.get(p.record.get("category") or "", Decimal(0)) + p.total
            )
    cat_rows = [
        {
            "programme": r.programme,
            "category": led.rules.categories[r.category].label,
            "target": to_wan(r.amount_yuan),
            "projects": to_wan(by_category.get(r.category, Decimal(0))),
            "share": share(by_category.get(r.category, Decimal(0)), r.amount_yuan),
        }
        for r in categories
    ]
    cat_columns = [
        Column("programme", "规划", "Programme"),
        Column("category", "类别", "Category"),
        Column("target", "规划资金（万元）", "Programme (10k yuan)", "num1"),
        Column("projects", "已入库项目（万元）", "Projects (10k yuan)", "num1"),
        Column("share", "占比", "Share", "pct"),
    ]
    total = sum((r.amount_yuan for r in categories), Decimal(0))
    return Report(
        "plan-money",
        *LEDGER_REPORTS["plan-money"],
        run=run,
        about=info + [("规划文件 / Plan", plan.name)],
        sections=[
            section("items", "规划项目", "Plan items", columns, rows),
            section("categories", "分类资金", "Categories", cat_columns, cat_rows),
        ],
        headline=[("规划总投资 / programme total", f"{wan(total)} 万元")],
    )


def compliance(engine: Engine, led: Ledger, area: str | None = None) -> Report:
    """The compliance list as a report."""
    with engine.connect() as conn:
        found = [r for r in checks.problems(conn, led) if area is None or (r["township"] or "").startswith(area)]
        info = about(led, conn, area)
        run = run_of(conn, "compliance")
    rows = [
        {
            "kind": checks.KINDS[r["kind"]][0],
            "project": r["project"],
            "name": r["name"],
            "town_code": r["township"] or "",
            "detail": r["zh"],
            "detail_en": r["en"],
        }
        for r in found
    ]
    columns = [
        Column("kind", "问题类型", "Kind"),
        Column("project", "项目编号", "Project"),
        Column("name", "项目名称", "Name"),
        Column("town_code", "乡镇代码", "Township"),
        Column("detail", "说明", "Detail"),
        Column("detail_en", "Detail (English)", "Detail (English)"),
    ]
    tally = {v[0]: sum(1 for r in found if checks.KINDS[r["kind"]][0] == v[0]) for v in checks.KINDS.values()}
    return Report(
        "compliance",
        *LEDGER_REPORTS["compliance"],
        run=run,
        about=info,
        sections=[section("problems", "合规问题", "Problems", columns, rows)],
        headline=[(k, str(n)) for k, n in tally.items()],
    )
