"""``fupin-gis layers``: the layer catalog."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fupin_gis.cli.common import errors_as_json, load_settings, open_catalog, open_engine
from fupin_gis.coverage.completeness import completeness

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


@layers_app.command("completeness")
def layers_completeness(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON rows instead of a table")] = False,
    township: Annotated[str | None, typer.Option("--township", help="6-digit county or 9-digit township code")] = None,
) -> None:
    """Per coverage rule, the fields it reads, the share of features where each is empty and what the rule does then."""
    if as_json:
        errors_as_json(ctx)
    with open_engine().connect() as conn:
        rows = completeness(conn, open_catalog(), load_settings().coverage, township)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("规则 rule", "字段 field", "要素 features", "空值 empty", "比例 share", "空值视为 an empty value is")
    for r in rows:
        share = "-" if r["share_empty"] is None else f"{r['share_empty'] * 100:.1f}%"
        table.add_row(
            r["rule_label"],
            f"{r['label']} ({r['layer']}.{r['field']})",
            f"{r['features']:,}",
            f"{r['empty']:,}",
            share,
            f"{r['meaning']} / {r['meaning_en']}",
        )
    Console().print(table)
