"""Users, API tokens, sessions and the audit log.

Roles: ``viewer`` reads; ``planner`` reads, sees personal data and runs coverage; ``engineer``
reads and imports or rolls back inside the scope; ``finance`` approves payments and ``auditor``
reads the project ledger and records audit findings (the ledger's separation of duties); ``admin``
may do everything. A scope is a list
of county (6-digit) or township (9-digit) codes, or ``*``. Passwords are hashed with Argon2id and
their checks throttled (``throttle``); tokens and session ids are stored as SHA-256 digests only.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, text

from fupin_gis.auth import throttle
from fupin_gis.auth.scope import scope_codes, within
from fupin_gis.db.security import PERSONAL_ROLES
from fupin_gis.errors import InvalidInput, NotFound, TooManyAttempts
from fupin_gis.settings import AuthSettings

ROLES = ("viewer", "planner", "engineer", "admin", "finance", "auditor")
WRITERS = ("engineer", "admin")
RUNNERS = ("planner", "admin")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is asking: an account, or the system (command line, no accounts required)."""

    username: str
    role: str
    scope: str  # "*" or comma-separated codes
    csrf: str | None = None  # set for cookie sessions: unsafe requests must echo it

    @property
    def personal(self) -> bool:
        """May see personal data (households)."""
        return self.role in PERSONAL_ROLES

    @property
    def unrestricted(self) -> bool:
        """Sees every feature (and personal data): draws from shared overviews."""
        return self.scope == "*" and self.personal

    @property
    def tile_key(self) -> str:
        """What a cached tile depends on besides its address: the scope, and personal data or not."""
        return "" if self.unrestricted else f"{self.scope}|{int(self.personal)}"

    def scoped(self, engine: Engine, rls: bool = True) -> Engine:
        """``engine`` whose transactions carry this principal's scope (and, for reads, run under row-level security)."""
        return engine.execution_options(fupin_scope=self.scope, fupin_role=self.role, fupin_rls=rls)


SYSTEM = Principal("system", "admin", "*")


def check_scope(scope: str) -> str:
    """``*`` or comma-separated 6- or 9-digit codes."""
    scope = scope.replace(" ", "")
    if scope != "*" and not re.fullmatch(r"(\d{6}|\d{9})(,(\d{6}|\d{9}))*", scope):
        raise InvalidInput(
            f"范围 “{scope}” 无效：应为 * 或逗号分隔的6位县代码、9位乡镇代码",
            f"Invalid scope '{scope}': * or comma-separated 6-digit county / 9-digit township codes",
            field="scope",
            value=scope,
        )
    return scope


def add_user(engine: Engine, username: str, password: str, role: str, scope: str) -> int:
    """Create an account; InvalidInput for a bad role, scope, name or short password."""
    if role not in ROLES:
        raise InvalidInput(
            f"角色 “{role}” 无效：{', '.join(ROLES)}", f"Invalid role '{role}': {', '.join(ROLES)}", field="role"
        )
    if not re.fullmatch(r"[\w.@-]{2,64}", username):
        raise InvalidInput("用户名无效", "Invalid username: 2–64 letters, digits, . @ - _", field="username")
    if len(password) < 8:
        raise InvalidInput("密码至少8位", "Password too short: at least 8 characters", field="password")
    scope = check_scope(scope)
    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first():
            raise InvalidInput(f"用户 {username} 已存在", f"User {username} exists", field="username")
        uid = conn.execute(
            text("INSERT INTO users (username, password_hash, role, scope) VALUES (:u, :h, :r, :s) RETURNING id"),
            {"u": username, "h": _hasher.hash(password), "r": role, "s": scope},
        ).scalar_one()
        audit(conn, "system", "user_add", {"user": username, "role": role, "scope": scope})
    return int(uid)


def authors_within(engine: Engine, scope: str) -> list[str] | None:
    """The accounts whose scope lies inside ``scope`` (``auth.scope.within``): the authors of the
    batches a scoped account sees; None for ``*`` (every batch, the command line's included)."""
    if not scope_codes(scope):
        return None
    with engine.connect() as conn:
        users = conn.execute(text("SELECT username, scope FROM users")).all()
    return [u.username for u in users if within(u.scope, scope)]


