"""SQL text: the one quoting helper for identifiers (``psycopg.sql.Identifier`` underneath), and
the loader of the ``.sql`` files that sit beside the code running them.

Names come from the validated catalog (``catalog.names.SqlName``: no reserved word, no odd
character) and are still quoted wherever they are written into SQL; values are always bound.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from psycopg import sql


def ident(*names: str) -> str:
    """``names`` as one quoted (qualified) SQL identifier, as text for SQLAlchemy's ``text()``."""
    return sql.Identifier(*names).as_string(None)


def column(alias: str, name: str) -> str:
    """``alias.name`` with both parts quoted."""
    return f"{ident(alias)}.{ident(name)}"


def literal(value: str) -> str:
    """``value`` as a quoted SQL string literal (for the few places a statement cannot take a bind
    parameter, such as a policy or a generated expression)."""
    return sql.Literal(value).as_string(None)


@cache
def sql_file(package: str, name: str) -> str:
    """The text of ``sql/<name>`` beside the Python package ``package`` (read once)."""
    return resources.files(package).joinpath(f"sql/{name}").read_text("utf-8")
