"""The ``fupin-gis`` command. Thin: each command parses its options and calls one function."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from fupin_gis.catalog import load_catalog
from fupin_gis.errors import FupinError
from fupin_gis.settings import Settings

app = typer.Typer(help="fupin-gis：扶贫空间规划与资产登记 / poverty-alleviation GIS registry.", no_args_is_help=True)
db_app = typer.Typer(help="数据库 / the database: embedded cluster or DATABASE_URL.", no_args_is_help=True)
layers_app = typer.Typer(help="图层目录 / the layer catalog.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(layers_app, name="layers")
coverage_app = typer.Typer(help="覆盖分析 / coverage rules.", no_args_is_help=True)
app.add_typer(coverage_app, name="coverage")
console = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


def _fail(exc: FupinError) -> typer.Exit:
    console.print(f"[red]{exc.zh}[/red]\n{exc.en}")
    return typer.Exit(1)


@db_app.command("up")
def db_up() -> None:
    """Start the embedded PostGIS (unless DATABASE_URL is set) and apply migrations."""
    from fupin_gis.db.setup import bring_up

    settings = _settings()
    try:
        with console.status("启动数据库 / starting the database…"):
            bring_up(settings)
    except FupinError as exc:
        raise _fail(exc) from exc
    _print_status(settings)


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded cluster."""
    from fupin_gis.db.cluster import LocalCluster

    settings = _settings()
    if settings.external_url:
        console.print("使用 DATABASE_URL 指定的服务器，无需停止 / using DATABASE_URL: nothing to stop")
        return
    try:
        stopped = LocalCluster(settings.db).down()
    except FupinError as exc:
        raise _fail(exc) from exc
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
    _print_status(_settings())


@db_app.command("url")
def db_url() -> None:
    """Print the database URL."""
    from fupin_gis.db.engine import database_url

    try:
        typer.echo(database_url(_settings()))
    except FupinError as exc:
        raise _fail(exc) from exc


@db_app.command("reset")
def db_reset(yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Empty every layer (and the batch list)."""
    from fupin_gis.db.engine import make_engine
    from fupin_gis.db.setup import empty_layers

    settings = _settings()
    if not yes:
        typer.confirm("清空所有图层？/ Empty every layer?", abort=True)
    empty_layers(make_engine(settings), load_catalog(settings.catalog_dir))
    console.print("所有图层已清空 / every layer emptied")


@db_app.command("check")
def db_check() -> None:
    """Compare the database schema with the catalog."""
    from fupin_gis.db.check import schema_problems
    from fupin_gis.db.engine import make_engine

    settings = _settings()
    with make_engine(settings).connect() as conn:
        problems = schema_problems(conn, load_catalog(settings.catalog_dir))
    for p in problems:
        typer.echo(p)
    if problems:
        raise typer.Exit(1)
    typer.echo("数据库与图层目录一致 / the database matches the catalog")


@layers_app.command("validate")
def layers_validate() -> None:
    """Validate the layer catalog; on error name the file and key."""
    settings = _settings()
    try:
        catalog = load_catalog(settings.catalog_dir)
    except FupinError as exc:
        raise _fail(exc) from exc
    typer.echo(f"OK: {len(catalog.layers)} layers in {settings.catalog_dir}")


@layers_app.command("list")
def layers_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the layers of the catalog."""
    catalog = load_catalog(_settings().catalog_dir)
    if as_json:
        typer.echo(json.dumps([s.model_dump(mode="json") for s in catalog.ordered()], ensure_ascii=False))
        return
    table = Table("name", "图层", "geometry", "fields")
    for spec in catalog.ordered():
        table.add_row(spec.name, spec.label, spec.geometry, str(len(spec.fields)))
    Console().print(table)


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
    from fupin_gis.db.engine import make_engine
    from fupin_gis.db.setup import bring_up, layer_counts
    from fupin_gis.demo import generate, load_demo, write_layer

    settings = _settings()
    try:
        url = bring_up(settings)
    except FupinError as exc:
        raise _fail(exc) from exc
    catalog = load_catalog(settings.catalog_dir)
    if if_empty and any(layer_counts(make_engine(settings, url), catalog).values()):
        console.print("数据库已有数据，跳过演示数据 / the database has data: demo not loaded")
        _demo_accounts(make_engine(settings, url))
        return
    county = generate(scale.value, seed, progress=console)
    counts = load_demo(make_engine(settings, url), catalog, county, progress=console)
    for layer, n in counts.items():
        console.print(f"  {catalog.layer(layer).label:<12} {layer:<16} {n:>10,}")
    if scale == Scale.plan:
        from fupin_gis.coverage.snapshots import create_run

        with console.status("覆盖分析 / coverage…"):
            run = create_run(make_engine(settings, url), settings.coverage, catalog)
        console.print(f"覆盖分析 / coverage run {run['run_id']}")
    _demo_accounts(make_engine(settings, url))
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
    ]
    for name, role, scope in accounts:
        add_user(engine, name, DEMO_PASSWORD, role, scope)
    console.print(
        f"演示账号 / demo accounts (password {DEMO_PASSWORD}): " + ", ".join(f"{n} ({r}, {s})" for n, r, s in accounts)
    )


