"""Sign-in throttling: wrong passwords counted per account and per client address, in the database.

A key (``user:<name>`` or ``addr:<client address>``) that gave ``free`` wrong passwords in a row
must wait before its next try: ``login_backoff_s``, doubling with each further failure, at most
``login_backoff_max_s``; at ``lock`` failures it is locked for ``login_lock_minutes``. While a key
waits no password is checked at all. Failures older than the lock time are forgotten.

The counters live in the table ``login_throttle`` so that every server process agrees, and each
attempt holds a transaction advisory lock on its keys, so parallel guesses are counted one after
the other instead of all passing the same check. Unknown user names are counted exactly like
known ones: a lock never tells which names exist. (Rate-limit libraries such as ``limits`` keep
their counters in memory or Redis; the database is what every process here already shares.)
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import Connection, text

from fupin_gis.settings import AuthSettings

ACCOUNT = "user:"
ADDRESS = "addr:"


@dataclass(frozen=True)
class Block:
    """A key that may not try now: for how many seconds more, and whether it is a lock."""

    key: str
    retry_after: int
    locked: bool


@dataclass(frozen=True)
class Lock:
    """A lock that a failure has just started."""

    key: str
    failures: int
    minutes: float


def keys(username: str, address: str | None) -> list[str]:
    """The throttle keys of an attempt: the account name, and the client address when known."""
    return [ACCOUNT + username] + ([ADDRESS + address] if address else [])


def _limits(key: str, policy: AuthSettings) -> tuple[int, int]:
    if key.startswith(ADDRESS):
        return policy.login_address_free_failures, policy.login_address_lock_failures
    return policy.login_free_failures, policy.login_lock_failures


def _lock_id(key: str) -> int:
    digest = hashlib.sha256(b"fupin-login:" + key.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def hold(conn: Connection, attempt: list[str]) -> None:
    """Serialise attempts on the same keys until the caller's transaction ends (sorted: no deadlock)."""
    for key in sorted(attempt):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_id(key)})


def blocked(conn: Connection, attempt: list[str], policy: AuthSettings) -> Block | None:
    """The longest wait among ``attempt``'s keys, or None when a password may be checked now."""
    rows = conn.execute(
        text(
            "SELECT key, failures, extract(epoch FROM blocked_until - now()) AS wait FROM login_throttle "
            "WHERE key = ANY(:k) AND blocked_until > now()"
        ),
        {"k": attempt},
    ).all()
    if not rows:
        return None
    row = max(rows, key=lambda r: r.wait)
    return Block(row.key, max(1, math.ceil(row.wait)), row.failures >= _limits(row.key, policy)[1])


def fail(conn: Connection, attempt: list[str], policy: AuthSettings) -> list[Lock]:
    """Count a wrong password against every key; set their waits; the locks this failure started."""
    forget = policy.login_lock_minutes * 60
    conn.execute(
        text(
            "DELETE FROM login_throttle WHERE last_failure_at < now() - make_interval(secs => :f) "
            "AND (blocked_until IS NULL OR blocked_until <= now()) AND NOT key = ANY(:k)"
        ),
        {"f": forget, "k": attempt},
    )
    locks = []
    for key in attempt:
        failures = conn.execute(
            text(
                "INSERT INTO login_throttle AS t (key, failures, last_failure_at) VALUES (:k, 1, now()) "
                "ON CONFLICT (key) DO UPDATE SET last_failure_at = now(), failures = CASE "
                "WHEN t.last_failure_at < now() - make_interval(secs => :f) "
                "AND (t.blocked_until IS NULL OR t.blocked_until <= now()) THEN 1 ELSE t.failures + 1 END "
                "RETURNING failures"
            ),
            {"k": key, "f": forget},
        ).scalar_one()
        free, lock = _limits(key, policy)
        if failures >= lock:
            wait = forget  # a failure is only counted while unblocked: each one here starts a lock
            locks.append(Lock(key, failures, policy.login_lock_minutes))
        elif failures >= free:
            wait = min(policy.login_backoff_s * 2 ** (failures - free), policy.login_backoff_max_s)
        else:
            continue
        conn.execute(
            text("UPDATE login_throttle SET blocked_until = now() + make_interval(secs => :w) WHERE key = :k"),
            {"k": key, "w": wait},
        )
    return locks


def succeed(conn: Connection, username: str) -> None:
    """A right password ends the account's run of failures.

    The address keeps its count: one valid account must not let a client clear the failures it
    spread over other accounts.
    """
    conn.execute(text("DELETE FROM login_throttle WHERE key = :k"), {"k": ACCOUNT + username})


def wait_text(seconds: int) -> tuple[str, str]:
    """A wait in words: (Chinese, English)."""
    if seconds < 120:
        return f"{seconds} 秒", f"{seconds} s"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} 分钟", f"{minutes} min"
