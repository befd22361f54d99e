"""Database failures translated into domain errors, once, for every boundary: the API and the tiles
(``api.failures``) and the command line (``cli.common.FupinGroup``) ask :func:`database_failure`.

An outage (connection refused, the server shutting down, a broken connection) is
``DatabaseUnavailable``, a full disk ``DatabaseDiskFull``, a value PostgreSQL cannot take (a NUL
character, a number out of range) ``InvalidInput``; anything else is a fault of ours and is raised.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import exc as sa

from fupin_gis.errors import DatabaseDiskFull, DatabaseUnavailable, FupinError, InvalidInput

DISK_FULL = "53100"  # SQLSTATE disk_full


def database_failure(error: BaseException) -> FupinError | None:
    """The domain error for a database exception, or None when it is a fault of ours (a 500)."""
    orig = error.orig if isinstance(error, sa.DBAPIError) else error
    if isinstance(orig, psycopg.errors.DiskFull) or getattr(orig, "sqlstate", None) == DISK_FULL:
        return DatabaseDiskFull(
            "数据库磁盘已满，无法写入：请管理员清理磁盘空间（如删除旧的分析结果）后重试",
            "The database's disk is full, nothing can be written: an administrator must free space "
            "(e.g. prune old coverage runs), then try again",
        )
    outage = (sa.OperationalError, sa.InterfaceError, sa.TimeoutError, psycopg.OperationalError, psycopg.InterfaceError)
    if isinstance(error, outage) or isinstance(orig, outage):
        return DatabaseUnavailable(
            "数据库暂时不可用：请稍后重试（数据库恢复后服务会自动重连）",
            "The database is unavailable: try again in a moment (the server reconnects when it is back)",
        )
    if isinstance(orig, psycopg.DataError):
        # a value of the request the database cannot hold: its own words name the problem
        diag = getattr(orig, "diag", None)
        said = (getattr(diag, "message_primary", None) or str(orig).splitlines()[0]).strip()
        if "NUL" in said:
            return InvalidInput(
                "请求中的文本含有 NUL 字符（\\x00），不能保存：请只发送文字",
                "The request's text contains a NUL character (\\x00), which cannot be stored: send plain text",
            )
        return InvalidInput(
            f"请求中的值无效（数据库：{said}）", f"A value of the request is invalid (database: {said})"
        )
    return None
