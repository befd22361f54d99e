"""Write one feature as a batch of its own: create, replace, update or delete, audited and reversible.

The sibling of :mod:`.edit` for whole-feature writes (OGC API transactions): each write is one
batch (``kind`` ``api-edit``, the account, the layer, the request id), the replaced row kept in
``feature_history``, checked by :func:`.batches.check_write` (admin-only administrative layers,
the scope, a village code's location), audited with the feature before and after in the same
transaction, and the cached tiles it touches dropped, so :func:`.batches.rollback` undoes it
exactly. Values are read like an import's (:func:`.edit.parse_properties`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from fupin_gis.auth.accounts import audit
from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.db.sql import ident
from fupin_gis.errors import FeatureExists, Forbidden, InvalidInput
from fupin_gis.ingest.batches import check_write, rollback_in
from fupin_gis.ingest.edit import _plain, parse_properties
from fupin_gis.ingest.values import convert
from fupin_gis.tiles.cache import invalidate_batch

Action = Literal["create", "replace", "update", "delete"]
KIND = "api-edit"
RLS_REFUSED = "42501"  # insufficient_privilege: a row-level security policy refused the row
UNIQUE = "23505"


@dataclass(frozen=True)
class Author:
    """Who writes, within which scope, in which request."""

    username: str
    scope: str
    request_id: str


@dataclass(frozen=True)
class Change:
    """One feature's write: the action, its row (None to create), parsed values, the geometry's WKB."""

    action: Action
    row: int | None = None
    values: dict[str, Any] | None = None
    wkb: bytes | None = None
    clear_geometry: bool = False


@dataclass(frozen=True)
class Applied:
    """What a write did: its batch, the row written (None after a delete), the feature before and after."""

    batch: int
    row: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def read_values(spec: LayerSpec, catalog: Catalog, properties: dict[str, Any], with_key: bool) -> dict[str, Any]:
    """Stored values of ``properties`` (as an import reads them); ``with_key``: the key may be set."""
    others = {k: v for k, v in properties.items() if k != spec.key}
    values = parse_properties(spec, catalog, others)
    if spec.key is not None and spec.key in properties:
        if not with_key:
            raise InvalidInput(
                f"“{spec.key}” 是要素的标识，不能修改",
                f"'{spec.key}' identifies the feature and cannot change",
                field=spec.key,
            )
        field = spec.field(spec.key)
        parsed, issues = convert(pd.Series([properties[spec.key]], dtype=object), field, catalog)
        issue = issues.iloc[0]
        if issue is not None and issue.severity == "error":
            raise InvalidInput(
                f"{field.label}（{field.name}）：{issue.zh}", f"{field.name}: {issue.en}", field=field.name
            )
        values[spec.key] = _plain(parsed.iloc[0])
    return values


def require_complete(spec: LayerSpec, values: dict[str, Any]) -> None:
    """InvalidInput naming the first required field without a value (a new or replaced feature)."""
    for field in spec.fields:
        if field.required and values.get(field.name) is None:
            raise InvalidInput(
                f"“{field.label}”（{field.name}）为必填项", f"'{field.name}' is required", field=field.name
            )


def snapshot(conn: Connection, spec: LayerSpec, row: int) -> dict[str, Any] | None:
    """A stored row as JSON (its geometry as GeoJSON), for the audit log."""
    found = conn.execute(
        text(
            "SELECT to_jsonb(t) - 'geom' AS row, ST_AsGeoJSON(t.geom, 9, 0)::jsonb AS g "
            f"FROM {ident(spec.name)} t WHERE t.id = :r"
        ),
        {"r": row},
    ).first()
    return None if found is None else {**found.row, "geom": found.g}


def _inside_deployment(conn: Connection, catalog: Catalog, spec: LayerSpec, wkb: bytes, scope: str) -> None:
    """Refuse a geometry outside every county the writer can see (outside the deployment, or the scope)."""
    if spec.group == "admin":
        return
    counties = conn.execute(text("SELECT count(*) FROM counties")).scalar_one()
    if not counties:
        return
    inside = conn.execute(
        text(f"SELECT EXISTS (SELECT 1 FROM counties WHERE ST_Intersects(geom, ST_GeomFromWKB(:w, {catalog.srid})))"),
        {"w": wkb},
    ).scalar_one()
    if inside:
        return
    if scope != "*":
        raise Forbidden(
            f"要素不在您的范围（{scope}）内，未写入",
            f"the feature lies outside your scope ({scope}): nothing written",
            scope=scope,
        )
    raise InvalidInput(
        "要素不在本县任何县域内（请核对坐标系与经纬度顺序）",
        "the feature lies outside every county of the deployment (check the CRS and the axis order)",
        field="geometry",
    )


def _sql_error(exc: DBAPIError, spec: LayerSpec, author: Author) -> Exception:
    state = getattr(exc.orig, "sqlstate", None)
    if state == RLS_REFUSED:
        return Forbidden(
            f"无权在范围（{author.scope}）外或在此图层写入要素，未写入",
            f"you may not write this feature of {spec.name} (outside your scope {author.scope}, or the layer): nothing written",
            scope=author.scope,
        )
    if state == UNIQUE:
        return FeatureExists(
            f"图层 {spec.name} 已有相同“{spec.key}”的要素",
            f"layer {spec.name} already has a feature with this {spec.key}",
        )
    if state and state.startswith("23"):
        said = str(exc.orig).splitlines()[0]
        return InvalidInput(f"要素不符合图层约束（{said}）", f"the feature breaks a rule of the layer ({said})")
    return exc


def _statement(conn: Connection, catalog: Catalog, spec: LayerSpec, change: Change, batch: int) -> int | None:
    """Run the write itself; the row written (None after a delete)."""
    table = ident(spec.name)
    values = dict(change.values or {})
    if change.action == "replace":  # every catalog field the body does not give becomes empty, the key stays
        values = {f.name: values.get(f.name) for f in spec.fields if f.name != spec.key} | (
            {spec.key: values[spec.key]} if spec.key in values else {}
        )
    params: dict[str, Any] = {f"v{i}": v for i, v in enumerate(values.values())} | {"b": batch, "r": change.row}
    columns = [ident(name) for name in values]
    holders = [f":v{i}" for i in range(len(values))]
    if change.wkb is not None:
        columns.append(ident("geom"))
        holders.append(f"ST_GeomFromWKB(:w, {int(catalog.srid)})")
        params["w"] = change.wkb
    elif change.clear_geometry:
        columns.append(ident("geom"))
        holders.append("NULL")
    if change.action == "delete":
        conn.execute(text(f"DELETE FROM {table} WHERE id = :r"), params)
        return None
    if change.action == "create":
        names = ", ".join([*columns, "batch_id"])
        return int(
            conn.execute(
                text(f"INSERT INTO {table} ({names}) VALUES ({', '.join([*holders, ':b'])}) RETURNING id"), params
            ).scalar_one()
        )
    sets = ", ".join(f"{c} = {h}" for c, h in zip(columns, holders, strict=True))
    conn.execute(
        text(f"UPDATE {table} SET {sets + ', ' if sets else ''}batch_id = :b, updated_at = now() WHERE id = :r"), params
    )
    return change.row


def apply(conn: Connection, catalog: Catalog, spec: LayerSpec, change: Change, author: Author) -> Applied:
    """Inside the caller's transaction: write ``change`` as a batch, check it, audit it, drop its tiles."""
    if change.wkb is not None:
        _inside_deployment(conn, catalog, spec, change.wkb, author.scope)
    label = f"{KIND}: {change.action} {spec.name}" + (f" {change.row}" if change.row is not None else "")
    batch = int(
        conn.execute(
            text(
                "INSERT INTO batches (layer, source, username, kind, request_id) "
                "VALUES (:l, :s, :u, :k, :q) RETURNING id"
            ),
            {"l": spec.name, "s": label, "u": author.username, "k": KIND, "q": author.request_id},
        ).scalar_one()
    )
    before = snapshot(conn, spec, change.row) if change.row is not None else None
    if change.row is not None:
        conn.execute(
            text(
                "INSERT INTO feature_history (batch_id, layer, feature_id, old) "
                f"SELECT :b, :l, t.id, to_jsonb(t) FROM {ident(spec.name)} t WHERE t.id = :r"
            ),
            {"b": batch, "l": spec.name, "r": change.row},
        )
    try:
        row = _statement(conn, catalog, spec, change, batch)
    except DBAPIError as exc:
        raise _sql_error(exc, spec, author) from None
    check_write(conn, spec, batch, author.scope)
    after = snapshot(conn, spec, row) if row is not None else None
    counts = {
        "read": 1,
        "inserted": int(change.action == "create"),
        "updated": int(change.action in ("replace", "update")),
    }
    counts["deleted"] = int(change.action == "delete")
    detail = {
        "batch": batch,
        "layer": spec.name,
        "action": change.action,
        "row": row if row is not None else change.row,
    }
    detail |= {"request_id": author.request_id, "before": before, "after": after}
    conn.execute(
        text("UPDATE batches SET counts = CAST(:c AS jsonb), report = CAST(:r AS jsonb) WHERE id = :b"),
        {"b": batch, "c": json.dumps(counts), "r": json.dumps({"api_edit": detail}, ensure_ascii=False, default=str)},
    )
    audit(conn, author.username, "api_edit", detail)
    invalidate_batch(conn, spec, batch)
    return Applied(batch, row, before, after)


