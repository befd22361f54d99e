"""``fupin-gis db``: the embedded cluster or DATABASE_URL: up, down, status, url, reset, check, backup, restore."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fupin_gis.cli.common import console, load_settings, open_catalog, open_engine
from fupin_gis.settings import Settings

db_app = typer.Typer(help="数据库 / the database: embedded cluster or DATABASE_URL.", no_args_is_help=True)


@db_app.command("up")
def db_up() -> None:
    """Start the embedded PostGIS (unless DATABASE_URL is set) and apply migrations."""
    from fupin_gis.db.setup import bring_up

    settings = load_settings()
    with console.status("启动数据库 / starting the database…"):
        bring_up(settings)
    _print_status(settings)


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded cluster."""
    from fupin_gis.db.cluster import LocalCluster

    settings = load_settings()
    if settings.external_url:
        console.print("使用 DATABASE_URL 指定的服务器，无需停止 / using DATABASE_URL: nothing to stop")
        return
    stopped = LocalCluster(settings.db).down()
    console.print("已停止 / stopped" if stopped else "未在运行 / was not running")


def _print_status(settings: Settings) -> None:
    from fupin_gis.db.cluster import LocalCluster

    if settings.external_url:
        typer.echo("database: DATABASE_URL (external server)")
        return
    st = LocalCluster(settings.db).status()
    typer.echo(f"数据目录 / data:    {st.data_dir}")
    typer.echo(f"已初始化 / initialised: {'yes' if st.initialised else 'no'}")
    typer.echo(f"运行中 / running:   {'yes, pid ' + str(st.pid) if st.running else 'no'}")
    typer.echo(f"端口 / port:        {st.port}")


@db_app.command("status")
def db_status() -> None:
    """Say where the data lives and whether the server runs."""
    _print_status(load_settings())


@db_app.command("url")
def db_url() -> None:
    """Print the database URL."""
    from fupin_gis.db.engine import database_url

    typer.echo(database_url(load_settings()))


@db_app.command("reset")
def db_reset(yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Empty every layer (and the batch list)."""
    from fupin_gis.db.setup import empty_layers

    if not yes:
        typer.confirm("清空所有图层？/ Empty every layer?", abort=True)
    empty_layers(open_engine(), open_catalog())
    console.print("所有图层已清空 / every layer emptied")


@db_app.command("check")
def db_check() -> None:
    """Compare the database schema with the catalog."""
    from fupin_gis.db.check import schema_problems

    with open_engine().connect() as conn:
        problems = schema_problems(conn, open_catalog())
    for p in problems:
        typer.echo(p)
    if problems:
        raise typer.Exit(1)
    typer.echo("数据库与图层目录一致 / the database matches the catalog")


@db_app.command("backup")
def db_backup(file: Annotated[Path, typer.Argument(help="the file to write (pg_dump custom format)")]) -> None:
    """Write the whole database to FILE: layers, batches, coverage runs, accounts, audit log."""
    from fupin_gis.db.backup import backup

    with console.status("备份 / backing up…"):
        archive = backup(load_settings(), file)
    typer.echo(f"已备份 / backed up: {archive.path} ({archive.size:,} bytes, sha256 {archive.sha256[:16]})")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="a file written by `fupin-gis db backup`")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Replace the database's contents with FILE, then migrate and re-apply row-level security."""
    from fupin_gis.db.backup import restore

    if not yes:
        typer.confirm("用备份替换数据库的全部内容？/ Replace everything in the database with the backup?", abort=True)
    with console.status("恢复 / restoring…"):
        archive = restore(load_settings(), file)
    typer.echo(f"已恢复 / restored: {archive.path} (sha256 {archive.sha256[:16]})")
