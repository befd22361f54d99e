"""The 项目资产台账 (assets by village, township and county: class × owner level, 原值 by source,
管护, status) and the notice report (a notice's frozen content as tables; its frozen PDF is the
printed sheet). Both in the coverage reports' machinery; dispatched by :func:`build`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text

from fupin_gis.errors import NotFound
from fupin_gis.ledger import reports
from fupin_gis.ledger.assets import CLASSES, OWNER_LEVELS
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.money import to_wan, wan
from fupin_gis.ledger.sheet import loads
from fupin_gis.reports.model import Column, Report


def asset_ledger(engine: Engine, led: Ledger, area: str | None = None) -> Report:
    """Every asset handed over, and their sums by township and for the county."""
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT a.*, p.name AS project_name, v.name AS village, t.name AS township FROM ledger_assets a "
                    "JOIN ledger_projects_now p ON p.code = a.project_code LEFT JOIN villages v ON v.code = a.village_code "
                    "LEFT JOIN townships t ON t.code = left(a.village_code, 9) "
                    "WHERE CAST(:a AS text) IS NULL OR a.village_code LIKE :a || '%' ORDER BY a.village_code, a.project_code, a.id"
                ),
                {"a": area},
            )
            .mappings()
            .all()
        )
        info = reports.about(led, conn, area)
        run = reports.run_of(conn, "assets")
    sources = sorted({s for r in rows for s in (r["value_by_source"] or {})}, key=list(led.rules.sources).index)
    listed = []
    sums: dict[tuple[str, str, str], list[Any]] = {}
    for r in rows:
        by_source = {s: Decimal(v) for s, v in (r["value_by_source"] or {}).items()}
        listed.append(
            {
                "village_code": r["village_code"] or "",
                "village": r["village"] or "",
                "township": r["township"] or "",
                "project": r["project_code"],
                "project_name": r["project_name"],
                "layer": led.catalog.layer(r["layer"]).label,
                "feature": r["feature_id"],
                "class": CLASSES[r["asset_class"]][0],
                "owner_level": OWNER_LEVELS[r["owner_level"]][0],
                "owner": r["owner"],
                "value": to_wan(r["value_yuan"]),
                **{f"src_{s}": to_wan(by_source.get(s, Decimal(0))) for s in sources},
                "maintainer": f"{r['maintainer_unit']}（{r['maintainer_person']}）",
                "status": "在用 / in use" if r["status"] == "in_use" else r["status"],
                "handed_on": str(r["handed_on"]),
            }
        )
        for unit in ((r["village_code"] or "")[:9], (r["village_code"] or "")[:6]):
            cell = sums.setdefault((unit, r["asset_class"], r["owner_level"]), [0, Decimal(0)])
            cell[0] += 1
            cell[1] += r["value_yuan"]
    columns = [
        Column("village_code", "村代码", "Village code"),
        Column("village", "村", "Village"),
        Column("township", "乡镇", "Township"),
        Column("project", "项目编号", "Project"),
        Column("project_name", "项目名称", "Project name"),
        Column("layer", "资产类型（图层）", "Layer"),
        Column("feature", "要素编号", "Feature", "int"),
        Column("class", "资产类别", "Class"),
        Column("owner_level", "权属层级", "Owner level"),
        Column("owner", "确权主体", "Owner"),
        Column("value", "原值（万元）", "Value (10k yuan)", "num2"),
        *[Column(f"src_{s}", f"其中{led.rules.sources[s].label}", led.rules.sources[s].en, "num2") for s in sources],
        Column("maintainer", "管护单位（责任人）", "Upkeep"),
        Column("status", "状态", "Status"),
        Column("handed_on", "移交日期", "Handed over"),
    ]
    summary = [
        {"unit": unit, "class": CLASSES[c][0], "owner_level": OWNER_LEVELS[o][0], "count": n, "value": to_wan(v)}
        for (unit, c, o), (n, v) in sorted(sums.items())
    ]
    sum_columns = [
        Column("unit", "乡镇（9位）/县（6位）", "Township / county"),
        Column("class", "资产类别", "Class"),
        Column("owner_level", "权属层级", "Owner level"),
        Column("count", "资产数", "Assets", "int"),
        Column("value", "原值（万元）", "Value (10k yuan)", "num2"),
    ]
    total = sum((r["value_yuan"] for r in rows), Decimal(0))
    return Report(
        "assets",
        *reports.LEDGER_REPORTS["assets"],
        run=run,
        about=info,
        sections=[
            reports.section("assets", "项目资产台账", "Asset ledger", columns, listed),
            reports.section("summary", "按乡镇与全县汇总", "By township and county", sum_columns, summary),
        ],
        headline=[("资产 / assets", str(len(rows))), ("原值合计 / value", f"{wan(total)} 万元")],
    )


def notice_report(engine: Engine, led: Ledger, notice: int | None = None) -> Report:
    """A notice's frozen content as tables (the newest notice when none is named)."""
    with engine.connect() as conn:
        nid = notice or conn.execute(text("SELECT max(id) FROM ledger_notices")).scalar_one()
        row = conn.execute(text("SELECT * FROM ledger_notices WHERE id = :i"), {"i": nid}).mappings().first()
        if row is None:
            raise NotFound("还没有公示", "No notice yet", notice=notice)
        info = reports.about(led, conn, None)
        run = reports.run_of(conn, f"notice{nid}")
    c = loads(row["content"])
    p, n = c["project"], c["notice"]
    b = p["beneficiaries"]
    facts = [
        ("项目名称", p["name"]), ("项目编号", p["code"]), ("公示类型", n["label"]),
        ("建设地点", "、".join(f"{x.get('township') or ''}{x['name']}" for x in c["places"])),
        ("建设内容及规模", p["content"]), ("计划工期", f"{p['start_planned']} 至 {p['end_planned']}"),
        ("主管部门", p["department"]), ("实施单位", p["implementer"]), ("责任人", p["responsible"]),
        ("承建单位", "、".join(c["contractors"])), ("资金合计（万元）", c["total"]["wan"]),
        ("受益户（户）", str(b.get("households", ""))), ("受益人口（人）", str(b.get("people", ""))),
        ("其中脱贫户（户）", str(b.get("poor_households", ""))),
        ("公示期", f"{n['start']} 至 {n['end']}（{n['days']} 天）"), ("监督电话", "；".join(c["phones"])),
        ("公示页面", n["url"]), ("内容 SHA-256", row["content_sha256"]), ("PDF SHA-256", row["pdf_sha256"] or "—"),
    ]  # fmt: skip
    fund_rows = [{"source": f["label"], "wan": f["wan"], "yuan": f["yuan"]} for f in c["funds"]]
    return Report(
        "notice",
        *reports.LEDGER_REPORTS["notice"],
        run=run,
        about=info,
        sections=[
            reports.section(
                "notice",
                "公示内容",
                "Notice",
                [Column("item", "项目", "Item"), Column("value", "内容", "Value")],
                [{"item": k, "value": v} for k, v in facts],
            ),
            reports.section(
                "funds",
                "资金来源",
                "Funds by source",
                [
                    Column("source", "资金来源", "Source"),
                    Column("wan", "万元", "10k yuan"),
                    Column("yuan", "元", "Yuan"),
                ],
                fund_rows,
            ),
        ],  # fmt: skip
        headline=[("公示 / notice", str(nid))],
    )


