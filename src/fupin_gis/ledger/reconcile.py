"""Rule 2 (报批制) and rule 4 (专账) figures: totals reconcile up the tree — budget lines and the
project's total, sub-projects within their project, a category's projects within the programme's
target — and what is paid from a line never exceeds it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.ledger.checks import Checks
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.money import wan
from fupin_gis.ledger.state import Project


def lines_within(led: Ledger, checks: Checks, p: Project, lines: Decimal, total: Decimal | None = None) -> None:
    """The budget lines (``lines`` after the change) stay within the project's total."""
    total = p.total if total is None else total
    tol = led.rules.rules.approval.tolerance_yuan
    checks.require(
        lines <= total + tol,
        "lines_equal_total",
        f"资金来源合计 {wan(lines)} 万元将超过项目总投资 {wan(total)} 万元",
        f"budget lines would add up to {wan(lines)} 万元, above the project's total of {wan(total)} 万元",
        "Σ 资金来源 ≤ 项目总投资 / lines ≤ total",
        lines=lines,
        total=total,
    )


def totals(
    conn: Connection, led: Ledger, checks: Checks, p: Project, total: Decimal, rec: dict[str, Any], equal: bool
) -> None:
    """Every reconciliation of rule 2 for the project with ``total`` and record ``rec``:
    lines equal to (``equal``, at entry into the library) or within the total, sub-projects within
    it, and within its parent, and the category within the programme's target."""
    rule = led.rules.rules.approval
    tol = rule.tolerance_yuan
    if equal and rule.lines_equal_total:
        checks.require(
            abs(p.funded - total) <= tol,
            "lines_equal_total",
            f"资金来源合计 {wan(p.funded)} 万元{'（含子项目）' if p.children else ''}，不等于项目总投资 {wan(total)} 万元",
            f"budget lines add up to {wan(p.funded)} 万元{' (with sub-projects)' if p.children else ''}, "
            f"not the project's total of {wan(total)} 万元",
            "Σ 资金来源（+ 子项目）= 项目总投资 / lines (+ sub-projects) = total",
            lines=p.funded,
            total=total,
        )
    else:
        lines_within(led, checks, p, p.funded, total)
    if rule.subprojects_within_parent:
        children = sum(
            (Decimal(c["total_yuan"]) for c in p.children if c["status"] not in ("draft", "cancelled")), Decimal(0)
        )
        checks.require(
            children <= total + tol,
            "subprojects_within_parent",
            f"子项目合计 {wan(children)} 万元超过项目总投资 {wan(total)} 万元",
            f"sub-projects add up to {wan(children)} 万元, above the project's {wan(total)} 万元",
            "Σ 子项目 ≤ 项目 / sub-projects ≤ project",
            subprojects=children,
            total=total,
        )
        parent = rec.get("parent_code")
        if parent:
            row = conn.execute(
                text(
                    "SELECT p.total_yuan, coalesce((SELECT sum(c.total_yuan) FROM ledger_projects_now c WHERE c.parent_code = p.code "
                    "AND c.code <> :me AND c.status NOT IN ('draft', 'cancelled')), 0) AS siblings FROM ledger_projects_now p WHERE p.code = :p"
                ),
                {"p": parent, "me": p.code},
            ).one()
            after = row.siblings + total
            checks.require(
                after <= row.total_yuan + tol,
                "subprojects_within_parent",
                f"项目 {parent} 的子项目合计将为 {wan(after)} 万元，超过其总投资 {wan(row.total_yuan)} 万元",
                f"the sub-projects of {parent} would add up to {wan(after)} 万元, above its {wan(row.total_yuan)} 万元",
                "Σ 子项目 ≤ 项目 / sub-projects ≤ project",
                parent=parent,
                subprojects=after,
                parent_total=row.total_yuan,
            )
    programme, category = rec.get("programme"), rec.get("category")
    if rule.categories_within_programme and programme and category and not rec.get("parent_code"):
        target = conn.execute(
            text("SELECT amount_yuan FROM ledger_programme_targets WHERE programme = :p AND category = :c"),
            {"p": programme, "c": category},
        ).scalar_one_or_none()
        if target is not None:
            others = conn.execute(
                text(
                    "SELECT coalesce(sum(total_yuan), 0) FROM ledger_projects_now WHERE programme = :p AND category = :c "
                    "AND parent_code IS NULL AND code <> :me AND status NOT IN ('draft', 'cancelled')"
                ),
                {"p": programme, "c": category, "me": p.code},
            ).scalar_one()
            after = others + total
            label = led.rules.categories[category].label
            checks.require(
                after <= target + tol,
                "categories_within_programme",
                f"{label}项目合计将为 {wan(after)} 万元，超过规划 {programme} 的 {wan(target)} 万元",
                f"{category} projects would add up to {wan(after)} 万元, above programme {programme}'s {wan(target)} 万元",
                {"category": category, "target": target},
                projects=after,
            )


def paid_from(p: Project, line_id: int) -> Decimal:
    """What the live payments of the project take from one budget line."""
    return sum((x.net for x in p.live_payments() if x.line_id == line_id), Decimal(0))


def line_balance(led: Ledger, checks: Checks, p: Project, line: dict[str, Any], amount_after: Decimal) -> None:
    """Payments from ``line`` stay within the line (its amount after the change)."""
    paid = paid_from(p, line["id"])
    label = led.rules.sources[line["source"]].label
    checks.require(
        paid <= amount_after,
        "line_balance",
        f"{label}（{line['year']}年）已支付 {wan(paid)} 万元，超过该来源的 {wan(amount_after)} 万元",
        f"{line['source']} {line['year']}: {wan(paid)} 万元 paid, above the line's {wan(amount_after)} 万元",
        "Σ 支付 ≤ 资金来源 / paid ≤ line",
        paid=paid,
        line=amount_after,
        line_id=line["id"],
    )
