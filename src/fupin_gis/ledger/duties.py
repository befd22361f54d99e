"""Who may do what in the ledger (separation of duties on top of the roles and scopes): planners
manage the library, notices, acceptance and hand-over; engineers report progress; the configured
requesters ask for payments and each approval step has its roles (finance approves the money);
auditors record findings; a payment's requester never approves it (also a database trigger)."""

from __future__ import annotations

from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.catalog import LayerSpec
from fupin_gis.db.security import predicate
from fupin_gis.errors import Forbidden
from fupin_gis.ledger.sqlutil import ident

LIBRARY = ("planner", "admin")
PROGRESS = ("engineer", "planner", "admin")
FINDINGS = ("auditor", "admin")
READERS = ("viewer", "planner", "engineer", "admin", "finance", "auditor")

ACTION_LABELS = {
    "library": ("管理项目库", "manage the project library"),
    "progress": ("报告进度", "report progress"),
    "request": ("申请报账", "request a payment"),
    "approve": ("审批支付", "approve a payment"),
    "finding": ("登记审计问题", "record an audit finding"),
}


def require(who: Principal, roles: tuple[str, ...] | list[str], action: str) -> None:
    """Refuse ``who`` unless its role is one of ``roles`` (Forbidden, naming the roles)."""
    if who.role in roles:
        return
    zh, en = ACTION_LABELS.get(action, (action, action))
    raise Forbidden(
        f"角色 {who.role} 无权{zh}（需要 {', '.join(roles)}）",
        f"Role {who.role} may not {en} (needs {', '.join(roles)})",
        role=who.role,
        action=action,
    )


def require_area(conn: Connection, who: Principal, township: str | None, villages: list[str]) -> None:
    """Refuse a write on a project whose township and villages lie outside ``who``'s scope (the
    same predicate the read policies use)."""
    ok = conn.execute(
        text("SELECT ledger_sees_area(:t, CAST(:v AS text[]))"), {"t": township, "v": villages}
    ).scalar_one()
    if not ok:
        raise Forbidden(
            f"项目所在地（{township or '—'}）不在您的范围（{who.scope}）内",
            f"the project's place ({township or '—'}) lies outside your scope ({who.scope})",
            scope=who.scope,
        )


def require_features(conn: Connection, who: Principal, spec: LayerSpec, ids: list[int]) -> None:
    """Refuse linking features that lie outside ``who``'s scope (the layer's row predicate)."""
    outside = conn.execute(
        text(f"SELECT count(*) FROM {ident(spec.name)} t WHERE t.id = ANY(:ids) AND NOT ({predicate(spec, 't')})"),
        {"ids": ids},
    ).scalar_one()
    if outside:
        raise Forbidden(
            f"{outside} 个要素不在您的范围（{who.scope}）内", f"{outside} features lie outside your scope ({who.scope})"
        )
