"""``fupin-gis profiles``: saved readings of survey files (columns, values, encoding, CRS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fupin_gis.cli.common import open_catalog, open_engine

profiles_app = typer.Typer(
    help="导入方案 / import profiles: a county's survey conventions, confirmed once and reused.",
    no_args_is_help=True,
)


@profiles_app.command("list")
def profiles_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every saved profile: layer, columns, author, time."""
    from fupin_gis.ingest.profiles import list_profiles

    with open_engine().connect() as conn:
        found = list_profiles(conn)
    if as_json:
        typer.echo(json.dumps([p.to_dict() for p in found], ensure_ascii=False))
        return
    for p in found:
        typer.echo(f"{p.name:<24} {p.layer:<16} {len(p.columns):>3} 列 columns  {p.author or ''}  {p.updated_at or ''}")


@profiles_app.command("show")
def profiles_show(name: Annotated[str, typer.Argument()]) -> None:
    """One profile as JSON."""
    from fupin_gis.ingest.profiles import get_profile

    with open_engine().connect() as conn:
        typer.echo(json.dumps(get_profile(conn, name).to_dict(), ensure_ascii=False, indent=2))


@profiles_app.command("export")
def profiles_export(
    names: Annotated[list[str] | None, typer.Argument(help="profiles to export (default: all)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="TOML file (default: standard output)")] = None,
) -> None:
    """Write profiles as TOML, for another county's `fupin-gis profiles import`."""
    from fupin_gis.ingest.profiles import get_profile, list_profiles, to_toml

    with open_engine().connect() as conn:
        chosen = [get_profile(conn, n) for n in names] if names else list_profiles(conn)
    body = to_toml(chosen)
    if output is None:
        typer.echo(body)
    else:
        output.write_text(body, encoding="utf-8")
        typer.echo(f"{len(chosen)} 个方案已写入 profiles written: {output}")


@profiles_app.command("import")
def profiles_import(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Read profiles from a TOML file (all or none; a profile of the same name is replaced)."""
    from fupin_gis.ingest.profiles import from_toml, save_profile

    catalog = open_catalog()
    read = from_toml(path.read_text(encoding="utf-8"), "cli")
    with open_engine().begin() as conn:
        for p in read:
            save_profile(conn, p, catalog)
    typer.echo(f"{len(read)} 个方案已导入 profiles imported: {', '.join(p.name for p in read)}")


@profiles_app.command("delete")
def profiles_delete(name: Annotated[str, typer.Argument()]) -> None:
    """Delete a profile."""
    from fupin_gis.ingest.profiles import delete_profile

    with open_engine().begin() as conn:
        delete_profile(conn, name, "cli")
    typer.echo(f"方案 {name} 已删除 / deleted")
