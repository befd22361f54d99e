"""Row-level security: what a signed-in account sees is decided once, in the database.

Each request of an account runs its reads as the role ``fupin_scoped`` (not the tables' owner, so
row-level security applies) with two transaction settings: ``fupin.scope`` (comma-separated
county or township codes, ``*`` for everything, ``!`` for nothing) and ``fupin.role``. Policies on
every layer and on the coverage snapshots admit a row when its village code (or its own code, or
its geometry) lies in the scope; households and per-household results only for roles that may see
personal data. Without the settings (the command line, the system) nothing is filtered.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from fupin_gis.catalog import Catalog, LayerSpec
from fupin_gis.db.cluster import SCOPED_ROLE

PERSONAL_ROLES = ("planner", "admin")

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION fupin_scope() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('fupin.scope', true), '') $$;
CREATE OR REPLACE FUNCTION fupin_unrestricted() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT fupin_scope() IN ('', '*') $$;
CREATE OR REPLACE FUNCTION fupin_scope_codes() RETURNS text[] LANGUAGE sql STABLE AS
$$ SELECT string_to_array(fupin_scope(), ',') $$;
CREATE OR REPLACE FUNCTION fupin_code_in(c text, codes text[]) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT ARRAY[left(c, 6), left(c, 9)] && codes $$;
CREATE OR REPLACE FUNCTION fupin_sees_code(c text) RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT fupin_unrestricted() OR fupin_code_in(c, fupin_scope_codes()) $$;
CREATE OR REPLACE FUNCTION fupin_sees_unit(c text) RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT fupin_unrestricted() OR (c IS NOT NULL AND EXISTS (
     SELECT 1 FROM unnest(string_to_array(fupin_scope(), ',')) s
     WHERE left(c, length(s)) = s OR left(s, length(c)) = c)) $$;
CREATE OR REPLACE FUNCTION fupin_scope_area() RETURNS geometry LANGUAGE sql STABLE AS
$$ SELECT ST_Union(geom) FROM (SELECT code, geom FROM counties UNION ALL SELECT code, geom FROM townships) u
     WHERE u.code = ANY(string_to_array(fupin_scope(), ',')) $$;
CREATE OR REPLACE FUNCTION fupin_sees_geom(g geometry) RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT fupin_unrestricted() OR ST_Intersects(fupin_scope_area(), g) $$;
CREATE OR REPLACE FUNCTION fupin_personal() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('fupin.role', true), '') IN ('', {", ".join(f"'{r}'" for r in PERSONAL_ROLES)}) $$;
"""


EVERYTHING = "(SELECT fupin_unrestricted())"


def sees_code(column: str) -> str:
    """The SQL condition that admits a row by its administrative code ``column`` for the current scope."""
    return f"({EVERYTHING} OR fupin_code_in({column}, (SELECT fupin_scope_codes())))"


def predicate(spec: LayerSpec, alias: str = "") -> str:
    """The SQL condition that admits a row of ``spec`` for the current scope."""
    p = f"{alias}." if alias else ""
    # The scope (its codes, its area) is uncorrelated subqueries: computed once per query, not per
    # row; PostGIS prepares the area for the point-in-polygon tests of every row (in a function, per
    # row, it took minutes), and a county's count of 200,000 roads takes 0.15 s instead of 0.3 s.
    geom = f"({EVERYTHING} OR ST_Intersects((SELECT fupin_scope_area()), {p}geom))"
    if "village_code" in spec.field_names:  # by its village; a feature without one by where it lies
        cond = f"({sees_code(p + 'village_code')} OR ({p}village_code IS NULL AND {geom}))"
    elif spec.group == "admin" and spec.key == "code":
        cond = f"fupin_sees_unit({p}code)"
    else:
        cond = geom
    return f"{cond} AND fupin_personal()" if spec.restricted else cond


