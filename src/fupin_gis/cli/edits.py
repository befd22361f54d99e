"""``fupin-gis rollback-edits``: undo an account's OGC API edits on a layer since a time."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fupin_gis.cli.common import app, open_catalog, open_engine


@app.command("rollback-edits")
def rollback_edits_cmd(
    user: Annotated[str, typer.Option("--user", help="账号 / the account whose edits to undo")],
    layer: Annotated[str, typer.Option("--layer", help="图层 / layer")],
    since: Annotated[str, typer.Option("--since", help="ISO 时间 / ISO time, e.g. 2026-12-02T09:00+08:00")],
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Roll back every API edit (batch kind api-edit) ``--user`` made on ``--layer`` since ``--since``:
    newest first, in one transaction, all or nothing."""
    from fupin_gis.errors import LayerNotFound
    from fupin_gis.ingest.feature_writes import rollback_api_edits

    catalog = open_catalog()
    if layer not in catalog.layers:
        raise LayerNotFound(layer)
    result = rollback_api_edits(open_engine(), catalog, catalog.layers[layer], user, since, actor="system")
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    typer.echo(
        f"已回滚 {len(result['batches'])} 个批次 / rolled back {len(result['batches'])} batches "
        f"{result['batches']}: removed {result['removed']}, restored {result['restored']}"
    )
