"""SQLAlchemy tables built from the catalog, plus the system tables (batches).

The catalog is the single source of truth: this module turns each ``LayerSpec`` into a table
with typed columns, CHECK constraints for enumerations, codes and ranges, and GiST indexes.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.types import TypeEngine

from fupin_gis.catalog import Catalog, FieldSpec, LayerSpec
from fupin_gis.db.sql import ident, literal

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

SQL_TYPES: dict[str, type[TypeEngine]] = {
    "text": Text,
    "code": Text,
    "enum": Text,
    "integer": Integer,
    "number": Double,
    "boolean": Boolean,
    "date": Date,
}


def field_checks(field: FieldSpec, catalog: Catalog) -> list[CheckConstraint]:
    """The CHECK constraints that the catalog implies for one field."""
    name, col = field.name, ident(field.name)
    checks = []
    if field.type == "enum":
        keys = ", ".join(literal(v.key) for v in field.enum_values(catalog))
        checks.append(CheckConstraint(f"{col} IN ({keys})", name=f"{name}_enum"))
    if field.type == "code":
        checks.append(CheckConstraint(f"{col} ~ '^[0-9]{{{field.digits}}}$'", name=f"{name}_code"))
    if field.type in ("integer", "number"):
        if field.min is not None:
            checks.append(CheckConstraint(f"{col} >= {field.min:g}", name=f"{name}_min"))
        if field.max is not None:
            checks.append(CheckConstraint(f"{col} <= {field.max:g}", name=f"{name}_max"))
    return checks


def layer_table(spec: LayerSpec, catalog: Catalog, metadata: MetaData) -> Table:
    """The table of one layer."""
    columns: list[Column] = [
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column(
            "geom",
            Geometry(spec.geometry.upper(), srid=catalog.srid, spatial_index=False),
            nullable=not spec.geometry_required,
        ),
    ]
    if spec.seat is not None:
        columns.append(
            Column(spec.seat.name, Geometry("POINT", srid=catalog.srid, spatial_index=False), comment=spec.seat.label)
        )
    constraints: list[CheckConstraint] = []
    for field in spec.fields:
        columns.append(Column(field.name, SQL_TYPES[field.type](), nullable=not field.required, comment=field.label))
        constraints.extend(field_checks(field, catalog))
    if not spec.geometry_required and spec.seat is not None:
        constraints.append(
            CheckConstraint(f"geom IS NOT NULL OR {ident(spec.seat.name)} IS NOT NULL", name="has_geometry")
        )
    columns += [
        Column("extra", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        # No foreign key: batches are append-only (a rollback marks, never deletes), and a
        # per-row RI trigger would cost a third of a large import's COPY time.
        Column("batch_id", BigInteger, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]
    table = Table(spec.name, metadata, *columns, *constraints, comment=spec.label)
    Index(f"ix_{spec.name}_geom", table.c.geom, postgresql_using="gist")
    if spec.seat is not None:
        Index(f"ix_{spec.name}_{spec.seat.name}", table.c[spec.seat.name], postgresql_using="gist")
    if spec.key is not None:
        Index(f"uq_{spec.name}_{spec.key}", table.c[spec.key], unique=True)
    for field in spec.fields:
        if field.name == "village_code" and spec.key != "village_code":
            Index(f"ix_{spec.name}_village_code", table.c.village_code)
    Index(f"ix_{spec.name}_batch_id", table.c.batch_id)
    return table


def batches_table(metadata: MetaData) -> Table:
    """One row per committed import (and per demo load)."""
    return Table(
        "batches",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("layer", Text, nullable=False),
        Column("source", Text, nullable=False, comment="file name, or 'demo'"),
        Column("sha256", Text, index=True),
        Column("username", Text),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("counts", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("status", Text, nullable=False, server_default=text("'committed'")),
        Column("report", JSONB),
        Column("rolled_back_at", DateTime(timezone=True)),
        Column("kind", Text, comment="api-edit: an OGC API transaction; NULL: imports, page edits, demo loads"),
        Column("request_id", Text, comment="the HTTP request that made an api-edit batch"),
        CheckConstraint("status IN ('committed', 'rolled_back')", name="status"),
        Index("ix_batches_api_edits", "layer", "username", "created_at", postgresql_where=text("kind = 'api-edit'")),
        comment="导入批次",
    )


def history_table(metadata: MetaData) -> Table:
    """Rows an import replaced (upserts), so a rollback can restore them."""
    return Table(
        "feature_history",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("batch_id", BigInteger, ForeignKey("batches.id"), nullable=False, index=True),
        Column("layer", Text, nullable=False),
        Column("feature_id", BigInteger, nullable=False),
        Column("old", JSONB, nullable=False),
        comment="被导入覆盖的要素",
    )


def coverage_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """Coverage snapshots: one row a run, one row a village of a run, one row a household of a run."""
    runs = Table(
        "coverage_runs",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("data_version", BigInteger, comment="the newest batch when the run started"),
        Column("rules", JSONB, nullable=False),
        Column("summary", JSONB, nullable=False),
        Column("network", JSONB),
        Column("harden_plan", JSONB, comment="the joint plan: road ids to harden so every village connects"),
        Column("plan", JSONB, comment="rule 7: the plan's targets against the registry at the time of the run"),
        comment="覆盖分析运行",
    )
    villages = Table(
        "coverage_villages",
        metadata,
        Column("run_id", BigInteger, ForeignKey("coverage_runs.id", ondelete="CASCADE"), primary_key=True),
        Column("code", Text, primary_key=True),
        Column("name", Text),
        Column("result", JSONB, nullable=False),
        comment="覆盖分析结果（村）",
    )
    households = Table(
        "coverage_households",
        metadata,
        Column("run_id", BigInteger, ForeignKey("coverage_runs.id", ondelete="CASCADE"), primary_key=True),
        Column("household_id", BigInteger, primary_key=True),
        Column("code", Text),
        Column("village_code", Text, nullable=False, index=True),
        Column("members", Integer),
        Column("water_ok", Boolean, nullable=False, comment="rule 2: safe water within reach or piped"),
        Column("near_road", Boolean, nullable=False, comment="rule 3: within the RAI distance of a hardened road"),
        Column("missing", ARRAY(Text), nullable=False, comment="household checks not met (keys of the checklist)"),
        comment="覆盖分析结果（户，个人信息）",
    )
    return runs, villages, households


def network_cache_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The routable road network of the last coverage run, per road, rebuilt only where roads changed."""
    cache = Table(
        "network_cache",
        metadata,
        Column("id", Integer, primary_key=True, comment="always 1"),
        Column("srid", Integer, nullable=False, comment="the metric CRS of the pieces"),
        Column("snap_tolerance_m", Double, nullable=False),
        Column("built_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        comment="路网缓存（设置）",
    )
    roads = Table(
        "network_roads",
        metadata,
        Column("road_id", BigInteger, primary_key=True),
        Column("fp", Text, nullable=False, comment="md5 of the road's geometry and bridge/tunnel flag"),
        Column("cuts", Integer, nullable=False, comment="where crossings and T-junctions split it"),
        Column("pieces", LargeBinary, nullable=False, comment="WKB MultiLineString of its pieces, in order"),
        comment="路网缓存（每条道路的分段）",
    )
    return cache, roads


def tile_cache_table(metadata: MetaData) -> Table:
    """Rendered vector tiles (gzipped MVT), dropped by the transaction that changes their area."""
    return Table(
        "tile_cache",
        metadata,
        Column("layer", Text, primary_key=True, comment="layer name, or coverage:<run>"),
        Column("z", Integer, primary_key=True),
        Column("x", Integer, primary_key=True),
        Column("y", Integer, primary_key=True),
        Column("data", LargeBinary, nullable=False),
        Column("etag", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        comment="矢量瓦片缓存",
    )


def tile_overview_tables(metadata: MetaData, srid: int) -> tuple[Table, Table]:
    """Low-zoom overview geometry of line and point layers (merged per style value and cell), built on
    demand, in the storage CRS (``srid``, the catalog's)."""
    overview = Table(
        "tile_overview",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("layer", Text, nullable=False),
        Column("band", Integer, nullable=False, comment="the zoom whose pixel size the geometry is simplified to"),
        Column("s", Text, comment="the style value"),
        Column("geom", Geometry(srid=srid, spatial_index=False), nullable=False),
        Index("ix_tile_overview_geom", "geom", postgresql_using="gist"),
        Index("ix_tile_overview_layer", "layer", "band"),
        comment="低缩放级别概览几何",
    )
    built = Table(
        "tile_overview_built",
        metadata,
        Column("layer", Text, primary_key=True),
        Column("band", Integer, primary_key=True),
        Column("built_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return overview, built


def account_tables(metadata: MetaData) -> None:
    """Users, API tokens, login sessions and the append-only audit log."""
    Table(
        "users",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("username", Text, nullable=False, unique=True),
        Column("password_hash", Text, nullable=False),
        Column("role", Text, nullable=False),
        Column("scope", Text, nullable=False, comment="county/township codes, comma-separated, or *"),
        Column("disabled", Boolean, nullable=False, server_default=false()),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        CheckConstraint("role IN ('viewer', 'planner', 'engineer', 'admin', 'finance', 'auditor')", name="role"),
        comment="账号",
    )
    Table(
        "api_tokens",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        Column("token_sha256", Text, nullable=False, unique=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    Table(
        "sessions",
        metadata,
        Column("token_sha256", Text, primary_key=True),
        Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        Column("csrf", Text, nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("username", Text),
        Column("action", Text, nullable=False),
        Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        comment="审计日志（只增不改）",
    )
    Table(
        "login_throttle",
        metadata,
        Column("key", Text, primary_key=True, comment="user:<name> or addr:<client address>"),
        Column("failures", Integer, nullable=False, comment="wrong passwords in a row"),
        Column("last_failure_at", DateTime(timezone=True), nullable=False, index=True),
        Column("blocked_until", DateTime(timezone=True), comment="no password is checked before this"),
        comment="登录失败计数（账号、地址）",
    )


def build_metadata(catalog: Catalog) -> MetaData:
    """All tables: the system tables, then one per catalog layer."""
    metadata = MetaData(naming_convention=NAMING)
    batches_table(metadata)
    history_table(metadata)
    coverage_tables(metadata)
    network_cache_tables(metadata)
    tile_cache_table(metadata)
    tile_overview_tables(metadata, catalog.srid)
    account_tables(metadata)
    for spec in catalog.ordered():
        layer_table(spec, catalog, metadata)
    return metadata