# Writes (OGC API transactions run as the scoped role): the role may write the layer — the
# administrative units, whose polygons and codes define every scope, by admins only — and the row,
# before and after, lies in the scope. The owner (imports, page edits, the command line) is not
# subject to policies; those paths ask ``ingest.batches.check_write`` the same questions.
WRITE_FUNCTIONS = """
CREATE OR REPLACE FUNCTION fupin_writes(admin_only boolean) RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('fupin.role', true), '') IN ('', 'admin')
     OR (NOT admin_only AND current_setting('fupin.role', true) = 'engineer') $$;
"""


def write_predicate(spec: LayerSpec) -> str:
    """The SQL condition a row of ``spec`` must meet, before and after, for the current account to write it."""
    return f"fupin_writes({'true' if spec.group == 'admin' else 'false'}) AND {predicate(spec)}"


def apply_write_policies(conn: Connection, catalog: Catalog) -> None:
    """Policies ``WITH CHECK`` for INSERT, UPDATE and DELETE on every layer (idempotent)."""
    conn.execute(text(WRITE_FUNCTIONS))
    for spec in catalog.ordered():
        cond = write_predicate(spec)
        for name, clause in (
            ("fupin_insert", f"FOR INSERT WITH CHECK ({cond})"),
            ("fupin_update", f"FOR UPDATE USING ({cond}) WITH CHECK ({cond})"),
            ("fupin_delete", f"FOR DELETE USING ({cond})"),
        ):
            conn.execute(text(f"DROP POLICY IF EXISTS {name} ON {spec.name}"))
            conn.execute(text(f"CREATE POLICY {name} ON {spec.name} {clause}"))


def grant_writes(conn: Connection, catalog: Catalog) -> None:
    """What the scoped role needs to write a layer as one audited, reversible batch."""
    layers = ", ".join(spec.name for spec in catalog.ordered())
    conn.execute(text(f"GRANT INSERT, UPDATE, DELETE ON {layers} TO {SCOPED_ROLE}"))
    conn.execute(text(f"GRANT INSERT, UPDATE ON batches TO {SCOPED_ROLE}"))
    conn.execute(text(f"GRANT INSERT ON feature_history, audit_log TO {SCOPED_ROLE}"))
    conn.execute(text(f"GRANT DELETE ON tile_cache, tile_overview, tile_overview_built TO {SCOPED_ROLE}"))


def apply_row_security(conn: Connection, catalog: Catalog) -> bool:
    """Create the functions and policies (idempotent). False when the scoped role does not exist."""
    conn.execute(text(FUNCTIONS))
    tables = {spec.name: predicate(spec) for spec in catalog.ordered()}
    tables["coverage_villages"] = sees_code("code")
    tables["coverage_households"] = f"{sees_code('village_code')} AND fupin_personal()"
    for table, cond in tables.items():
        conn.execute(text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
        conn.execute(text(f"DROP POLICY IF EXISTS fupin_scope ON {table}"))
        conn.execute(text(f"CREATE POLICY fupin_scope ON {table} FOR SELECT USING ({cond})"))
    apply_write_policies(conn, catalog)
    from fupin_gis.ledger.security import apply_ledger_security

    apply_ledger_security(conn)  # the project ledger's tables, by the project's township and villages
    role = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": SCOPED_ROLE}).first()
    if role is None:
        # On a server of its own (DATABASE_URL) the app's user creates the role if it may (CREATEROLE).
        conn.execute(
            text(
                f"DO $$ BEGIN CREATE ROLE {SCOPED_ROLE} NOLOGIN; GRANT {SCOPED_ROLE} TO CURRENT_USER; "
                "EXCEPTION WHEN insufficient_privilege OR duplicate_object THEN NULL; END $$"
            )
        )
        role = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": SCOPED_ROLE}).first()
        if role is None:
            return False
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {SCOPED_ROLE}"))
    conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {SCOPED_ROLE}"))
    conn.execute(text(f"REVOKE ALL ON users, api_tokens, sessions, audit_log FROM {SCOPED_ROLE}"))
    conn.execute(text(f"GRANT INSERT ON tile_cache, tile_overview, tile_overview_built TO {SCOPED_ROLE}"))
    conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {SCOPED_ROLE}"))
    grant_writes(conn, catalog)
    return True