def _parse_map(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise typer.BadParameter(f"--map 需要 源列=目标字段 / --map needs SRC=DST, got '{pair}'")
        src, dst = pair.split("=", 1)
        out[src.strip()] = dst.strip()
    return out


@app.command("import")
def import_(
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
) -> None:
    """Import a survey file into a layer: all or nothing. Exit 0 ok, 2 validation failed, 1 other error."""
    from fupin_gis.db.engine import make_engine
    from fupin_gis.ingest import ImportOptions, run_import

    if datum not in (None, "gcj02"):
        raise typer.BadParameter("--datum 只支持 gcj02 / only gcj02 is supported")
    settings = _settings()
    options = ImportOptions.from_settings(
        settings.ingest,
        layer=layer,
        crs=crs,
        encoding=encoding,
        datum=datum,
        mapping=_parse_map(map_ or []),
        defaults=_parse_map(set_ or []),
        dry_run=dry_run,
        replace=replace,
        source=source,
        username="cli",
    )
    try:
        report = run_import(
            make_engine(settings),
            load_catalog(settings.catalog_dir),
            path,
            options,
            progress=None if as_json else console,
        )
    except FupinError as exc:
        if as_json:
            typer.echo(json.dumps(exc.to_dict(), ensure_ascii=False))
            raise typer.Exit(1) from exc
        raise _fail(exc) from exc
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
    from fupin_gis.db.engine import make_engine
    from fupin_gis.ingest.batches import list_batches

    rows = list_batches(make_engine(_settings()))
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
    from fupin_gis.db.engine import make_engine
    from fupin_gis.ingest.batches import rollback

    settings = _settings()
    try:
        result = rollback(make_engine(settings), load_catalog(settings.catalog_dir), batch)
    except FupinError as exc:
        raise _fail(exc) from exc
    typer.echo(
        f"批次 {batch} 已回滚 / batch {batch} rolled back: removed {result['removed']}, restored {result['restored']}"
    )


@coverage_app.command("run")
def coverage_run(
    rules: Annotated[
        Path | None, typer.Option("--rules", help="TOML file of rule settings (snap_tolerance_m, water_distance_m …)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print only JSON")] = False,
) -> None:
    """Run the coverage rules (1–5 and the village checks) and store the result as a snapshot."""
    from rich.progress import Progress

    from fupin_gis.coverage.run import STAGES
    from fupin_gis.coverage.snapshots import create_run, rules_from_file
    from fupin_gis.db.engine import make_engine

    settings = _settings()
    try:
        rule_settings = rules_from_file(rules, settings.coverage) if rules else settings.coverage
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("覆盖分析 / coverage", total=STAGES)

            def step(stage: str) -> None:
                bar.update(task, advance=1, description=stage)

            result = create_run(make_engine(settings), rule_settings, load_catalog(settings.catalog_dir), step)
    except FupinError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, default=str))
        return
    table = Table(
        "村 village", "代码 code", "通硬化路", "路网距离 km", "需硬化 m", "安全饮水户", "2公里内人口", ">25°未退耕亩"
    )
    for v in result["villages"]:
        ra, w, r, f = v["road_access"], v["water"], v["rai"], v["farmland"]
        km = "" if ra["network_distance_m"] is None else f"{ra['network_distance_m'] / 1000:.1f}"
        gap = "" if ra["gap_m"] is None else f"{ra['gap_m']:.0f}"
        table.add_row(
            v["name"],
            v["code"],
            "是" if ra["connected"] else "否",
            km,
            gap,
            f"{w['households_covered']}/{w['households']}",
            f"{r['population_within_2km']}/{r['population']}",
            f"{f['steep_mu'] - f['steep_converted_mu']:.0f}",
        )
    Console().print(table)
    typer.echo(f"运行 run {result['run_id']}")


