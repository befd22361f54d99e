"""Pruning coverage snapshots: ``fupin-gis coverage prune --keep N`` and the retention setting.

A snapshot is kept when it is one of the newest ``keep`` runs, when a report was exported from it
(the audit log's ``export`` rows name their run: the figures someone took away stay traceable),
or when any other table points at it with a foreign key. Its village and household rows go with
it (``ON DELETE CASCADE``). Each prune writes its audit row in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql
from sqlalchemy import Connection, Engine, text

from fupin_gis.auth.accounts import audit
from fupin_gis.errors import InvalidInput

PARTS = ("coverage_villages", "coverage_households")  # a run's own rows: deleted with it


@dataclass(frozen=True)
class Pruned:
    """What a prune did: the runs deleted, and the older runs kept because something names them."""

    deleted: list[int]
    referenced: list[int]


def referenced_runs(conn: Connection) -> set[int]:
    """Runs that exported reports name (audit log) or that another table's foreign key points at."""
    runs = set(
        conn.execute(
            text(
                "SELECT DISTINCT (detail->>'run')::bigint FROM audit_log "
                "WHERE action = 'export' AND detail->>'run' ~ '^[0-9]{1,18}$'"
            )
        ).scalars()
    )
    pointers = conn.execute(
        text(
            "SELECT n.nspname AS schema, t.relname AS tbl, a.attname AS col FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "WHERE c.contype = 'f' AND c.confrelid = 'coverage_runs'::regclass AND NOT t.relname = ANY(:p)"
        ),
        {"p": list(PARTS)},
    ).all()
    raw = conn.connection.driver_connection
    assert raw is not None
    for p in pointers:
        query = sql.SQL("SELECT DISTINCT {col} FROM {tbl} WHERE {col} IS NOT NULL").format(
            col=sql.Identifier(p.col), tbl=sql.Identifier(p.schema, p.tbl)
        )
        runs.update(conn.exec_driver_sql(query.as_string(raw)).scalars())
    return runs


def prune_in(conn: Connection, keep: int, username: str = "system") -> Pruned:
    """Delete the runs beyond the newest ``keep`` that nothing references, in the caller's transaction."""
    if keep < 1:
        raise InvalidInput(
            f"--keep 至少为 1（保留最新的运行）：{keep}",
            f"--keep must be at least 1 (the newest run is kept): {keep}",
            field="keep",
            value=keep,
        )
    older = conn.execute(text("SELECT id FROM coverage_runs ORDER BY id DESC OFFSET :k"), {"k": keep}).scalars().all()
    named = referenced_runs(conn) if older else set()
    deleted = sorted(r for r in older if r not in named)
    referenced = sorted(r for r in older if r in named)
    if deleted:
        conn.execute(text("DELETE FROM coverage_runs WHERE id = ANY(:d)"), {"d": deleted})
    audit(conn, username, "coverage_prune", {"keep": keep, "deleted": deleted, "referenced": referenced})
    return Pruned(deleted, referenced)


def prune_runs(engine: Engine, keep: int, username: str = "system") -> Pruned:
    """Delete the runs beyond the newest ``keep`` that nothing references, in one transaction."""
    with engine.begin() as conn:
        return prune_in(conn, keep, username)
