"""Compare a live database with the catalog: tables, columns, types, SRIDs, indexes, checks."""

from __future__ import annotations

from sqlalchemy import Connection, text

from fupin_gis.catalog import Catalog
from fupin_gis.db.schema import SQL_TYPES, field_checks

# information_schema udt_name for each catalog field type
UDT = {
    "text": "text",
    "code": "text",
    "enum": "text",
    "integer": "int4",
    "number": "float8",
    "boolean": "bool",
    "date": "date",
}


def schema_problems(conn: Connection, catalog: Catalog) -> list[str]:
    """Every difference between the database behind ``conn`` and the catalog (empty: they match)."""
    assert set(UDT) == set(SQL_TYPES)
    problems: list[str] = []
    cols = conn.execute(
        text(
            "SELECT table_name, column_name, udt_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
    ).all()
    columns: dict[str, dict[str, tuple[str, str]]] = {}
    for table, column, udt, nullable in cols:
        columns.setdefault(table, {})[column] = (udt, nullable)
    geoms = {
        (r.f_table_name, r.f_geometry_column): (r.type, r.srid)
        for r in conn.execute(text("SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns"))
    }
    indexes = {
        r.indexname: r.indexdef
        for r in conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"))
    }
    checks = {
        r.conname: r.def_
        for r in conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) AS def_ FROM pg_constraint "
                "WHERE contype = 'c' AND connamespace = current_schema()::regnamespace"
            )
        )
    }
    for spec in catalog.ordered():
        have = columns.get(spec.name)
        if have is None:
            problems.append(f"{spec.name}: table missing")
            continue
        wanted_geoms = [("geom", spec.geometry.upper())]
        if spec.seat is not None:
            wanted_geoms.append((spec.seat.name, "POINT"))
        for column, gtype in wanted_geoms:
            got = geoms.get((spec.name, column))
            if got != (gtype, catalog.srid):
                problems.append(f"{spec.name}.{column}: geometry {got}, catalog wants ({gtype}, {catalog.srid})")
            index = indexes.get(f"ix_{spec.name}_{column}", "")
            if "USING gist" not in index:
                problems.append(f"{spec.name}.{column}: no GiST index")
        for field in spec.fields:
            got_col = have.get(field.name)
            want = (UDT[field.type], "NO" if field.required else "YES")
            if got_col != want:
                problems.append(f"{spec.name}.{field.name}: column {got_col}, catalog wants {want}")
            for check in field_checks(field, catalog):
                name = f"ck_{spec.name}_{check.name}"
                if name not in checks:
                    problems.append(f"{spec.name}.{field.name}: CHECK {name} missing")
                elif field.type == "enum":
                    for value in field.enum_values(catalog):
                        if f"'{value.key}'" not in checks[name]:
                            problems.append(f"{spec.name}.{field.name}: CHECK {name} lacks '{value.key}'")
        if spec.key is not None and f"uq_{spec.name}_{spec.key}" not in indexes:
            problems.append(f"{spec.name}.{spec.key}: unique index missing")
        extra = set(have) - {"id", "geom", "extra", "batch_id", "created_at", "updated_at", *spec.field_names}
        extra -= {spec.seat.name} if spec.seat else set()
        for column in sorted(extra):
            problems.append(f"{spec.name}.{column}: column not in the catalog")
    return problems
