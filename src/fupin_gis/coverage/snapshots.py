"""Coverage snapshots: store a run with its rules and data version, read it back, compare two."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from fupin_gis.auth.accounts import audit
from fupin_gis.auth.scope import county_of, filter_run, scope_of, township_of
from fupin_gis.catalog import Catalog
from fupin_gis.coverage.checklists import load_checklists
from fupin_gis.coverage.plan import load_plan, measure
from fupin_gis.coverage.prune import prune_in
from fupin_gis.coverage.run import Step, no_step, run_coverage
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.settings import CoverageSettings


def rules_from_file(path: Path, base: CoverageSettings) -> CoverageSettings:
    """Rule settings from a TOML file (keys of ``CoverageSettings``) over ``base``."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
        return base.model_validate({**base.model_dump(), **data})
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise InvalidInput(
            f"规则文件 {path.name} 无效：{exc}", f"invalid rules file {path.name}: {exc}", file=path.name
        ) from exc


def create_run(
    engine: Engine, settings: CoverageSettings, catalog: Catalog, step: Step = no_step, username: str = "system"
) -> dict[str, Any]:
    """Compute every rule and store the result as a snapshot (pruning beyond ``settings.keep_runs``),
    with the run's audit row by ``username`` in the same transaction; returns the result with ``run_id``."""
    checklists = load_checklists(settings.checklist_file, catalog)
    plan = load_plan(settings.plan_file, catalog)
    with engine.begin() as conn:
        version = conn.execute(text("SELECT coalesce(max(id), 0) FROM batches")).scalar_one()
        result, households = run_coverage(conn, settings, checklists, step)
        step("规划完成情况 / rule 7, plan versus actual")
        result["plan"] = measure(conn, plan, catalog)
        step("保存 / storing the snapshot")
        run_id = conn.execute(
            text(
                "INSERT INTO coverage_runs (data_version, rules, summary, network, harden_plan, plan) VALUES "
                "(:v, CAST(:r AS jsonb), CAST(:s AS jsonb), CAST(:n AS jsonb), CAST(:h AS jsonb), CAST(:p AS jsonb)) "
                "RETURNING id, created_at"
            ),
            {
                "v": version,
                "r": json.dumps(result["rules"]),
                "s": json.dumps(result["summary"], ensure_ascii=False),
                "n": json.dumps(result["network"]),
                "h": json.dumps(result["harden_plan"]),
                "p": json.dumps(result["plan"], ensure_ascii=False),
            },
        ).one()
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            with cur.copy("COPY coverage_villages (run_id, code, name, result) FROM STDIN") as copy:
                for v in result["villages"]:
                    copy.write_row((run_id.id, v["code"], v["name"], json.dumps(v, ensure_ascii=False)))
            columns = ", ".join(households.columns)
            with cur.copy(f"COPY coverage_households (run_id, {columns}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(
                    households.assign(run_id=run_id.id)[["run_id", *households.columns]].to_csv(
                        index=False, header=False
                    )
                )
        audit(conn, username, "coverage_run", {"run": run_id.id})
        if settings.keep_runs is not None:  # the retention setting, in the run's transaction
            prune_in(conn, settings.keep_runs)
    result["run_id"] = run_id.id
    result["created_at"] = run_id.created_at.isoformat()
    result["data_version"] = version
    return result


def data_changed_since(conn: Connection, run_id: int) -> int:
    """How many imports, edits and rollbacks changed the registry after run ``run_id`` was computed
    (0: its figures are current)."""
    return int(
        conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE b.id > coalesce(r.data_version, 0)) "
                "+ count(*) FILTER (WHERE b.rolled_back_at > r.created_at) "
                "FROM batches b, coverage_runs r WHERE r.id = :r"
            ),
            {"r": run_id},
        ).scalar_one()
    )


