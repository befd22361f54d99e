"""The catalog's name type: every name the code writes into SQL (a layer's table, its fields, its
seat column, the field it is styled by, enum keys) is a lower-case identifier that is not an SQL
reserved word, so it means the same quoted or not, in every statement and every tool."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,40}$")

# PostgreSQL's reserved key words: ``SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')``
# (PostgreSQL 15; ``system_user`` is reserved from 16 on). tests/test_catalog.py compares the list
# with the live server's.
RESERVED_WORDS = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "binary",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "collation",
        "column",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "not",
        "notnull",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "overlaps",
        "placing",
        "primary",
        "references",
        "returning",
        "right",
        "select",
        "session_user",
        "similar",
        "some",
        "symmetric",
        "system_user",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
    ]
)
LATER_RESERVED = frozenset({"system_user"})  # reserved by PostgreSQL versions newer than 15


def sql_name_problem(name: str) -> tuple[str, str] | None:
    """Why ``name`` cannot be a catalog name (Chinese, English), or None if it can."""
    if not IDENTIFIER.match(name):
        return (
            f"“{name}” 不是合法的标识符：小写字母开头，只含 a-z、0-9、_，至多41个字符",
            f"'{name}' is not a valid identifier: a lower-case letter, then a-z, 0-9 or _, at most 41 characters",
        )
    if name in RESERVED_WORDS:
        return (f"“{name}” 是 SQL 保留字，不能作名称", f"'{name}' is an SQL reserved word and cannot be a name")
    return None


def check_sql_name(name: str) -> str:
    """``name`` if it may be written into SQL; ValueError (both languages) otherwise."""
    problem = sql_name_problem(name)
    if problem is not None:
        raise ValueError(f"{problem[0]} / {problem[1]}")
    return name


SqlName = Annotated[str, AfterValidator(check_sql_name)]
