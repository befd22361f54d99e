"""What every command shares: the console, settings, engine and catalog, and the one place that
turns a domain error or a database outage into a message and an exit code."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from typer.core import TyperGroup

from fupin_gis.catalog import Catalog, load_catalog
from fupin_gis.db.failures import database_failure
from fupin_gis.errors import DatabaseUnavailable, FupinError, ImportRefused, InvalidInput
from fupin_gis.settings import Settings

console = Console(stderr=True)
JSON_ERRORS = "fupin_json_errors"  # ctx.meta key: the command prints its errors as JSON


def load_settings() -> Settings:
    """The settings from the environment."""
    return Settings()


def open_engine(url: str | None = None) -> Engine:
    """An engine on the configured database (or ``url``)."""
    from fupin_gis.db.engine import make_engine

    return make_engine(load_settings(), url)


def open_catalog() -> Catalog:
    """The layer catalog."""
    return load_catalog(load_settings().catalog_dir)


def errors_as_json(ctx: typer.Context) -> None:
    """Let the running command's errors print as JSON on stdout (for ``--json``)."""
    ctx.meta[JSON_ERRORS] = True


def exit_code(exc: FupinError) -> int:
    """2 for input the user can correct (a file, an option), 1 for everything else."""
    return 2 if isinstance(exc, (InvalidInput, ImportRefused)) else 1


class FupinGroup(TyperGroup):
    """The command group that reports errors once for every command below it."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        """Run the command; a domain error or a lost database becomes one message and an exit code."""
        try:
            return super().invoke(ctx)
        except FupinError as exc:
            _report(ctx, exc)
            raise typer.Exit(exit_code(exc)) from exc
        except (DBAPIError, psycopg.Error) as exc:
            error = database_failure(exc)  # the same translation as the API's (db.failures)
            if error is None:
                raise
            if type(error) is DatabaseUnavailable:  # not its kin DatabaseDiskFull: that one says what to do
                first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                error = DatabaseUnavailable(
                    f"数据库不可用：请运行 fupin-gis db up 或检查 DATABASE_URL（{first}）",
                    f"database unavailable: run `fupin-gis db up` or check DATABASE_URL ({first})",
                )
            _report(ctx, error)
            raise typer.Exit(exit_code(error)) from exc


def _report(ctx: typer.Context, exc: FupinError) -> None:
    """Say what went wrong, once: JSON on stdout for ``--json``, else both languages on stderr."""
    if ctx.meta.get(JSON_ERRORS):
        typer.echo(json.dumps(exc.to_dict(), ensure_ascii=False))
    else:
        console.print(f"[red]{exc.zh}[/red]\n{exc.en}")


app = typer.Typer(
    cls=FupinGroup,
    help="fupin-gis：扶贫空间规划与资产登记 / poverty-alleviation GIS registry.",
    no_args_is_help=True,
)