def list_runs(engine: Engine) -> list[dict[str, Any]]:
    """Every snapshot, newest first (without village rows), as the engine's scope may see it."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, created_at, data_version, rules, network FROM coverage_runs ORDER BY id DESC")
        ).mappings()
        scope = scope_of(conn)
        return [filter_run(dict(r), scope) for r in rows]


def as_seen(conn: Connection, run: dict[str, Any]) -> dict[str, Any]:
    """``run`` as the scope of ``conn`` may see it (``auth.scope.filter_run``; the roads of the joint
    harden plan are those ``conn`` may read)."""
    scope = scope_of(conn)
    if scope == "*":
        return run
    segments = (run.get("harden_plan") or {}).get("segments") or []
    roads = conn.execute(text("SELECT id FROM roads WHERE id = ANY(:s)"), {"s": segments}).scalars().all()
    return filter_run(run, scope, roads)


def get_run(engine: Engine, run_id: int, village: str | None = None, area: str | None = None) -> dict[str, Any]:
    """One snapshot (summary and villages, only those whose code starts with ``area`` if given), or one
    village; as the engine's scope may see it (row-level security on the villages, ``as_seen`` on the
    totals stored with the run)."""
    with engine.connect() as conn:
        run = (
            conn.execute(
                text(
                    "SELECT id, created_at, data_version, rules, summary, network, harden_plan, plan "
                    "FROM coverage_runs WHERE id = :r"
                ),
                {"r": run_id},
            )
            .mappings()
            .one_or_none()
        )
        if run is None:
            raise NotFound(f"没有覆盖分析运行 {run_id}", f"No coverage run {run_id}", run=run_id)
        if village is not None:
            row = conn.execute(
                text("SELECT result FROM coverage_villages WHERE run_id = :r AND code = :c"),
                {"r": run_id, "c": village},
            ).scalar_one_or_none()
            if row is None:
                raise NotFound(
                    f"运行 {run_id} 中没有村 {village}",
                    f"No village {village} in run {run_id}",
                    run=run_id,
                    village=village,
                )
            return {"run_id": run_id, "village": row}
        villages = (
            conn.execute(
                text("SELECT result FROM coverage_villages WHERE run_id = :r AND code LIKE :a ORDER BY code"),
                {"r": run_id, "a": (area or "") + "%"},
            )
            .scalars()
            .all()
        )
        found = {
            "run_id": run["id"],
            "created_at": run["created_at"].isoformat(),
            "data_version": run["data_version"],
            "rules": run["rules"],
            "summary": visible_summary(run["summary"], villages),
            "network": run["network"],
            "harden_plan": run["harden_plan"],
            "plan": run["plan"],
            "villages": list(villages),
        }
        return as_seen(conn, found)


def visible_summary(summary: dict[str, Any], villages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The township and county totals whose villages the reader sees in full.

    Row-level security hides the villages outside an account's scope, and an area filter leaves
    out the rest; a total over a unit only partly read (the county, for a township engineer)
    would disclose or misstate the rest, so it is left out.
    """
    seen: dict[str, int] = {}
    for v in villages:
        for unit in (township_of(v["code"]), county_of(v["code"])):
            seen[unit] = seen.get(unit, 0) + 1
    return {unit: s for unit, s in summary.items() if seen.get(unit) == s.get("villages")}


def _facts(v: dict[str, Any]) -> dict[str, Any]:
    ra = v["road_access"]
    return {
        "connected": ra["connected"],
        "gap_m": ra["gap_m"],
        "households_covered": v.get("water", {}).get("households_covered"),
        "population_within_2km": v.get("rai", {}).get("population_within_2km"),
        **{f"check_{k}": c["ok"] for k, c in v.get("checks", {}).items()},
    }


def diff_runs(engine: Engine, run_a: int, run_b: int) -> dict[str, Any]:
    """What changed village by village between two snapshots."""
    a, b = get_run(engine, run_a), get_run(engine, run_b)
    before = {v["code"]: v for v in a["villages"]}
    changes = []
    for v in b["villages"]:
        old = before.pop(v["code"], None)
        if old is None:
            changes.append({"code": v["code"], "name": v["name"], "change": "added"})
            continue
        fa, fb = _facts(old), _facts(v)
        delta = {k: {"from": fa.get(k), "to": fb[k]} for k in fb if fa.get(k) != fb[k]}
        if delta:
            changes.append({"code": v["code"], "name": v["name"], "change": "changed", "fields": delta})
    changes.extend({"code": code, "name": v["name"], "change": "removed"} for code, v in before.items())
    newly = sum(1 for c in changes if c.get("fields", {}).get("connected", {}).get("to") is True)
    lost = sum(1 for c in changes if c.get("fields", {}).get("connected", {}).get("to") is False)
    return {
        "from": run_a,
        "to": run_b,
        "villages_changed": len(changes),
        "newly_connected": newly,
        "no_longer_connected": lost,
        "changes": changes,
    }
