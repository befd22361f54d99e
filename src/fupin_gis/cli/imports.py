"""``fupin-gis import``, ``batches``, ``rollback``: survey files in, exactly undone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fupin_gis.cli.common import app, console, errors_as_json, load_settings, open_catalog, open_engine


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(help="文件 / file: .zip .shp .gpkg .geojson .kml .kmz .csv .xlsx", exists=True, dir_okay=False),
    ],
    layer: Annotated[str, typer.Option("--layer", help="目标图层 / target layer (see `fupin-gis layers list`)")],
    crs: Annotated[str | None, typer.Option(help="坐标系 / CRS, e.g. EPSG:4545 (overrides .prj)")] = None,
    encoding: Annotated[
        str | None, typer.Option(help="文本编码 / text encoding, e.g. gbk, utf-8 (overrides .cpg)")
    ] = None,
    datum: Annotated[str | None, typer.Option(help="gcj02: coordinates from Chinese phone map apps")] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="SRC=DST field mapping; DST '-' drops a column")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE for features that have no value")] = None,
    source: Annotated[str | None, typer.Option(help="one layer (GeoPackage/KML) or file (zip) of the upload")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate and report, write nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print only the JSON report")] = False,
    report_file: Annotated[Path | None, typer.Option("--report", help="write the problem list to this .xlsx")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="import a file again that was imported before")] = False,
    values: Annotated[
        list[str] | None, typer.Option("--values", help="FIELD:SRC=DST value answer; DST '-' makes it empty")
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="read with this saved import profile")] = None,
    save_profile: Annotated[
        str | None, typer.Option("--save-profile", help="save the confirmed reading as this profile (on commit)")
    ] = None,
    no_profile: Annotated[
        bool, typer.Option("--no-profile", help="do not apply a profile that matches the file's columns")
    ] = False,
) -> None:
    """Import a survey file into a layer: all or nothing. Exit 0 ok, 2 validation failed, 1 other error."""
    from fupin_gis.ingest import ImportOptions, run_import
    from fupin_gis.ingest.answers import pairs, value_maps

    if datum not in (None, "gcj02"):
        raise typer.BadParameter("--datum 只支持 gcj02 / only gcj02 is supported")
    settings = load_settings()
    options = ImportOptions.from_settings(
        settings.ingest,
        layer=layer,
        crs=crs,
        encoding=encoding,
        datum=datum,
        mapping=pairs(map_ or [], "--map"),
        defaults=pairs(set_ or [], "--set"),
        values=value_maps(values or []),
        profile=profile,
        save_profile=save_profile,
        use_profiles=not no_profile,
        dry_run=dry_run,
        replace=replace,
        source=source,
        username="cli",
    )
    if as_json:
        errors_as_json(ctx)
    report = run_import(
        open_engine(),
        open_catalog(),
        path,
        options,
        progress=None if as_json else console,
    )
    if report_file:
        report.to_xlsx(report_file)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
    else:
        typer.echo(report.to_text())
    if not report.ok:
        raise typer.Exit(2)


@app.command("batches")
def batches_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List import batches, newest first."""
    from fupin_gis.ingest.batches import list_batches

    rows = list_batches(open_engine())
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, default=str))
        return
    table = Table("batch", "layer", "file", "user", "time", "counts", "status")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["layer"],
            r["source"],
            r["username"] or "",
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            json.dumps(r["counts"], ensure_ascii=False),
            r["status"],
        )
    Console().print(table)


@app.command("rollback")
def rollback_cmd(batch: Annotated[int, typer.Argument(help="batch id (see `fupin-gis batches`)")]) -> None:
    """Remove exactly what a batch added and restore what it replaced."""
    from fupin_gis.ingest.batches import rollback

    result = rollback(open_engine(), open_catalog(), batch)
    typer.echo(
        f"批次 {batch} 已回滚 / batch {batch} rolled back: removed {result['removed']}, restored {result['restored']}"
    )
