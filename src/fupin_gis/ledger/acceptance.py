"""Acceptance (验收): the verified quantity read from the registry on the day, the team and the
result; refused while a notice runs or before the funds notice has run; a pass reruns the
coverage rules and records what the project changed in its villages (its 效益 actuals)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.coverage.snapshots import create_run, get_run
from fupin_gis.errors import InvalidInput
from fupin_gis.ledger import disclosure
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import LIBRARY, require, require_area
from fupin_gis.ledger.events import record
from fupin_gis.ledger.fields import not_after_today, parse_date, today
from fupin_gis.ledger.library import require_status, set_status
from fupin_gis.ledger.progress import measure_on
from fupin_gis.ledger.sqlutil import acting, dumps
from fupin_gis.ledger.state import Project, load
from fupin_gis.ledger.villages import weights

KINDS = {
    "completion": ("竣工验收", "completion"),
    "annual": ("年度检查验收", "annual inspection"),
    "final": ("决算验收", "final"),
}
RESULTS = {"pass": ("合格", "passed"), "fail": ("不合格", "failed"), "rectify": ("限期整改", "rectify by a deadline")}


def run_before(conn: Connection, p: Project) -> int | None:
    """The coverage run that shows the project's villages before its works: the run it was drafted
    from, else the newest before its first procurement, contract or progress report, else the newest."""
    if p.record.get("source_run"):
        return int(p.record["source_run"])
    return conn.execute(
        text(
            "SELECT coalesce((SELECT max(r.id) FROM coverage_runs r WHERE r.created_at <= (SELECT min(e.at) FROM ledger_events e "
            "WHERE e.project_code = :c AND e.action IN ('procurement', 'contract', 'progress'))), (SELECT max(id) FROM coverage_runs))"
        ),
        {"c": p.code},
    ).scalar_one()


def effects(led: Ledger, villages: list[str], before: int | None, after: int) -> dict[str, Any]:
    """What changed in ``villages`` between two coverage runs: road access (村七有①) newly met, and
    households newly within reach of safe water."""
    old = {v["code"]: v for v in get_run(led.engine, before)["villages"]} if before else {}
    new = {v["code"]: v for v in get_run(led.engine, after)["villages"]}
    rows = []
    for code in villages:
        a, b = old.get(code), new.get(code)
        if b is None:
            continue
        was = bool(a and a["road_access"]["connected"])
        water_a = (a or {}).get("water", {}).get("households_covered", 0) if a else 0
        water_b = b.get("water", {}).get("households_covered", 0)
        rows.append(
            {
                "code": code,
                "name": b["name"],
                "connected_before": was if a else None,
                "connected_after": b["road_access"]["connected"],
                "newly_connected": bool(a) and not was and b["road_access"]["connected"],
                "households_water_before": water_a,
                "households_water_after": water_b,
                "households_water_gained": max(0, water_b - water_a) if a else None,
            }
        )
    return {
        "run_before": before,
        "run_after": after,
        "villages": rows,
        "villages_newly_connected": [r["code"] for r in rows if r["newly_connected"]],
        "households_newly_with_water": sum(r["households_water_gained"] or 0 for r in rows),
    }


def accept(
    led: Ledger,
    who: Principal,
    code: str,
    team: list[str],
    on: Any = None,
    result: str = "pass",
    kind: str = "completion",
    rectify_by: Any = None,
    verified: dict[str, Any] | None = None,
    rerun_coverage: bool | None = None,
) -> int:
    """Record an acceptance; returns its id. A pass of a completion or final acceptance accepts the project."""
    require(who, LIBRARY, "library")
    if kind not in KINDS or result not in RESULTS:
        raise InvalidInput(
            f"验收类型或结论无效：{', '.join(KINDS)}；{', '.join(RESULTS)}", "unknown kind or result", field="result"
        )
    members = [t.strip() for t in team if t and t.strip()]
    if not members:
        raise InvalidInput("验收须列出验收组成员", "an acceptance names its team", field="team")
    day = not_after_today(parse_date(on, "on") or today(led.rules), led.rules, "on")
    deadline = parse_date(rectify_by, "rectify_by")
    if result == "rectify" and (deadline is None or deadline <= day):
        raise InvalidInput(
            "限期整改须给出晚于验收日期的整改期限",
            "'rectify' needs a deadline after the acceptance",
            field="rectify_by",
        )
    rerun = led.settings.ledger.rerun_coverage if rerun_coverage is None else rerun_coverage

    def check(conn: Connection) -> tuple[Project, Any, dict[str, Any] | None, list[str]]:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        checks = led.checks()
        allowed = ("implementing",) if kind != "annual" else ("implementing", "accepted", "handed_over")
        require_status(p, checks, allowed, ("验收", "accept"))
        disclosure.require_none_running(led, checks, p, day)
        disclosure.require_notices(led, checks, p, "acceptance", day)
        _, w = weights(conn, led, p)
        return p, checks, measure_on(conn, led, p, day), sorted(set(w) | set(p.record.get("villages") or []))

    with acting(led.engine, who, code) as conn:
        p, _, _, villages = check(conn)  # refused here, before the coverage run writes its snapshot
        before = run_before(conn, p) if rerun and result == "pass" else None
    found: dict[str, Any] = {}
    if rerun and result == "pass":  # a snapshot, stored in a transaction of its own
        after = create_run(led.engine, led.settings.coverage, led.catalog)["run_id"]
        found = effects(led, villages, before, int(after))
    with acting(led.engine, who, code) as conn:
        p, checks, measured, _ = check(conn)  # again, under the lock: what holds when it is written
        facts = {"measured": measured, **(verified or {})}
        payload = {"kind": kind, "on": day, "team": members, "result": result, "verified": facts, "effects": found}
        event = record(conn, who, "acceptance", code, payload, checks, entity="acceptance")
        aid = conn.execute(
            text(
                "INSERT INTO ledger_acceptances (project_code, kind, accepted_on, team, verified, result, rectify_by, effects, "
                "run_before, run_after, event_id) VALUES (:c, :k, :d, :t, CAST(:v AS jsonb), :r, :rb, CAST(:ef AS jsonb), "
                ":b, :a, :e) RETURNING id"
            ),
            {
                "c": code,
                "k": kind,
                "d": day,
                "t": members,
                "v": dumps(facts),
                "r": result,
                "rb": deadline,
                "ef": dumps(found),
                "b": found.get("run_before"),
                "a": found.get("run_after"),
                "e": event,
            },
        ).scalar_one()
        if result == "pass" and kind in ("completion", "final") and p.status == "implementing":
            set_status(conn, code, "accepted", day, event)
    return int(aid)


def acceptance_date(p: Project) -> date | None:
    """The date of the project's passed acceptance, if any."""
    passed = p.passed_acceptance()
    return passed["accepted_on"] if passed else None
