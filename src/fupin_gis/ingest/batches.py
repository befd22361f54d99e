"""Batches: promote a validated staging table, list batches, roll one back exactly."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, Engine, text

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.db.security import predicate
from fupin_gis.errors import BatchConflict, Forbidden, NotFound
from fupin_gis.ingest.report import ImportReport
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
    return [r[0] for r in rows]


def open_batch(conn: Connection, spec: LayerSpec, report: ImportReport, username: str | None) -> int:
    """Insert the batch row at the start of an import (the transaction undoes it on failure)."""
    batch = conn.execute(
        text("INSERT INTO batches (layer, source, sha256, username) VALUES (:l, :s, :h, :u) RETURNING id"),
        {"l": spec.name, "s": report.file, "h": report.sha256, "u": username},
    ).scalar_one()
    report.batch = batch
    return int(batch)


def promote(
    conn: Connection,
    spec: LayerSpec,
    report: ImportReport,
    username: str | None,
    seat_mode: bool,
    batch: int | None,
    direct: int,
    supplied: list[str],
) -> None:
    """Finish the batch: upsert the staged rows (history kept), count, store the report.

    ``direct`` rows were already copied into the layer; only staged rows remain to promote.
    ``supplied`` are the fields the file carries (mapped or set): an upsert changes only those.
    """
    if batch is None:
        batch = open_batch(conn, spec, report, username)
    key = spec.key
    if key is not None:
        # Keep what the upsert will replace, and count the changes field by field.
        conn.execute(
            text(
                f"INSERT INTO feature_history (batch_id, layer, feature_id, old) "
                f"SELECT :b, :l, t.id, to_jsonb(t) FROM {spec.name} t JOIN _stage s ON s.{key} = t.{key}"
            ),
            {"b": batch, "l": spec.name},
        )
        compare = [spec.seat.name] if seat_mode and spec.seat else ["geom", *supplied]
        counts = ", ".join(
            f"count(*) FILTER (WHERE NOT ST_Equals(t.{c}, s.{c}) OR (t.{c} IS NULL) <> (s.{c} IS NULL))"
            if c in ("geom", spec.seat.name if spec.seat else "")
            else f"count(*) FILTER (WHERE t.{c} IS DISTINCT FROM s.{c})"
            for c in compare
        )
        row = conn.execute(text(f"SELECT {counts} FROM {spec.name} t JOIN _stage s ON s.{key} = t.{key}")).one()
        labels = (
            {f.name: f.label for f in spec.fields}
            | {"geom": "几何/geometry"}
            | ({spec.seat.name: spec.seat.label} if spec.seat else {})
        )
        report.changes = {labels[c]: int(n) for c, n in zip(compare, row, strict=True) if n}
    if seat_mode:
        assert spec.seat is not None and key is not None
        result = conn.execute(
            text(
                f"UPDATE {spec.name} t SET {spec.seat.name} = s.{spec.seat.name}, batch_id = :b, updated_at = now() "
                f"FROM _stage s WHERE s.{key} = t.{key}"
            ),
            {"b": batch},
        )
        report.updated = result.rowcount
    else:
        cols = ["geom", *spec.field_names, "extra"]
        names = ", ".join(cols)
        select = f"SELECT {names}, :b FROM _stage ORDER BY _file, _feature"
        if key is not None:
            # Only what the file supplies is updated: a survey of codes and statuses keeps the names.
            kept = ["geom", *supplied]
            updates = (
                ", ".join(f"{c} = EXCLUDED.{c}" for c in kept)
                + f", extra = {spec.name}.extra || EXCLUDED.extra, batch_id = EXCLUDED.batch_id, updated_at = now()"
            )
            sql = f"INSERT INTO {spec.name} ({names}, batch_id) {select} ON CONFLICT ({key}) DO UPDATE SET {updates} RETURNING (xmax = 0) AS inserted"
            flags = [r[0] for r in conn.execute(text(sql), {"b": batch})]
            report.inserted = sum(flags) + direct
            report.updated = len(flags) - sum(flags)
        else:
            result = conn.execute(text(f"INSERT INTO {spec.name} ({names}, batch_id) {select}"), {"b": batch})
            report.inserted = result.rowcount + direct
    report.features_written = report.inserted + report.updated
    invalidate_batch(conn, spec, batch)
    conn.execute(
        text("UPDATE batches SET counts = CAST(:c AS jsonb), report = CAST(:r AS jsonb) WHERE id = :b"),
        {
            "b": batch,
            "c": json.dumps(
                {
                    "read": report.features_read,
                    "inserted": report.inserted,
                    "updated": report.updated,
                    "changes": report.changes,
                },
                ensure_ascii=False,
            ),
            "r": json.dumps(report.to_dict(), ensure_ascii=False, default=str),
        },
    )


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
    cond = predicate(spec, "t")
    outside = conn.execute(
        text(
            f"SELECT (SELECT count(*) FROM {spec.name} t WHERE t.batch_id = :b AND NOT ({cond})) + "
            f"(SELECT count(*) FROM feature_history h, LATERAL jsonb_populate_record(NULL::{spec.name}, h.old) t "
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
            f"SELECT t.id, t.village_code FROM {spec.name} t JOIN villages v ON v.code = t.village_code "
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


def rollback_in(conn: Connection, catalog: Catalog, batch: int, scope: str | None = None) -> dict[str, int]:
    """Inside an open transaction: remove what ``batch`` added and restore what it replaced."""
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
    deleted = conn.execute(text(f"DELETE FROM {spec.name} WHERE batch_id = :b"), {"b": batch}).rowcount
    restored = conn.execute(
        text(
            f"INSERT INTO {spec.name} SELECT (jsonb_populate_record(NULL::{spec.name}, h.old)).* "
            "FROM feature_history h WHERE h.batch_id = :b"
        ),
        {"b": batch},
    ).rowcount
    conn.execute(text("UPDATE batches SET status = 'rolled_back', rolled_back_at = now() WHERE id = :b"), {"b": batch})
    return {"removed": deleted - restored, "restored": restored}


def rollback(engine: Engine, catalog: Catalog, batch: int, scope: str | None = None) -> dict[str, int]:
    """Roll back ``batch`` in a transaction of its own (only if all its features lie in ``scope``)."""
    with engine.begin() as conn:
        return rollback_in(conn, catalog, batch, scope)


def list_batches(engine: Engine, limit: int = 200) -> list[dict[str, Any]]:
    """The newest batches first."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, layer, source, sha256, username, created_at, counts, status, rolled_back_at "
                "FROM batches ORDER BY id DESC LIMIT :n"
            ),
            {"n": limit},
        ).mappings()
        return [dict(r) for r in rows]


def get_batch(engine: Engine, batch: int) -> dict[str, Any]:
    """One batch with its stored report."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                text(
                    "SELECT id, layer, source, sha256, username, created_at, counts, status, rolled_back_at, report FROM batches WHERE id = :b"
                ),
                {"b": batch},
            )
            .mappings()
            .one_or_none()
        )
    if row is None:
        raise NotFound(f"没有批次 {batch}", f"No batch {batch}", batch=batch)
    return dict(row)
