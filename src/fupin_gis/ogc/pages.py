"""One page of features: counted once, selected by keyset, streamed in chunks from a server-side cursor.

A page is read in one transaction of the caller's engine (row-level security under the caller's
scope): the data version, the count (the first page only, within ``count_timeout_ms``; a later
page carries it in its cursor), then the rows through a server-side cursor, about
:data:`CHUNK` at a time, each chunk joined into the GeoJSON text as it comes. The statement runs
before the answer starts, so a failure is still an error answer and not a broken document.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.errors import NotFound
from fupin_gis.ogc.crs import OutputCrs
from fupin_gis.ogc.query import ItemsQuery, Keyset, count_sql, item_sql, lookup, page_sql, where
from fupin_gis.ogc.sql import Params

CHUNK = 1000
QUERY_CANCELED = "57014"
# The row-level security policies make every plan look costly enough for PostgreSQL to compile
# its expressions (JIT): 0.2–0.3 s a statement, more than the page of 10,000 features itself.
NO_JIT = "SET LOCAL jit = off"


def data_version(conn: Connection) -> str:
    """What changes whenever the layers do: the newest batch, and how many were rolled back."""
    return str(
        conn.execute(
            text("SELECT coalesce(max(id), 0) || '.' || count(*) FILTER (WHERE status = 'rolled_back') FROM batches")
        ).scalar_one()
    )


def count_within(conn: Connection, sql: str, params: dict[str, Any], timeout_ms: int) -> int | None:
    """``sql``'s count, or None when it takes longer than ``timeout_ms`` (the transaction goes on)."""
    before = conn.execute(text("SELECT current_setting('statement_timeout')")).scalar_one()
    nested = conn.begin_nested()
    try:
        conn.execute(text("SELECT set_config('statement_timeout', :t, true)"), {"t": str(int(timeout_ms))})
        count = int(conn.execute(text(sql), params).scalar_one())
        conn.execute(text("SELECT set_config('statement_timeout', :t, true)"), {"t": before})
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != QUERY_CANCELED:
            raise
        nested.rollback()  # the setting goes with the savepoint
        return None
    nested.commit()
    return count


class Counts:
    """``numberMatched`` of recent queries, by query digest, account (role and scope) and data version.

    A client asks for a query's first page more than once (GDAL: a sample for the fields, then the
    copy; QGIS: again on every pan back): the count, the slowest statement of a first page, is made
    once per version of the data. A count that ran out of time is kept too (as unknown).
    """

    def __init__(self, size: int = 512) -> None:
        self._known: OrderedDict[tuple[str, str, str], int | None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> tuple[bool, int | None]:
        """(found, count)."""
        with self._lock:
            if key not in self._known:
                return False, None
            self._known.move_to_end(key)
            return True, self._known[key]

    def put(self, key: tuple[str, str, str], count: int | None) -> None:
        """Keep ``count`` (the least recently used beyond the size are dropped)."""
        with self._lock:
            self._known[key] = count
            while len(self._known) > self._size:
                self._known.popitem(last=False)


@dataclass
class Page:
    """An open page: the transaction, the rows still to read, what the links need."""

    conn: Connection
    rows: Any
    first: list[Any]
    limit: int
    matched: int | None
    version: str
    returned: int = 0
    next_at: Keyset | None = None
    closed: bool = field(default=False)
    last: Any = None

    def close(self) -> None:
        """End the transaction and give the connection back (idempotent)."""
        if not self.closed:
            self.closed = True
            try:
                self.rows.close()
            finally:
                self.conn.close()

    def features(self) -> Iterator[str]:
        """The features' JSON texts, comma-joined, one chunk at a time; sets ``returned`` and ``next_at``."""
        batch = self.first
        while batch:
            take = batch[: max(self.limit - self.returned, 0)]
            if take:
                yield ("," if self.returned else "") + ",".join(r.f for r in take)
                self.returned += len(take)
                self.last = take[-1]
            if len(take) < len(batch):  # the row after the page's last: another page follows
                self.next_at = Keyset(int(self.last.ph), self.last.k, int(self.last.i))
                return
            batch = list(self.rows.fetchmany(CHUNK))

    def document(self, links: Callable[[Page], list[dict[str, Any]]]) -> Iterator[str]:
        """The whole FeatureCollection as text chunks (the links made once the page's end is known)."""
        try:
            yield '{"type":"FeatureCollection","features":['
            yield from self.features()
            tail: dict[str, Any] = {"numberReturned": self.returned}
            if self.matched is not None:
                tail["numberMatched"] = self.matched
            tail["timeStamp"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            tail["links"] = links(self)
            yield "]," + json.dumps(tail, ensure_ascii=False)[1:]
        finally:
            self.close()


def open_page(
    engine: Engine,
    spec: LayerSpec,
    catalog: Catalog,
    query: ItemsQuery,
    at: Keyset | None,
    carried: tuple[int | None, str] | None,
    count_timeout_ms: int,
    counts: tuple[Counts, str, str] | None = None,
) -> Page:
    """Start reading one page (``carried``: numberMatched and data version from the cursor of a later page;
    ``counts``: the known counts, the query's digest and the account, to count a query once per data version)."""
    params = Params()
    condition = where(spec, catalog, query, params)
    conn = engine.connect()
    try:
        conn.begin()
        conn.execute(text(NO_JIT))
        version = data_version(conn)
        if carried is None:
            known, matched = counts[0].get((counts[1], counts[2], version)) if counts else (False, None)
            if not known:
                matched = count_within(conn, count_sql(spec, condition), params.values, count_timeout_ms)
                if counts:
                    counts[0].put((counts[1], counts[2], version), matched)
        else:
            matched = carried[0] if carried[1] == version else None  # changed since: no longer known
        sql = page_sql(spec, catalog, query, condition, at, params)
        rows = conn.execution_options(stream_results=True, max_row_buffer=CHUNK).execute(text(sql), params.values)
        first = list(rows.fetchmany(CHUNK))
    except BaseException:
        conn.close()
        raise
    return Page(conn, rows, first, query.limit, matched, version)


def count_only(engine: Engine, spec: LayerSpec, catalog: Catalog, query: ItemsQuery, timeout_ms: int) -> int | None:
    """``numberMatched`` alone (``resultType=hits``)."""
    params = Params()
    condition = where(spec, catalog, query, params)
    with engine.begin() as conn:
        conn.execute(text(NO_JIT))
        return count_within(conn, count_sql(spec, condition), params.values, timeout_ms)


def read_item(engine: Engine, spec: LayerSpec, catalog: Catalog, feature_id: str, crs: OutputCrs) -> tuple[str, str]:
    """One feature's GeoJSON text and ETag, as the caller may see it; NotFound otherwise."""
    params = Params()
    condition = lookup(spec, feature_id, params)
    with engine.begin() as conn:
        conn.execute(text(NO_JIT))
        row = conn.execute(text(item_sql(spec, catalog, crs, condition)), params.values).first()
    if row is None:
        raise NotFound(
            f"图层 {spec.name} 没有要素 {feature_id}（或不在您的范围内）",
            f"layer {spec.name} has no feature {feature_id} (or it lies outside your scope)",
            feature=feature_id,
        )
    return row.f, f'"{row.etag}"'