def build(engine: Engine, led: Ledger, name: str, area: str | None = None, notice: int | None = None) -> Report:
    """The ledger report ``name``."""
    if name == "funds":
        return reports.funds(engine, led, area)
    if name == "plan-money":
        return reports.plan_money(engine, led, area)
    if name == "compliance":
        return reports.compliance(engine, led, area)
    if name == "assets":
        return asset_ledger(engine, led, area)
    return notice_report(engine, led, notice)


def frozen_pdf(engine: Engine, notice: int | None = None) -> tuple[int, bytes | None]:
    """A notice's frozen PDF (the newest notice when none is named)."""
    with engine.connect() as conn:
        nid = notice or conn.execute(text("SELECT max(id) FROM ledger_notices")).scalar_one()
        pdf = conn.execute(text("SELECT pdf FROM ledger_notices WHERE id = :i"), {"i": nid}).scalar_one_or_none()
    return int(nid or 0), bytes(pdf) if pdf is not None else None


def ledger_report(
    engine: Engine, catalog: Any, name: str, area: str | None = None, notice: int | None = None
) -> Report:
    """A ledger report for ``fupin_gis.reports.build.build_report`` (the rules and plan files the settings name)."""
    from fupin_gis.ledger.config import load_rules
    from fupin_gis.settings import Settings

    settings = Settings()
    led = Ledger(engine, catalog, load_rules(settings.ledger.rules_file, catalog), settings)
    report = build(engine, led, name, area, notice)
    report.area = area
    return report
