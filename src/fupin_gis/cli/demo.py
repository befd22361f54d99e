"""``fupin-gis demo`` and ``fupin-gis serve``: a synthetic county, and the web map and API."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy import Engine

from fupin_gis.cli.common import app, console, load_settings, open_catalog, open_engine


class Scale(StrEnum):
    """Demo sizes."""

    plan = "plan"
    county = "county"
    province = "province"


@app.command("demo")
def demo(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same county.")] = 1,
    scale: Annotated[Scale, typer.Option(help="plan: the brief's 45 villages; county; province.")] = Scale.plan,
    out: Annotated[str | None, typer.Option(help="Also write the roads layer to this .gpkg/.zip file.")] = None,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Load only into an empty database.")] = False,
) -> None:
    """Generate a synthetic county and load it (replacing every layer)."""
    from fupin_gis.db.setup import bring_up, layer_counts
    from fupin_gis.demo import generate, load_demo, write_layer

    settings = load_settings()
    url = bring_up(settings)
    catalog = open_catalog()
    if if_empty and any(layer_counts(open_engine(url), catalog).values()):
        console.print("数据库已有数据，跳过演示数据 / the database has data: demo not loaded")
        _demo_accounts(open_engine(url))
        return
    county = generate(scale.value, seed, progress=console)
    counts = load_demo(open_engine(url), catalog, county, progress=console)
    for layer, n in counts.items():
        console.print(f"  {catalog.layer(layer).label:<12} {layer:<16} {n:>10,}")
    from fupin_gis.ledger import demo as ledger_demo

    ledger_demo.reset(open_engine(url))  # the ledger's rows point at the features just replaced
    if scale == Scale.plan:
        from fupin_gis.ledger.context import open_ledger

        with console.status("项目与资金 / projects and funds (printing the notice sheets)…"):
            made = ledger_demo.build(open_ledger(open_engine(url), catalog, settings))
        console.print(
            f"项目库 / project library: {made['projects']} 个2011年子项目, 规则拒绝 refused: {len(made['refused'])}"
        )
        from fupin_gis.coverage.snapshots import create_run

        with console.status("覆盖分析 / coverage…"):
            run = create_run(open_engine(url), settings.coverage, catalog)
        console.print(f"覆盖分析 / coverage run {run['run_id']}")
    _demo_accounts(open_engine(url))
    if out:
        write_layer(county, "roads", out)
        console.print(f"roads written to {out}")


DEMO_PASSWORD = "fupin-demo"


def _demo_accounts(engine: Engine) -> None:
    """Sign-in accounts for the demo, one per role, unless the database has accounts already."""
    from sqlalchemy import text

    from fupin_gis.auth.accounts import add_user

    with engine.connect() as conn:
        if conn.execute(text("SELECT count(*) FROM users")).scalar_one():
            return
        county = conn.execute(text("SELECT code FROM counties ORDER BY code LIMIT 1")).scalar_one()
        town = conn.execute(text("SELECT code FROM townships ORDER BY code LIMIT 1")).scalar_one()
    accounts = [
        ("admin", "admin", "*"),
        ("planner", "planner", county),
        ("engineer", "engineer", town),
        ("viewer", "viewer", county),
        ("finance", "finance", county),
        ("auditor", "auditor", county),
    ]
    for name, role, scope in accounts:
        add_user(engine, name, DEMO_PASSWORD, role, scope)
    console.print(
        f"演示账号 / demo accounts (password {DEMO_PASSWORD}): " + ", ".join(f"{n} ({r}, {s})" for n, r, s in accounts)
    )


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the web map and API."""
    import uvicorn

    from fupin_gis.db.setup import bring_up

    settings = load_settings()
    bring_up(settings)
    console.print(f"地图 / map: http://{host}:{port}/")
    uvicorn.run("fupin_gis.main:create_app", factory=True, host=host, port=port)
