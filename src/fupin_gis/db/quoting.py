"""The one quoting helper for identifiers in SQL (``psycopg.sql.Identifier`` underneath).

Table and column names come from the validated catalog, and are still quoted here wherever new
code writes them into SQL; values are always bind parameters.
"""

from __future__ import annotations

from psycopg import sql


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return sql.Identifier(name).as_string(None)


def column(alias: str, name: str) -> str:
    """``alias.name`` with both parts quoted."""
    return f"{ident(alias)}.{ident(name)}"
