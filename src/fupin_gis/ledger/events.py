"""The ledger's event log: one append-only row per change (actor, time, reason, what, the checks
applied and the rules' version), with its audit-log row in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import Principal, audit
from fupin_gis.ledger.checks import Checks
from fupin_gis.ledger.sqlutil import dumps


def record(
    conn: Connection,
    who: Principal,
    action: str,
    project: str | None,
    payload: dict[str, Any],
    checks: Checks | None = None,
    reason: str | None = None,
    entity: str | None = None,
    reverses: int | None = None,
) -> int:
    """Append one event and its audit row; returns the event's id (the fact rows point at it)."""
    event = conn.execute(
        text(
            "INSERT INTO ledger_events (actor, role, action, project_code, entity, reason, payload, rules_version, "
            "checks, reverses) VALUES (:a, :r, :x, :p, :e, :why, CAST(:d AS jsonb), :v, CAST(:c AS jsonb), :rev) "
            "RETURNING id"
        ),
        {
            "a": who.username,
            "r": who.role,
            "x": action,
            "p": project,
            "e": entity,
            "why": reason,
            "d": dumps(payload),
            "v": checks.rules.version if checks else None,
            "c": dumps(checks.records if checks else []),
            "rev": reverses,
        },
    ).scalar_one()
    audit(conn, who.username, f"ledger_{action}", {"event": int(event), "project": project, "reason": reason})
    return int(event)


def events(conn: Connection, project: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The newest events (of one project), newest first."""
    rows = conn.execute(
        text(
            "SELECT id, at, actor, role, action, project_code, entity, reason, payload, rules_version, checks, reverses "
            "FROM ledger_events WHERE (CAST(:p AS text) IS NULL OR project_code = :p) ORDER BY id DESC LIMIT :n"
        ),
        {"p": project, "n": limit},
    ).mappings()
    return [dict(r) for r in rows]


def count(conn: Connection) -> int:
    """How many events the log holds (tests: a refusal leaves it unchanged)."""
    return int(conn.execute(text("SELECT count(*) FROM ledger_events")).scalar_one())
