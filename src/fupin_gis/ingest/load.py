"""Everything that touches the staging table: the writer that streams validated chunks into it (or
straight into the layer), deferred index builds, the key checks, and the promotion as one batch."""

from __future__ import annotations

import json
import queue
import threading

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import Connection, text

from fupin_gis.catalog import LayerSpec
from fupin_gis.db.sql import ident
from fupin_gis.ingest.binary_copy import BinaryCopy
from fupin_gis.ingest.problems import Problem
from fupin_gis.ingest.report import ImportReport
from fupin_gis.tiles.cache import invalidate_batch


def defer_indexes(conn: Connection, spec: LayerSpec) -> list[str]:
    """Drop the non-unique indexes of an empty layer for a large load; return their DDL.

    Inside the import's transaction: a rollback restores them. The unique key index stays (it
    catches keys repeated within the file). Readers of the layer wait until the commit.
    """
    if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {ident(spec.name)})")).scalar_one():
        return []
    rows = conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_index x ON x.indexrelid = format('%I.%I', i.schemaname, i.indexname)::regclass "
            "WHERE i.schemaname = current_schema() AND i.tablename = :t AND NOT x.indisunique AND NOT x.indisprimary"
        ),
        {"t": spec.name},
    ).all()
    for name, _ in rows:
        conn.execute(text(f"DROP INDEX {ident(name)}"))
    return [ddl for _, ddl in rows]