@coverage_app.command("topology")
def coverage_topology(
    out: Annotated[
        Path | None, typer.Option("-o", "--output", help="write the findings to a GeoPackage (.gpkg) for QGIS")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print only JSON")] = False,
) -> None:
    """What engineers should fix in the roads: ends 5–50 m short of a road, dangling spurs, isolated pieces."""
    from fupin_gis.coverage.topology import topology, with_codes, write_gpkg
    from fupin_gis.db.engine import make_engine

    settings = _settings()
    try:
        with make_engine(settings).begin() as conn:  # the whole registry: the network cache serves, and is kept
            found = topology(conn, settings.coverage, cached=True)
            result = with_codes(conn, found)
    except FupinError as exc:
        raise _fail(exc) from exc
    if out is not None:
        write_gpkg(result, out)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    s = result["summary"]
    gap = settings.coverage.topology_gap_m
    typer.echo(
        f"路网 network: {s['network']['edges']:,} 段 edges, {s['network']['nodes']:,} 节点 nodes\n"
        f"断头近接 ends {settings.coverage.snap_tolerance_m:g}–{gap:g} m short of a road: {s['near_misses']:,}\n"
        f"悬挂短线 dangling spurs ≤ {gap:g} m: {s['spurs']:,}\n"
        f"孤立路段 isolated pieces (no seat joins them): {s['isolated_pieces']:,}, {s['isolated_length_m'] / 1000:,.1f} km\n"
        "各列前 20 项；全部见 --json 或 -o FILE.gpkg / the first 20 of each below; all with --json or -o FILE.gpkg"
    )
    table = Table("问题 problem", "道路 road", "另一道路 other road", "米 m", "经度, 纬度 lon, lat")
    where = "{0[0]:.5f}, {0[1]:.5f}".format
    for row in result["near_misses"][:20]:
        table.add_row(
            "断头 near miss", row["road_code"], row["other_road_code"], f"{row['gap_m']:.1f}", where(row["at"])
        )
    for row in result["spurs"][:20]:
        table.add_row("悬挂 spur", row["road_code"], "", f"{row['length_m']:.1f}", where(row["at"]))
    for row in result["isolated"][:20]:
        codes = ", ".join(str(c) for c in row["road_codes"][:3]) + (" …" if len(row["road_codes"]) > 3 else "")
        table.add_row("孤立 isolated", codes, "", f"{row['length_m']:.0f}", where(row["at"]))
    Console().print(table)
    if out is not None:
        typer.echo(f"已写入 written: {out}")


@coverage_app.command("plan")
def coverage_plan(
    plan: Annotated[
        Path | None, typer.Option("--plan", help="plan file (TOML); default: the shipped 2009–2011 plan")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print only JSON")] = False,
) -> None:
    """Rule 7: the plan's targets against what the registry measures (by year and township)."""
    from fupin_gis.coverage.plan import load_plan, measure
    from fupin_gis.db.engine import make_engine

    settings = _settings()
    catalog = load_catalog(settings.catalog_dir)
    try:
        parsed = load_plan(plan or settings.coverage.plan_file, catalog)
        with make_engine(settings).connect() as conn:
            result = measure(conn, parsed, catalog)
    except FupinError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    table = Table("项目 item", "计划 planned", "完成 done", "单位 unit", "完成率 share")
    for i in result["items"]:
        done = "无数据 / n/a" if i["done"] is None else f"{i['done']:,.1f}"
        share = "" if i["share"] is None else f"{i['share']:.0%}"
        table.add_row(i["label"], f"{i['planned']:,.1f}", done, i["unit"], share)
    Console().print(table)


@coverage_app.command("show")
def coverage_show(
    run: Annotated[int, typer.Argument(help="run id (see `fupin-gis coverage runs`)")],
    village: Annotated[str | None, typer.Option("--village", help="one village's 12-digit code")] = None,
) -> None:
    """Print a stored run (summary and villages) or one village of it, as JSON."""
    from fupin_gis.coverage.snapshots import get_run
    from fupin_gis.db.engine import make_engine

    try:
        typer.echo(json.dumps(get_run(make_engine(_settings()), run, village), ensure_ascii=False, default=str))
    except FupinError as exc:
        raise _fail(exc) from exc


@coverage_app.command("runs")
def coverage_runs() -> None:
    """List stored runs, newest first."""
    from fupin_gis.coverage.snapshots import list_runs
    from fupin_gis.db.engine import make_engine

    for r in list_runs(make_engine(_settings())):
        typer.echo(f"{r['id']:>5}  {r['created_at']:%Y-%m-%d %H:%M}  data version {r['data_version']}")


@coverage_app.command("diff")
def coverage_diff(run_a: Annotated[int, typer.Argument()], run_b: Annotated[int, typer.Argument()]) -> None:
    """What changed, village by village, between two runs (JSON)."""
    from fupin_gis.coverage.snapshots import diff_runs
    from fupin_gis.db.engine import make_engine

    try:
        typer.echo(json.dumps(diff_runs(make_engine(_settings()), run_a, run_b), ensure_ascii=False, default=str))
    except FupinError as exc:
        raise _fail(exc) from exc


class ReportName(StrEnum):
    """The reports (see ``fupin_gis.reports.build.REPORTS``)."""

    villages_lacking = "villages-lacking"
    summary = "summary"
    plan_vs_actual = "plan-vs-actual"
    households = "households"
    changes = "changes"


class ReportFormat(StrEnum):
    """The report formats."""

    html = "html"
    pdf = "pdf"
    xlsx = "xlsx"
    csv = "csv"
    gpkg = "gpkg"
    shp = "shp"


@app.command("report")
def report_cmd(
    name: Annotated[ReportName, typer.Argument(help="which report")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="output format")] = ReportFormat.html,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: NAME-runN.FORMAT)")
    ] = None,
    run: Annotated[int | None, typer.Option("--run", help="coverage run (default: the newest)")] = None,
    township: Annotated[
        str | None, typer.Option("--township", help="only this township (9-digit code) or county (6-digit)")
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="villages-lacking: only villages failing this rule (repeatable)")
    ] = None,
    since: Annotated[
        int | None, typer.Option("--since", help="changes: the earlier run (default: the one before)")
    ] = None,
) -> None:
    """Write a report from a coverage snapshot: villages-lacking, summary, plan-vs-actual, households, changes."""
    from fupin_gis.db.engine import make_engine
    from fupin_gis.reports.build import build_report
    from fupin_gis.reports.render import filename, write

    settings = _settings()
    try:
        with console.status("生成报表 / building the report…"):
            report = build_report(
                make_engine(settings), load_catalog(settings.catalog_dir), name.value, run, township, rule, since
            )
            path = output or Path(filename(report, fmt.value))
            write(report, fmt.value, path, settings.web_dir / "templates")
    except FupinError as exc:
        raise _fail(exc) from exc
    rows = len(report.sections[0].rows)
    typer.echo(f"{path}  ({report.zh}, 运行 run {report.run['run_id']}, {rows:,} 行 rows)")


