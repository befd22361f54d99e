"""``fupin-gis coverage``: run the rules, stored runs, the network check, the plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fupin_gis.cli.common import console, load_settings, open_catalog, open_engine

coverage_app = typer.Typer(help="覆盖分析 / coverage rules.", no_args_is_help=True)


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

    settings = load_settings()
    rule_settings = rules_from_file(rules, settings.coverage) if rules else settings.coverage
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("覆盖分析 / coverage", total=STAGES)

        def step(stage: str) -> None:
            bar.update(task, advance=1, description=stage)

        result = create_run(open_engine(), rule_settings, open_catalog(), step)
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

    settings = load_settings()
    with open_engine().begin() as conn:  # the whole registry: the network cache serves, and is kept
        found = topology(conn, settings.coverage, cached=True)
        result = with_codes(conn, found, open_catalog().srid)
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

    settings = load_settings()
    catalog = open_catalog()
    parsed = load_plan(plan or settings.coverage.plan_file, catalog)
    with open_engine().connect() as conn:
        result = measure(conn, parsed, catalog)
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

    typer.echo(json.dumps(get_run(open_engine(), run, village), ensure_ascii=False, default=str))


@coverage_app.command("runs")
def coverage_runs() -> None:
    """List stored runs, newest first."""
    from fupin_gis.coverage.snapshots import list_runs

    for r in list_runs(open_engine()):
        typer.echo(f"{r['id']:>5}  {r['created_at']:%Y-%m-%d %H:%M}  data version {r['data_version']}")


@coverage_app.command("diff")
def coverage_diff(run_a: Annotated[int, typer.Argument()], run_b: Annotated[int, typer.Argument()]) -> None:
    """What changed, village by village, between two runs (JSON)."""
    from fupin_gis.coverage.snapshots import diff_runs

    typer.echo(json.dumps(diff_runs(open_engine(), run_a, run_b), ensure_ascii=False, default=str))


@coverage_app.command("prune")
def coverage_prune(
    keep: Annotated[
        int | None, typer.Option("--keep", help="newest runs to keep (default: the keep_runs setting)")
    ] = None,
) -> None:
    """Delete stored runs beyond the newest N, except runs reports were exported from."""
    from fupin_gis.coverage.prune import prune_runs
    from fupin_gis.errors import InvalidInput

    keep = keep if keep is not None else load_settings().coverage.keep_runs
    if keep is None:
        raise InvalidInput(
            "请给出 --keep N，或设置 FUPIN_COVERAGE__KEEP_RUNS",
            "Give --keep N, or set FUPIN_COVERAGE__KEEP_RUNS",
            field="keep",
        )
    pruned = prune_runs(open_engine(), keep)
    typer.echo(
        f"已删除 {len(pruned.deleted)} 个运行 / deleted {len(pruned.deleted)} runs "
        f"(kept the newest {keep} and {len(pruned.referenced)} older ones reports were exported from)"
    )
