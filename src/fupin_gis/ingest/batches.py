"""Batches: the lock on one file, the write check, list batches, roll one back exactly."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, Engine, text

from fupin_gis.auth.accounts import audit
from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.db.security import predicate
from fupin_gis.db.sql import ident
from fupin_gis.errors import BatchConflict, Forbidden, NotFound
from fupin_gis.tiles.cache import invalidate_batch


def lock_file(conn: Connection, layer: str, sha256: str) -> None:
    """Hold a transaction advisory lock on (layer, file digest) until the caller's transaction ends.

    Taken before :func:`identical`, so concurrent imports of one file into one layer run one after
    the other: the later ones find the first's committed batch and are refused as duplicates.
    """
    digest = hashlib.sha256(f"fupin-import:{layer}:{sha256}".encode()).digest()
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest[:8], "big", signed=True)})


def identical(conn: Connection, layer: str, sha256: str) -> list[int]:
    """Committed batches of ``layer`` made from a file with this SHA-256."""
    rows = conn.execute(
        text("SELECT id FROM batches WHERE layer = :l AND sha256 = :h AND status = 'committed' ORDER BY id"),
        {"l": layer, "h": sha256},
    )
    return [r.id for r in rows]


def _batch(conn: Connection, batch: int) -> Any:
    row = conn.execute(text("SELECT id, layer, source, status FROM batches WHERE id = :b"), {"b": batch}).one_or_none()
    if row is None:
        raise NotFound(f"没有批次 {batch}", f"No batch {batch}", batch=batch)
    return row


# A feature carrying a village code may lie this far outside that village's polygon (surveys
# straddle boundaries, a road runs on to the next village); beyond it a scoped write is refused.
VILLAGE_TOLERANCE_M = 200.0


def check_write(conn: Connection, spec: LayerSpec, batch: int | None, scope: str | None, placed: bool = True) -> None:
    """Refuse (and so roll back) a batch its author may not write; call it on every write path.

    The transaction carries the author's role and scope (``Principal.scoped``; nothing for the
    command line, which writes as the system). Three rules, so an account cannot widen its own
    scope from inside: the administrative units (whose polygons and codes define every scope) are
    written by admins only; every feature written or replaced must pass the layer's row-level
    predicate for the scope; a feature carrying a village code must lie in or near that village
    (``placed``: not asked of a rollback, which only takes away what a checked write put there).
    """
    role = conn.execute(text("SELECT coalesce(current_setting('fupin.role', true), '')")).scalar_one()
    if spec.group == "admin" and role not in ("", "admin"):
        raise Forbidden(
            f"行政区划图层（{spec.label}）的边界和代码决定各账号的范围，只有管理员可以修改",
            f"Administrative units ({spec.name}) define every account's scope: only admins may change them",
            layer=spec.name,
            role=role,
        )
    if scope in (None, "*"):
        return
    cond, table = predicate(spec, "t"), ident(spec.name)
    outside = conn.execute(
        text(
            f"SELECT (SELECT count(*) FROM {table} t WHERE t.batch_id = :b AND NOT ({cond})) + "
            f"(SELECT count(*) FROM feature_history h, LATERAL jsonb_populate_record(NULL::{table}, h.old) t "
            f"WHERE h.batch_id = :b AND NOT ({cond}))"
        ),
        {"b": batch},
    ).scalar_one()
    if outside:
        raise Forbidden(
            f"{outside} 个要素不在您的范围（{scope}）内，未导入",
            f"{outside} features lie outside your scope ({scope}): nothing imported",
            scope=scope,
            outside=int(outside),
        )
    if not placed or "village_code" not in spec.field_names or spec.group == "admin":
        return
    strays = conn.execute(
        text(
            f"SELECT t.id, t.village_code FROM {table} t JOIN villages v ON v.code = t.village_code "
            "WHERE t.batch_id = :b AND NOT ST_DWithin(v.geom::geography, t.geom::geography, :tol) "
            "ORDER BY t.id LIMIT 5"
        ),
        {"b": batch, "tol": VILLAGE_TOLERANCE_M},
    ).all()
    if strays:
        codes = ", ".join(sorted({r.village_code for r in strays}))
        raise Forbidden(
            f"要素的村代码（{codes}）与其位置不符：距该村边界超过 {VILLAGE_TOLERANCE_M:g} 米，未导入",
            f"features carry village codes ({codes}) but lie more than {VILLAGE_TOLERANCE_M:g} m "
            "outside that village: nothing written",
            scope=scope,
            features=[int(r.id) for r in strays],
        )


def rollback_in(
    conn: Connection, catalog: Catalog, batch: int, scope: str | None = None, *, username: str | None = None
) -> dict[str, int]:
    """Inside an open transaction: remove what ``batch`` added and restore what it replaced.

    With ``username``, the rollback's audit row is written in the same transaction (a caller that
    rolls back several batches as one action, such as an OGC API undo, may write one row itself).
    """
    row = _batch(conn, batch)
    if row.status != "committed":
        raise BatchConflict(f"批次 {batch} 已回滚", f"batch {batch} is already rolled back", batch=batch)
    spec = catalog.layer(row.layer)
    later = (
        conn.execute(
            text(
                "SELECT DISTINCT h.batch_id FROM feature_history h JOIN batches c ON c.id = h.batch_id "
                "WHERE c.status = 'committed' AND h.layer = :l AND h.batch_id > :b AND (h.old->>'batch_id')::bigint = :b"
            ),
            {"l": spec.name, "b": batch},
        )
        .scalars()
        .all()
    )
    if later:
        raise BatchConflict(
            f"批次 {batch} 的要素已被之后的批次 {later} 修改，请先回滚那些批次",
            f"features of batch {batch} were changed by later batches {later}: roll those back first",
            batch=batch,
            later=list(later),
        )
    check_write(conn, spec, batch, scope, placed=False)
    invalidate_batch(conn, spec, batch)
    table = ident(spec.name)
    deleted = conn.execute(text(f"DELETE FROM {table} WHERE batch_id = :b"), {"b": batch}).rowcount
    restored = conn.execute(
        text(
            f"INSERT INTO {table} SELECT (jsonb_populate_record(NULL::{table}, h.old)).* "
            "FROM feature_history h WHERE h.batch_id = :b"
        ),
        {"b": batch},
    ).rowcount
    conn.execute(text("UPDATE batches SET status = 'rolled_back', rolled_back_at = now() WHERE id = :b"), {"b": batch})
    result = {"removed": deleted - restored, "restored": restored}
    if username is not None:
        audit(conn, username, "rollback", {"batch": batch, "layer": spec.name, **result})
    return result


def rollback(
    engine: Engine, catalog: Catalog, batch: int, scope: str | None = None, username: str = "system"
) -> dict[str, int]:
    """Roll back ``batch`` in a transaction of its own (only if all its features lie in ``scope``),
    with its audit row by ``username``: the command line and the API leave the same trail."""
    with engine.begin() as conn:
        return rollback_in(conn, catalog, batch, scope, username=username)


BATCH_COLUMNS = "id, layer, source, sha256, username, created_at, counts, status, rolled_back_at"


def list_batches(engine: Engine, limit: int = 200, authors: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The newest batches first; only those written by ``authors`` if given (what a scoped account
    sees: ``auth.accounts.authors_within``)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT {BATCH_COLUMNS} FROM batches "
                "WHERE CAST(:all AS boolean) OR username = ANY(:authors) ORDER BY id DESC LIMIT :n"
            ),
            {"n": limit, "all": authors is None, "authors": list(authors or [])},
        ).mappings()
        return [dict(r) for r in rows]


def get_batch(engine: Engine, batch: int, authors: Collection[str] | None = None) -> dict[str, Any]:
    """One batch with its stored report (NotFound too if ``authors`` is given and did not write it)."""
    with engine.connect() as conn:
        row = (
            conn.execute(text(f"SELECT {BATCH_COLUMNS}, report FROM batches WHERE id = :b"), {"b": batch})
            .mappings()
            .one_or_none()
        )
    if row is None or (authors is not None and row["username"] not in authors):
        raise NotFound(f"没有批次 {batch}", f"No batch {batch}", batch=batch)
    return dict(row)
