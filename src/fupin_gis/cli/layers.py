"""``fupin-gis layers``: the layer catalog."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fupin_gis.cli.common import load_settings, open_catalog

layers_app = typer.Typer(help="图层目录 / the layer catalog.", no_args_is_help=True)


@layers_app.command("validate")
def layers_validate() -> None:
    """Validate the layer catalog; on error name the file and key."""
    settings = load_settings()
    catalog = open_catalog()
    typer.echo(f"OK: {len(catalog.layers)} layers in {settings.catalog_dir}")


@layers_app.command("list")
def layers_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the layers of the catalog."""
    catalog = open_catalog()
    if as_json:
        typer.echo(json.dumps([s.model_dump(mode="json") for s in catalog.ordered()], ensure_ascii=False))
        return
    table = Table("name", "图层", "geometry", "fields")
    for spec in catalog.ordered():
        table.add_row(spec.name, spec.label, spec.geometry, str(len(spec.fields)))
    Console().print(table)
