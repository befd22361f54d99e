"""The embedded PostgreSQL/PostGIS cluster under ``var/pg``: initdb + pg_ctl on a free port.

initdb and pg_ctl refuse to run as root, so when invoked as root every server command runs as
the ``postgres`` user (``runuser``), on a data folder that user owns.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from fupin_gis.errors import ClusterError
from fupin_gis.settings import DbSettings

SERVER_USER = "postgres"
EXTENSIONS = ("postgis", "pgrouting")
REQUIRED_EXTENSIONS = ("postgis",)
SOCKET_PATH_MAX = 100


def _bin_dir() -> Path:
    """The PostgreSQL bin folder: the newest version that has PostGIS installed."""
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in versions:
        if Path(f"/usr/share/postgresql/{bindir.parent.name}/extension/postgis.control").exists():
            return bindir
    if versions:
        return versions[0]
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise ClusterError(
        "找不到 PostgreSQL（initdb）。请运行 make demo 安装，或设置 DATABASE_URL。",
        "PostgreSQL (initdb) not found. Run `make demo` to install it, or set DATABASE_URL.",
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_in_use(port: int) -> bool:
    """True when something listens on ``port``. The sockets a stopped server left in TIME-WAIT do not
    count: PostgreSQL binds with SO_REUSEADDR and takes the port back, so this check binds the same way
    (without it every restart moved the cluster to a new port, and a running app never reconnected)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _pid_alive_postgres(pid: int) -> bool:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm.startswith("postgres")


@dataclass(frozen=True)
class ClusterStatus:
    """What ``fupin-gis db status`` reports."""

    initialised: bool
    running: bool
    pid: int | None
    port: int | None
    data_dir: Path
    url: str | None


