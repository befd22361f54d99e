"""Backups: ``fupin-gis db backup FILE`` and ``fupin-gis db restore FILE`` (pg_dump custom format).

On the embedded cluster both run as its superuser, with the pg_dump / pg_restore of the
PostgreSQL that runs it; with ``DATABASE_URL`` they run as the URL's user, who should own the
database. A restore replaces the database's contents in one transaction (``--clean --if-exists
--single-transaction``), keeps the extensions in place (PostGIS and pgRouting belong to whoever
created them, and a non-superuser may not drop them), then brings the schema to the current
migration and re-applies row-level security and its grants. Audit rows written after the backup
was taken are carried over, so a restore never erases the trail; the backup and the restore
are audited themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from fupin_gis.auth.accounts import SYSTEM, record
from fupin_gis.db import migrate
from fupin_gis.db.cluster import LocalCluster, _bin_dir, create_extensions
from fupin_gis.db.engine import database_url
from fupin_gis.errors import BackupFailed, DatabaseUnavailable, InvalidInput
from fupin_gis.settings import Settings

MAGIC = b"PGDMP"  # the first bytes of a pg_dump custom-format archive
# TOC entries a restore leaves alone: the extensions (kept in place) and PostGIS's own SRID rows
SKIPPED = re.compile(r"^\d+; \d+ \d+ (EXTENSION|COMMENT - EXTENSION|TABLE DATA \S+ spatial_ref_sys) ")


@dataclass(frozen=True)
class Archive:
    """A backup file: where, how large, its SHA-256."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class _Target:
    conninfo: str  # a libpq URI without the password (it goes in PGPASSWORD, not on the command line)
    password: str | None
    owner_url: str  # the app's own user: migrations, grants and audit rows are written as it
    external: bool


def _target(settings: Settings) -> _Target:
    if settings.external_url:
        owner = database_url(settings)
        url = make_url(owner)
    else:
        cluster = LocalCluster(settings.db)
        cluster.up()  # started if stopped; role, database and extensions ensured
        owner = cluster.url()
        url = make_url(cluster.url(superuser=True))
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return _Target(conninfo, url.password, owner, bool(settings.external_url))


def _tool(name: str, args: list[str], target: _Target) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGPASSWORD": target.password or os.environ.get("PGPASSWORD", "")}
    try:
        proc = subprocess.run([str(_bin_dir() / name), *args], env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupFailed(f"无法运行 {name}：{exc}", f"Cannot run {name}: {exc}", tool=name) from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-1500:]
        raise BackupFailed(f"{name} 失败：{tail}", f"{name} failed: {tail}", tool=name)
    return proc


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _audit(engine: Engine, action: str, detail: dict[str, Any]) -> None:
    record(engine, SYSTEM, action, detail)


def backup(settings: Settings, path: Path) -> Archive:
    """Write the whole database to ``path`` (pg_dump custom format); a failed dump leaves no file."""
    path = path.expanduser().resolve()
    if not path.parent.is_dir():
        raise InvalidInput(f"目录不存在：{path.parent}", f"No such folder: {path.parent}", file=str(path))
    target = _target(settings)
    part = path.with_name(path.name + ".part")
    try:
        _tool("pg_dump", ["--format=custom", "--file", str(part), "--dbname", target.conninfo], target)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    archive = Archive(path, path.stat().st_size, _digest(path))
    engine = create_engine(target.owner_url)
    try:
        _audit(engine, "db_backup", {"file": path.name, "bytes": archive.size, "sha256": archive.sha256})
    finally:
        engine.dispose()
    return archive


def _check_archive(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(len(MAGIC))
    except OSError as exc:
        raise InvalidInput(f"无法读取备份文件 {path}：{exc}", f"Cannot read the backup {path}: {exc}") from exc
    if head != MAGIC:
        raise InvalidInput(
            f"{path.name} 不是 fupin-gis db backup 写出的备份（pg_dump 自定义格式）",
            f"{path.name} is not a backup written by `fupin-gis db backup` (pg_dump custom format)",
            file=path.name,
        )


def _audit_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('audit_log')")).scalar() is None:
            return []
        return list(conn.execute(text("SELECT at, username, action, detail FROM audit_log ORDER BY id")))


def restore(settings: Settings, path: Path) -> Archive:
    """Replace the database's contents with the backup at ``path``, then migrate and re-apply row security."""
    path = path.expanduser().resolve()
    _check_archive(path)
    target = _target(settings)
    if target.external:
        import psycopg

        try:
            with psycopg.connect(target.owner_url.replace("+psycopg", ""), autocommit=True) as conn:
                create_extensions(conn)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"无法连接数据库：{exc}", f"Cannot connect to the database: {exc}") from exc
    archive = Archive(path, path.stat().st_size, _digest(path))
    engine = create_engine(target.owner_url)
    try:
        before = _audit_rows(engine)
        toc = _tool("pg_restore", ["--list", str(path)], target).stdout
        options = ["--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-privileges"]
        if target.external:
            options.append("--no-owner")  # objects belong to whoever restores: the database's owner
        with tempfile.TemporaryDirectory(prefix="fupin-restore-") as tmp:
            listing = Path(tmp) / "toc.list"
            listing.write_text("".join(line for line in toc.splitlines(True) if not SKIPPED.match(line)))
            _tool("pg_restore", [*options, "--use-list", str(listing), "--dbname", target.conninfo, str(path)], target)
        migrate.upgrade(settings, target.owner_url)  # to head, then row security and its grants
        restored = _audit_rows(engine)
        newest = max((r.at for r in restored), default=None)
        later = [r for r in before if newest is None or r.at > newest]
        with engine.begin() as conn:
            for r in later:  # the trail written since the backup was taken
                conn.execute(
                    text("INSERT INTO audit_log (at, username, action, detail) VALUES (:t, :u, :a, CAST(:d AS jsonb))"),
                    {"t": r.at, "u": r.username, "a": r.action, "d": json.dumps(r.detail, ensure_ascii=False)},
                )
        _audit(engine, "db_restore", {"file": path.name, "sha256": archive.sha256, "carried_audit_rows": len(later)})
    finally:
        engine.dispose()
    return archive