class Stager:
    """Validated rows into the database, inside the import's transaction.

    Rows go straight into the layer by COPY (one savepoint a chunk) when they add new features;
    rows whose key the layer already has, or that clash within the file, go to a temporary
    staging table and are upserted (with history) at the end. A dry run stages everything.
    """

    def __init__(self, conn: Connection, spec: LayerSpec, columns: list[str], batch: int | None) -> None:
        self.conn, self.spec, self.columns, self.batch = conn, spec, columns, batch
        self.direct = 0
        # Key look-ups are needed only when the layer already holds keyed features.
        self.has_keys = (
            spec.key is not None
            and conn.execute(
                text(f"SELECT EXISTS (SELECT 1 FROM {ident(spec.name)} WHERE {ident(spec.key)} IS NOT NULL)")
            ).scalar_one()
        )
        conn.execute(text(f"CREATE TEMP TABLE _stage (LIKE {ident(spec.name)} INCLUDING DEFAULTS) ON COMMIT DROP"))
        conn.execute(
            text(
                "ALTER TABLE _stage ADD COLUMN _feature bigint, ADD COLUMN _file text, ALTER COLUMN geom DROP NOT NULL"
            )
        )
        for f in spec.fields:
            if f.required:
                conn.execute(text(f"ALTER TABLE _stage ALTER COLUMN {ident(f.name)} DROP NOT NULL"))
        raw = conn.connection.driver_connection
        assert raw is not None
        self.raw = raw
        self.layer_columns = [c for c in columns if not c.startswith("_")]
        self._copiers: dict[tuple[str, ...], BinaryCopy] = {}

    def _copy(self, table: str, columns: list[str], frame: pd.DataFrame, **constants: object) -> None:
        key = (table, *columns)
        if key not in self._copiers:
            self._copiers[key] = BinaryCopy(self.raw, table, columns)
        self._copiers[key].write(frame, constants)

    def start(self) -> None:
        """Write in a thread of its own, so PostgreSQL ingests one chunk while the next is validated."""
        self._queue: queue.Queue[pd.DataFrame | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="fupin-import-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(frame)
                except BaseException as exc:  # re-raised in the importing thread by finish()
                    self._error = exc

    def write(self, frame: pd.DataFrame) -> None:
        """Queue validated rows (the writer thread takes them in order)."""
        if self._error is not None:
            raise self._error
        self._queue.put(frame)

    def finish(self) -> None:
        """Wait for every queued chunk; raise what the writer thread met."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if self.batch is None:
            self._copy("_stage", self.columns, frame)
            return
        key = self.spec.key
        staged = np.zeros(len(frame), dtype=bool)
        if key is not None:
            keys = frame[key]
            present = keys.notna().to_numpy()
            staged |= (keys.duplicated(keep=False) & keys.notna()).to_numpy()
            if present.any() and self.has_keys:
                found = self.conn.execute(
                    text(f"SELECT {ident(key)} FROM {ident(self.spec.name)} WHERE {ident(key)} = ANY(:k)"),
                    {"k": keys[present].astype(str).tolist()},
                ).scalars()
                staged |= keys.isin(set(found)).to_numpy()
        direct = frame[~staged] if staged.any() else frame
        if len(direct):
            savepoint = self.conn.begin_nested()
            try:
                self._copy(self.spec.name, [*self.layer_columns, "batch_id"], direct, batch_id=self.batch)
                savepoint.commit()
                self.direct += len(direct)
            except psycopg.errors.UniqueViolation:  # raised by the driver: COPY runs on its connection
                # A key repeated from an earlier chunk of the same file: stage, report at the end.
                savepoint.rollback()
                staged[:] = True
        if staged.any():
            self._copy("_stage", self.columns, frame[staged])


def check_keys(conn: Connection, spec: LayerSpec, report: ImportReport, seat_mode: bool, batch: int | None) -> None:
    """Report keys repeated in the upload, and (seat files) keys the layer does not have."""
    if spec.key is None:
        return
    label = spec.field(spec.key).label

    def duplicate(k: object, file: str, feature: int, others: list[int] | None = None) -> None:
        where = f"（要素 {others[:10]}）" if others else ""
        where_en = f" (features {others[:10]})" if others else ""
        report.problems.add(
            Problem(
                "duplicate_key",
                f"{label} “{k}” 在文件中重复{where}",
                f"{spec.key} '{k}' appears more than once in the file{where_en}",
                "error",
                file,
                feature,
                spec.key,
                str(k),
            )
        )

    table, kc = ident(spec.name), ident(spec.key)
    if batch is not None:
        # Staged rows whose key this import already wrote straight into the layer.
        clash = conn.execute(
            text(
                f"SELECT s.{kc}, s._feature, s._file FROM _stage s JOIN {table} t ON t.{kc} = s.{kc} "
                "AND t.batch_id = :b LIMIT 1000"
            ),
            {"b": batch},
        ).all()
        for k, feat, file in clash:
            duplicate(k, file, int(feat))
    dups = conn.execute(
        text(
            f"SELECT {kc} AS k, array_agg(_feature ORDER BY _feature) AS f, min(_file) AS file FROM _stage "
            f"WHERE {kc} IS NOT NULL GROUP BY {kc} HAVING count(*) > 1 LIMIT 1000"
        )
    ).all()
    for k, feats, file in dups:
        duplicate(k, file, int(feats[1]), list(feats))
    if seat_mode:
        missing = conn.execute(
            text(
                f"SELECT s._feature, s._file, s.{kc} FROM _stage s LEFT JOIN {table} t ON t.{kc} = s.{kc} "
                "WHERE t.id IS NULL LIMIT 1000"
            )
        ).all()
        for feat, file, k in missing:
            report.problems.add(
                Problem(
                    "seat_unit_unknown",
                    f"{spec.label}中没有代码 “{k}”，驻地点无法对应",
                    f"no {spec.name} with code '{k}' to attach this seat point to",
                    "error",
                    file,
                    int(feat),
                    spec.key,
                    k,
                )
            )


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
    table, kc = ident(spec.name), ident(key or "")
    if key is not None:
        # Keep what the upsert will replace, and count the changes field by field.
        conn.execute(
            text(
                "INSERT INTO feature_history (batch_id, layer, feature_id, old) "
                f"SELECT :b, :l, t.id, to_jsonb(t) FROM {table} t JOIN _stage s ON s.{kc} = t.{kc}"
            ),
            {"b": batch, "l": spec.name},
        )
        compare = [spec.seat.name] if seat_mode and spec.seat else ["geom", *supplied]
        counts = ", ".join(
            f"count(*) FILTER (WHERE NOT ST_Equals(t.{ident(c)}, s.{ident(c)}) OR (t.{ident(c)} IS NULL) <> (s.{ident(c)} IS NULL))"
            if c in ("geom", spec.seat.name if spec.seat else "")
            else f"count(*) FILTER (WHERE t.{ident(c)} IS DISTINCT FROM s.{ident(c)})"
            for c in compare
        )
        row = conn.execute(text(f"SELECT {counts} FROM {table} t JOIN _stage s ON s.{kc} = t.{kc}")).one()
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
                f"UPDATE {table} t SET {ident(spec.seat.name)} = s.{ident(spec.seat.name)}, batch_id = :b, "
                f"updated_at = now() FROM _stage s WHERE s.{kc} = t.{kc}"
            ),
            {"b": batch},
        )
        report.updated = result.rowcount
    else:
        cols = ["geom", *spec.field_names, "extra"]
        names = ", ".join(ident(c) for c in cols)
        select = f"SELECT {names}, :b FROM _stage ORDER BY _file, _feature"
        if key is not None:
            # Only what the file supplies is updated: a survey of codes and statuses keeps the names.
            kept = ["geom", *supplied]
            updates = (
                ", ".join(f"{ident(c)} = EXCLUDED.{ident(c)}" for c in kept)
                + f", extra = {table}.extra || EXCLUDED.extra, batch_id = EXCLUDED.batch_id, updated_at = now()"
            )
            sql = (
                f"INSERT INTO {table} ({names}, batch_id) {select} ON CONFLICT ({kc}) DO UPDATE SET {updates} "
                "RETURNING (xmax = 0) AS inserted"
            )
            flags = [r.inserted for r in conn.execute(text(sql), {"b": batch})]
            report.inserted = sum(flags) + direct
            report.updated = len(flags) - sum(flags)
        else:
            result = conn.execute(text(f"INSERT INTO {table} ({names}, batch_id) {select}"), {"b": batch})
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