class LocalCluster:
    """A PostgreSQL cluster owned by this checkout, under ``settings.local_dir``."""

    def __init__(self, settings: DbSettings) -> None:
        self.settings = settings
        self.home = settings.local_dir.resolve()
        self.as_root = os.geteuid() == 0

    # -- locations ---------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """The PGDATA folder (elsewhere when the server user cannot reach ``home``)."""
        pointer = self.home / "DATA_DIR"
        if pointer.exists():
            return Path(pointer.read_text().strip())
        return self.home / "data"

    @property
    def port_file(self) -> Path:
        """File holding the port the server listens on."""
        return self.home / "port"

    @property
    def password_file(self) -> Path:
        """File holding the generated password (mode 600)."""
        return self.home / "password"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.data_dir.parent / "server.log"

    def _password(self) -> str:
        return self.password_file.read_text().strip()

    def _port(self) -> int | None:
        """The port recorded beside the data (``port``), else the one the server last started with."""
        try:
            return int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            pass
        try:  # postmaster.opts: the command line of the last start, "... -p 5433 ..."
            found = re.search(r'"-p" "(\d+)"|-p (\d+)', (self.data_dir / "postmaster.opts").read_text())
        except OSError:
            return None
        return int(found.group(1) or found.group(2)) if found else None

    def url(self, database: str | None = None, *, superuser: bool = False) -> str:
        """The SQLAlchemy URL of the cluster's database (or of ``database``)."""
        port = self._port()
        if port is None:
            raise ClusterError(
                "本地数据库尚未初始化：请运行 fupin-gis db up",
                "The local database is not initialised: run `fupin-gis db up`",
            )
        user = SERVER_USER if superuser else self.settings.user
        name = database or self.settings.name
        return f"postgresql+psycopg://{user}:{self._password()}@127.0.0.1:{port}/{name}"

    # -- running commands --------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(_bin_dir() / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-2000:]
            log = ""
            if self.log_file.exists():
                log = "\n" + "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise ClusterError(
                f"本地数据库命令失败：{args[0]}：{tail}{log}",
                f"Local database command failed: {args[0]}: {tail}{log}",
            )
        return proc

    def _server_can_reach(self, path: Path) -> bool:
        if not self.as_root:
            return True
        proc = subprocess.run(["runuser", "-u", SERVER_USER, "--", "test", "-x", str(path)], check=False)
        return proc.returncode == 0

    def _chown(self, path: Path) -> None:
        if self.as_root:
            shutil.chown(path, SERVER_USER, SERVER_USER)

    # -- lifecycle ---------------------------------------------------------------------
    def initialised(self) -> bool:
        """True when initdb has run."""
        return (self.data_dir / "PG_VERSION").exists()

    def _init(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        data = self.home / "data"
        if not self._server_can_reach(self.home):
            # The checkout sits where the server user cannot enter (e.g. under /root).
            digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
            data = Path("/var/lib/fupin-gis") / digest / "data"
            (self.home / "DATA_DIR").write_text(str(data))
        data.parent.mkdir(parents=True, exist_ok=True)
        self._chown(data.parent)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(18))
            self.password_file.chmod(0o600)
        pwfile = data.parent / "pwfile"
        pwfile.write_text(self._password() + "\n")
        self._chown(pwfile)
        try:
            self._run(
                "initdb",
                "-D",
                str(data),
                "-U",
                SERVER_USER,
                "--pwfile",
                str(pwfile),
                "-E",
                "UTF8",
                "--no-locale",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# fupin-gis embedded cluster\nlisten_addresses = '127.0.0.1'\n"
                "max_connections = 100\nshared_buffers = 256MB\nwork_mem = 32MB\n"
                "maintenance_work_mem = 256MB\nfsync = on\n"
            )

    def _running_pid(self) -> int | None:
        """PID of the live postmaster, removing a stale ``postmaster.pid`` left by a crash."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            first = pidfile.read_text().splitlines()[0]
            pid = int(first)
        except (OSError, ValueError, IndexError):
            return None
        if _pid_alive_postgres(pid):
            return pid
        pidfile.unlink(missing_ok=True)
        return None

    def status(self) -> ClusterStatus:
        """Whether the cluster exists and runs, and where."""
        pid = self._running_pid() if self.initialised() else None
        port = self._port()
        url = self.url() if port is not None and self.password_file.exists() else None
        return ClusterStatus(self.initialised(), pid is not None, pid, port, self.data_dir, url)

    def up(self) -> str:
        """Initialise (once) and start the cluster, create the role, database and extensions.

        Idempotent; recovers from a stale pid file after a crash. Returns the database URL.
        """
        if not self.initialised():
            self._init()
        if self._running_pid() is None:
            self._start()
        self._ensure_database(self.settings.name)
        return self.url()

    def _start(self) -> None:
        # the same port as before whenever it is free, so running apps reconnect by themselves
        port = self._port()
        if port is None or _port_in_use(port):
            port = _free_port()
        self.port_file.write_text(str(port))
        sockdir = str(self.data_dir)
        if len(sockdir) > SOCKET_PATH_MAX:
            sockdir = ""
        opts = f"-p {port} -k '{sockdir}'"
        last: ClusterError | None = None
        for _ in range(10):
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "-o", opts, "start"
                )
                return
            except ClusterError as exc:
                # After a kill -9 the old backends hold shared memory for a moment.
                last = exc
                self._running_pid()
                time.sleep(1)
        assert last is not None
        raise last

    def down(self) -> bool:
        """Stop the cluster if it runs; True if it was running."""
        if not self.initialised() or self._running_pid() is None:
            return False
        self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60", "-m", "fast", "stop")
        return True

    def _connect(self, dbname: str) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self._port(),
            user=SERVER_USER,
            password=self._password(),
            dbname=dbname,
            autocommit=True,
        )

    def _ensure_database(self, name: str) -> None:
        role = self.settings.user
        with self._connect("postgres") as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(self._password())
                    )
                )
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (SCOPED_ROLE,)).fetchone() is None:
                # the role scoped requests run as: not the tables' owner, so row-level security applies
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(SCOPED_ROLE)))
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(SCOPED_ROLE), sql.Identifier(role)))
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(role)))
        with self._connect(name) as conn:
            create_extensions(conn)

    def create_database(self, name: str) -> str:
        """Create (or re-create) a throwaway database with the extensions; returns its URL."""
        with self._connect("postgres") as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._ensure_database(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database made by ``create_database``."""
        with self._connect("postgres") as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


SCOPED_ROLE = "fupin_scoped"


def create_extensions(conn: psycopg.Connection) -> list[str]:
    """Create PostGIS (required) and pgRouting (when installed); returns what was created."""
    available = {row[0] for row in conn.execute("SELECT name FROM pg_available_extensions").fetchall()}
    made = []
    for ext in EXTENSIONS:
        if ext not in available:
            if ext in REQUIRED_EXTENSIONS:
                raise ClusterError(f"数据库服务器未安装 {ext} 扩展", f"The database server lacks the {ext} extension")
            continue
        conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
        made.append(ext)
    return made