def rollback_api_edits(
    engine: Engine,
    catalog: Catalog,
    spec: LayerSpec,
    username: str,
    since: str,
    scope: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """Roll back every committed API edit ``username`` made on ``spec`` since ``since`` (ISO time; no
    offset: the database's time zone), newest first, in one transaction: all or nothing."""
    with engine.begin() as conn:
        try:
            batches = list(
                conn.execute(
                    text(
                        "SELECT id FROM batches WHERE kind = :k AND layer = :l AND username = :u "
                        "AND status = 'committed' AND created_at >= CAST(:t AS timestamptz) ORDER BY id DESC FOR UPDATE"
                    ),
                    {"k": KIND, "l": spec.name, "u": username, "t": since},
                ).scalars()
            )
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", "").startswith("22"):
                raise InvalidInput(
                    f"时间 “{since}” 无效（ISO 8601，如 2026-12-02T09:00:00+08:00）",
                    f"'{since}' is not a time (ISO 8601, e.g. 2026-12-02T09:00:00+08:00)",
                    field="since",
                ) from None
            raise
        removed = restored = 0
        for batch in batches:
            done = rollback_in(conn, catalog, batch, scope)
            removed, restored = removed + done["removed"], restored + done["restored"]
        result: dict[str, Any] = {"layer": spec.name, "user": username, "since": since, "batches": batches}
        result |= {"removed": removed, "restored": restored}
        audit(conn, actor or username, "api_edit_rollback", result)
    return result
