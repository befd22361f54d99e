"""The ledger's SQL plumbing: identifiers quoted by the project's one helper
(:func:`fupin_gis.db.sql.ident`, re-exported here), the transaction an action runs in (the actor's
scope and name set, the project locked), and JSON for ``jsonb`` values."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.catalog import Catalog
from fupin_gis.db.sql import ident

__all__ = ["acting", "dumps", "ident", "layer_table", "lock_project"]


def layer_table(catalog: Catalog, layer: str) -> str:
    """The quoted table of a catalog layer (KeyError-free: the layer is checked by the caller)."""
    return ident(catalog.layer(layer).name)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(value: Any) -> str:
    """JSON text of ``value`` (Decimal as text, so money keeps every fen; dates ISO)."""
    return json.dumps(value, ensure_ascii=False, default=_default, sort_keys=True)


def lock_project(conn: Connection, code: str) -> None:
    """Serialise the actions on one project until the transaction ends (a transaction advisory lock)."""
    digest = hashlib.sha256(f"fupin-ledger:{code}".encode()).digest()
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest[:8], "big", signed=True)})


_CURRENT: ContextVar[Connection | None] = ContextVar("fupin_ledger_transaction", default=None)


@contextmanager
def acting(engine: Engine, who: Principal, project: str | None = None) -> Iterator[Connection]:
    """A transaction for ``who``: its scope and role (``Principal.scoped``, writes as the owner),
    its name in ``fupin.user`` (the database's separation-of-duties trigger reads it), and the
    project, if any, locked. A refusal raised inside leaves nothing written.

    Inside another ``acting`` block (an import of many projects, all or nothing) the actions join
    the outer transaction: the outer block decides whether anything is written.
    """
    outer = _CURRENT.get()
    if outer is not None:
        if project is not None:
            lock_project(outer, project)  # advisory locks are re-entrant within a session
        yield outer
        return
    with who.scoped(engine, rls=False).begin() as conn:
        conn.execute(text("SELECT set_config('fupin.user', :u, true)"), {"u": who.username})
        token = _CURRENT.set(conn)
        try:
            if project is not None:
                lock_project(conn, project)
            yield conn
        finally:
            _CURRENT.reset(token)