def list_users(engine: Engine) -> list[dict[str, Any]]:
    """Every account (no secrets)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT username, role, scope, disabled, created_at FROM users ORDER BY username"))
        return [dict(r._mapping) for r in rows]


def disable_user(engine: Engine, username: str) -> None:
    """Disable an account and end its sessions and tokens."""
    with engine.begin() as conn:
        uid = conn.execute(
            text("UPDATE users SET disabled = true WHERE username = :u RETURNING id"), {"u": username}
        ).scalar()
        if uid is None:
            raise NotFound(f"没有用户 {username}", f"No user {username}", user=username)
        conn.execute(text("DELETE FROM sessions WHERE user_id = :i"), {"i": uid})
        conn.execute(text("DELETE FROM api_tokens WHERE user_id = :i"), {"i": uid})
        audit(conn, "system", "user_disable", {"user": username})


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(engine: Engine, username: str) -> str:
    """A new API token for ``username`` (shown once; only its digest is kept)."""
    token = "fg_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        uid = conn.execute(text("SELECT id FROM users WHERE username = :u AND NOT disabled"), {"u": username}).scalar()
        if uid is None:
            raise NotFound(f"没有可用的用户 {username}", f"No active user {username}", user=username)
        conn.execute(
            text("INSERT INTO api_tokens (user_id, token_sha256) VALUES (:i, :t)"), {"i": uid, "t": _digest(token)}
        )
        audit(conn, "system", "token_add", {"user": username})
    return token


def _principal(row: Any, csrf: str | None = None) -> Principal:
    return Principal(row.username, row.role, row.scope, csrf)


def by_token(engine: Engine, token: str) -> Principal | None:
    """The account of an API token, if any and active."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT u.username, u.role, u.scope FROM api_tokens t JOIN users u ON u.id = t.user_id "
                "WHERE t.token_sha256 = :t AND NOT u.disabled"
            ),
            {"t": _digest(token)},
        ).first()
    return None if row is None else _principal(row)


def by_session(engine: Engine, session: str) -> Principal | None:
    """The account of a session cookie, if any, unexpired and active."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT u.username, u.role, u.scope, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.token_sha256 = :t AND s.expires_at > now() AND NOT u.disabled"
            ),
            {"t": _digest(session)},
        ).first()
    return None if row is None else _principal(row, row.csrf)


@cache
def _dummy_hash() -> str:
    """An Argon2id hash of a random secret, made with the live hasher's parameters: unknown names
    are checked against it, so they cost the same work as known ones."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _verify(stored: str, password: str) -> bool:
    """True when ``password`` matches the Argon2 hash ``stored``."""
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def login(
    engine: Engine, username: str, password: str, policy: AuthSettings, address: str | None = None
) -> tuple[str, str] | None:
    """Check the password; a new session (id, csrf token) or None. Every outcome is audited.

    Throttled per account and per client ``address`` (:mod:`fupin_gis.auth.throttle`): while a key
    must wait, no password is checked and :class:`TooManyAttempts` is raised. An unknown or
    disabled name is checked against a dummy hash and counted like a known one.
    """
    dummy = _dummy_hash()  # made before the first check, known name or not
    attempt = throttle.keys(username, address)
    with engine.begin() as conn:
        throttle.hold(conn, attempt)
        block = throttle.blocked(conn, attempt, policy)
        if block is not None:
            audit(
                conn,
                username,
                "login_throttled",
                {"address": address, "retry_after": block.retry_after, "locked": block.locked},
            )
        else:
            row = conn.execute(
                text("SELECT id, password_hash FROM users WHERE username = :u AND NOT disabled"), {"u": username}
            ).first()
            if row is None:
                _verify(dummy, password)  # the same work as for a known name; never a match
                ok = False
            else:
                ok = _verify(row.password_hash, password)
            if not ok or row is None:
                audit(conn, username, "login_failed", {"address": address, "known": row is not None})
                for lock in throttle.fail(conn, attempt, policy):
                    audit(
                        conn,
                        username,
                        "login_locked",
                        {"key": lock.key, "failures": lock.failures, "minutes": lock.minutes},
                    )
                return None
            throttle.succeed(conn, username)
            audit(conn, username, "login", {"address": address})
            session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
            conn.execute(
                text("INSERT INTO sessions (token_sha256, user_id, csrf, expires_at) VALUES (:t, :i, :c, :e)"),
                {
                    "t": _digest(session),
                    "i": row.id,
                    "c": csrf,
                    "e": datetime.now(UTC) + timedelta(hours=policy.session_hours),
                },
            )
            return session, csrf
    zh, en = throttle.wait_text(block.retry_after)
    raise TooManyAttempts(
        f"登录失败次数过多{'，已临时锁定' if block.locked else ''}：请 {zh} 后再试",
        f"Too many failed sign-ins{', locked for a while' if block.locked else ''}: try again in {en}",
        retry_after=block.retry_after,
    )


def logout(engine: Engine, session: str) -> None:
    """End a session."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM sessions WHERE token_sha256 = :t"), {"t": _digest(session)})


def audit(conn: Connection, username: str | None, action: str, detail: dict[str, Any]) -> None:
    """Append to the audit log (in the caller's transaction)."""
    conn.execute(
        text("INSERT INTO audit_log (username, action, detail) VALUES (:u, :a, CAST(:d AS jsonb))"),
        {"u": username, "a": action, "d": json.dumps(detail, ensure_ascii=False, default=str)},
    )


def record(engine: Engine, principal: Principal, action: str, detail: dict[str, Any]) -> None:
    """Append to the audit log in a transaction of its own."""
    with engine.begin() as conn:
        audit(conn, principal.username, action, detail)
