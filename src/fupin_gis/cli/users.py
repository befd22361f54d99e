"""``fupin-gis users``: accounts, roles, scopes and API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from fupin_gis.cli.common import open_engine

users_app = typer.Typer(
    help="账号 / accounts: roles viewer, planner, engineer, admin, finance, auditor; scoped to counties or townships.",
    no_args_is_help=True,
)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="viewer | planner | engineer | admin | finance | auditor")],
    scope: Annotated[str, typer.Option(help="* or comma-separated county (6-digit) / township (9-digit) codes")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create an account (the password is hashed with Argon2id)."""
    from fupin_gis.auth.accounts import add_user

    add_user(open_engine(), username, password, role, scope)
    typer.echo(f"用户 {username} 已创建 / created ({role}, {scope})")


@users_app.command("list")
def users_list() -> None:
    """Every account: role, scope, disabled or not."""
    from fupin_gis.auth.accounts import list_users

    for u in list_users(open_engine()):
        typer.echo(f"{u['username']:<20} {u['role']:<9} {u['scope']:<30} {'disabled' if u['disabled'] else ''}")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account; its sessions and tokens stop working."""
    from fupin_gis.auth.accounts import disable_user

    disable_user(open_engine(), username)
    typer.echo(f"用户 {username} 已停用 / disabled")


@users_app.command("token")
def users_token(username: Annotated[str, typer.Argument()]) -> None:
    """Print a new API token for scripts (send it as ``Authorization: Bearer TOKEN``); shown once."""
    from fupin_gis.auth.accounts import new_token

    typer.echo(new_token(open_engine(), username))
