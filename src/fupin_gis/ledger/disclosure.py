"""Rule 3 (公示制) on dates: a notice's period in calendar or working days, and the order it sets —
the pre-works notice has run before procurement, contracts and works; no acceptance while a
notice runs or before the funds notice has run; the completion notice after acceptance, and the
hand-over only after it has run."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fupin_gis.ledger.checks import Checks
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.state import Project

ACTIONS = {
    "procurement": ("采购（招标）", "procurement"),
    "contract": ("签订合同", "signing the contract"),
    "works": ("开工", "the works"),
    "acceptance": ("验收", "acceptance"),
    "handover": ("资产移交", "hand-over"),
    "direct": ("到户直补", "direct payments"),
}
UNITS = {"calendar": ("日历日", "calendar days"), "working": ("工作日", "working days")}


def period_days(start: date, end: date, unit: str, holidays: list[date]) -> int:
    """Days from ``start`` to ``end``, both counted: calendar days, or Monday–Friday but ``holidays``."""
    if unit == "calendar":
        return (end - start).days + 1
    off = set(holidays)
    return sum(
        1 for k in range((end - start).days + 1) if (d := start + timedelta(days=k)).weekday() < 5 and d not in off
    )


def _label(led: Ledger, kind: str) -> tuple[str, str]:
    k = led.rules.rules.disclosure.kinds.get(kind)
    return (k.label, k.en) if k else (kind, kind)


def require_notices(led: Ledger, checks: Checks, p: Project, action: str, day: date) -> None:
    """Every notice kind required before ``action`` has run its least period and ended before ``day``."""
    for kind, spec in led.rules.rules.disclosure.kinds.items():
        if action not in spec.required_before:
            continue
        zh, en = _label(led, kind)
        what_zh, what_en = ACTIONS.get(action, (action, action))
        unit_zh, unit_en = UNITS[spec.day_unit]
        mine = [n for n in p.notices if n["kind"] == kind]
        good = [n for n in mine if n["days"] >= spec.min_days and n["end_on"] < day]
        configured = {"kind": kind, "min_days": spec.min_days, "day_unit": spec.day_unit}
        if good:
            n = good[-1]
            checks.require(True, "notice_before", "", "", configured, notice=n["id"], days=n["days"], end=n["end_on"])
            continue
        if not mine:
            checks.require(
                False,
                "notice_before",
                f"{what_zh}前须发布“{zh}”并公示不少于 {spec.min_days} {unit_zh}：尚未发布",
                f"{what_en} waits for a '{en}' of at least {spec.min_days} {unit_en}: none posted",
                configured,
                notices=0,
            )
        n = max(mine, key=lambda x: (x["days"], x["end_on"]))
        if n["days"] < spec.min_days:
            checks.require(
                False,
                "notice_before",
                f"“{zh}”（公示 {n['id']}，{n['start_on']} 至 {n['end_on']}）公示期 {n['days']} {unit_zh}，"
                f"少于规定的 {spec.min_days} {unit_zh}",
                f"the '{en}' (notice {n['id']}, {n['start_on']} to {n['end_on']}) ran {n['days']} {unit_en}, "
                f"less than the configured {spec.min_days}",
                configured,
                notice=n["id"],
                days=n["days"],
                start=n["start_on"],
                end=n["end_on"],
            )
        checks.require(
            False,
            "notice_before",
            f"“{zh}”（公示 {n['id']}）公示期至 {n['end_on']} 结束：{what_zh}日期 {day} 须在其后",
            f"the '{en}' (notice {n['id']}) runs until {n['end_on']}: {what_en} on {day} must come after it",
            configured,
            notice=n["id"],
            end=n["end_on"],
            on=day,
        )


def require_none_running(led: Ledger, checks: Checks, p: Project, day: date) -> None:
    """No notice of a required kind of the project runs on ``day`` (acceptance waits for it)."""
    kinds = {k for k, s in led.rules.rules.disclosure.kinds.items() if s.required_before}
    running = [n for n in p.notices if n["kind"] in kinds and n["start_on"] <= day <= n["end_on"]]
    first = running[0] if running else None
    checks.require(
        not running,
        "notice_running",
        f"“{_label(led, first['kind'])[0]}”（公示 {first['id']}）公示期 {first['start_on']} 至 {first['end_on']}，"
        f"验收日期 {day} 仍在公示期内"
        if first
        else "",
        f"the '{_label(led, first['kind'])[1]}' (notice {first['id']}) runs {first['start_on']} to {first['end_on']}: "
        f"acceptance on {day} falls inside it"
        if first
        else "",
        "公示期内不得验收 / no acceptance while a notice runs",
        running=[n["id"] for n in running],
        on=day,
    )


def require_after_acceptance(led: Ledger, checks: Checks, p: Project, kind: str, start: date) -> None:
    """A notice kind that follows acceptance (the completion notice) starts on or after a passed one."""
    spec = led.rules.rules.disclosure.kinds[kind]
    if spec.after != "acceptance":
        return
    passed = p.passed_acceptance()
    zh, en = _label(led, kind)
    checks.require(
        passed is not None and passed["accepted_on"] <= start,
        "notice_after_acceptance",
        f"“{zh}”须在验收合格之后发布"
        + (f"（验收日期 {passed['accepted_on']}，公示开始 {start}）" if passed else "：项目尚未验收合格"),
        f"the '{en}' follows a passed acceptance"
        + (
            f" (accepted on {passed['accepted_on']}, notice from {start})"
            if passed
            else ": the project has not passed acceptance"
        ),
        "验收合格后 / after a passed acceptance",
        accepted_on=passed["accepted_on"] if passed else None,
        start=start,
    )


def notice_state(n: dict[str, Any], led: Ledger, day: date) -> str:
    """scheduled / running / ended, and short when its period is below the kind's least."""
    spec = led.rules.rules.disclosure.kinds.get(n["kind"])
    state = "scheduled" if day < n["start_on"] else ("running" if day <= n["end_on"] else "ended")
    return f"{state}-short" if spec and n["days"] < spec.min_days else state