users_app = typer.Typer(
    help="账号 / accounts: roles viewer, planner, engineer, admin; scoped to counties or townships.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="viewer | planner | engineer | admin")],
    scope: Annotated[str, typer.Option(help="* or comma-separated county (6-digit) / township (9-digit) codes")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create an account (the password is hashed with Argon2id)."""
    from fupin_gis.auth.accounts import add_user
    from fupin_gis.db.engine import make_engine

    try:
        add_user(make_engine(_settings()), username, password, role, scope)
    except FupinError as exc:
        raise _fail(exc) from exc
    typer.echo(f"用户 {username} 已创建 / created ({role}, {scope})")


@users_app.command("list")
def users_list() -> None:
    """Every account: role, scope, disabled or not."""
    from fupin_gis.auth.accounts import list_users
    from fupin_gis.db.engine import make_engine

    for u in list_users(make_engine(_settings())):
        typer.echo(f"{u['username']:<20} {u['role']:<9} {u['scope']:<30} {'disabled' if u['disabled'] else ''}")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account; its sessions and tokens stop working."""
    from fupin_gis.auth.accounts import disable_user
    from fupin_gis.db.engine import make_engine

    try:
        disable_user(make_engine(_settings()), username)
    except FupinError as exc:
        raise _fail(exc) from exc
    typer.echo(f"用户 {username} 已停用 / disabled")


@users_app.command("token")
def users_token(username: Annotated[str, typer.Argument()]) -> None:
    """Print a new API token for scripts (send it as ``Authorization: Bearer TOKEN``); shown once."""
    from fupin_gis.auth.accounts import new_token
    from fupin_gis.db.engine import make_engine

    try:
        typer.echo(new_token(make_engine(_settings()), username))
    except FupinError as exc:
        raise _fail(exc) from exc


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the web map and API."""
    import uvicorn

    from fupin_gis.db.setup import bring_up

    settings = _settings()
    try:
        bring_up(settings)
    except FupinError as exc:
        raise _fail(exc) from exc
    console.print(f"地图 / map: http://{host}:{port}/")
    uvicorn.run("fupin_gis.main:create_app", factory=True, host=host, port=port)


def main() -> None:
    """Entry point for ``python -m fupin_gis``."""
    sys.exit(app())
