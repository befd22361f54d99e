"""A county survey in conventions the catalog does not spell out: what the import reads, what it
asks, the answers given on the command line and over HTTP, and the profile that remembers them."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import shapely
from fastapi.testclient import TestClient
from ingest_helpers import codes, do_import, snapshot, write_shapefile
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from fupin_gis.catalog import Catalog
from fupin_gis.cli import app
from fupin_gis.ingest.batches import rollback
from fupin_gis.main import create_app
from fupin_gis.settings import Settings


def _seat(engine: Engine) -> tuple[float, float]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT ST_X(seat), ST_Y(seat) FROM villages ORDER BY code LIMIT 1")).one()


def _roads(tmp_path: Path, engine: Engine, prefix: str, name: str = "道路调查.shp") -> Path:
    """Road pieces as a county keeps them: GBK, no .cpg, its own column names, a yes/no bridge
    column, no build status (a survey of what is on the ground)."""
    x, y = _seat(engine)
    lines = [shapely.LineString([(x + 0.001 * i, y), (x + 0.001 * (i + 1), y)]) for i in range(4)]
    frame = gpd.GeoDataFrame(
        {
            "路线编码": [f"{prefix}-{i}" for i in range(4)],
            "道路级别": ["村道", "村道", "社道", "通组路"],
            "路面材质": ["水泥", "水泥路", "砂石", "泥结碎石"],
            "路面宽": [4.5, 4.5, 3.0, 3.5],
            "是否桥梁": ["否", "是", "否", "否"],
            "调查员": ["张三", "张三", "李四", "李四"],
        },
        geometry=lines,
        crs="EPSG:4490",
    )
    return write_shapefile(frame, tmp_path / name, "gbk")


def _rows(engine: Engine, batch: int | None) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT code, road_class, surface, width_m, structure, status, extra->>'调查员' "
                    "FROM roads WHERE batch_id = :b ORDER BY code"
                ),
                {"b": batch},
            )
        ]


def test_a_county_road_survey_read_reported_and_remembered(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    path = _roads(tmp_path, import_engine, "MAP")
    report = do_import(import_engine, catalog, path, "roads", save_profile="某县道路调查")
    assert report.ok, report.to_text()
    readings = {r["source"]: r for r in report.to_dict()["mapping"]}
    assert readings["是否桥梁"]["target"] == "structure=bridge" and readings["是否桥梁"]["kind"] == "flag"
    assert readings["是否桥梁"]["decision"] == "probable" and readings["是否桥梁"]["evidence"]
    assert readings["路线编码"]["target"] == "code" and readings["调查员"]["kind"] == "extra"
    assert readings["路面材质"]["samples"][:2] == ["水泥", "水泥路"]
    # the probable readings come first in the problem list a person reads, and the default is said
    warnings = [p for p in report.problems.items if p.severity == "warning"]
    assert {p.field for p in warnings if p.code == "mapping_probable"} >= {"是否桥梁", "路面材质", "道路级别"}
    assert any(p.code == "import_default_applied" and p.field == "status" for p in warnings)
    text_report = report.to_text()
    assert text_report.index("推测 probable") < text_report.index("编码 encoding")
    values = report.to_dict()["values"]["surface"]
    assert {(v["source"], v["target"], v["count"]) for v in values} == {
        ("水泥", "hardened", 1),
        ("水泥路", "hardened", 1),
        ("砂石", "gravel", 1),
        ("泥结碎石", "gravel", 1),
    }
    assert _rows(import_engine, report.batch) == [
        ("MAP-0", "village", "hardened", 4.5, None, "existing", "张三"),
        ("MAP-1", "village", "hardened", 4.5, "bridge", "existing", "张三"),
        ("MAP-2", "group", "gravel", 3.0, None, "existing", "李四"),
        ("MAP-3", "group", "gravel", 3.5, None, "existing", "李四"),
    ]
    assert report.profile == "某县道路调查" and report.profile_how == "saved"
    with import_engine.connect() as conn:
        saved = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'profile_save' ORDER BY id DESC LIMIT 1")
        ).scalar_one()
        imported = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'import' ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert saved["profile"] == "某县道路调查" and imported["batch"] == report.batch

    # The next survey in the same conventions is read with the profile: nothing left to decide.
    second = do_import(import_engine, catalog, _roads(tmp_path, import_engine, "MAP2", "第二批.shp"), "roads")
    assert second.ok and second.profile == "某县道路调查" and second.profile_how == "matched"
    assert not [p for p in second.problems.items if p.code.startswith("mapping_")]
    assert {r["decision"] for r in second.to_dict()["mapping"]} == {"chosen"}
    assert [r[4] for r in _rows(import_engine, second.batch)] == [None, "bridge", None, None]
    rollback(import_engine, catalog, second.batch)
    rollback(import_engine, catalog, report.batch)


def test_a_column_it_cannot_place_is_asked_and_answered(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    x, y = _seat(import_engine)
    frame = gpd.GeoDataFrame(
        {
            "水源编号": ["ASK-1", "ASK-2", "ASK-3"],
            "水源类型": ["机压井", "机压井", "水窖"],
            "完好情况": ["正常", "损坏", "正常"],  # working? safe? the import cannot tell
            "单位": ["水务局", "水务局", "乡政府"],
        },
        geometry=[shapely.Point(x + 0.001 * i, y) for i in range(3)],
        crs="EPSG:4490",
    )
    path = write_shapefile(frame, tmp_path / "水源.shp", "gbk")
    before = snapshot(import_engine, catalog)
    asked = do_import(import_engine, catalog, path, "water_points")
    assert codes(asked) == {"mapping_needed"} and snapshot(import_engine, catalog) == before
    [needed] = [p for p in asked.problems.items if p.code == "mapping_needed"]
    assert needed.field == "完好情况" and "working" in needed.message_en and "--map 完好情况=" in needed.message
    answered = do_import(import_engine, catalog, path, "water_points", mapping={"完好情况": "working"})
    assert answered.ok, answered.to_text()
    with import_engine.connect() as conn:
        working = conn.execute(
            text("SELECT code, working FROM water_points WHERE batch_id = :b ORDER BY code"), {"b": answered.batch}
        ).all()
    assert [tuple(r) for r in working] == [("ASK-1", True), ("ASK-2", False), ("ASK-3", True)]
    rollback(import_engine, catalog, answered.batch)


def test_value_answers_and_whole_file_values(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    x, y = _seat(import_engine)
    frame = gpd.GeoDataFrame(
        {"编号": ["VAL-1", "VAL-2", "VAL-3"], "路面": ["水泥", "水泥砂浆", "水泥砂浆"], "等级": ["村道"] * 3},
        geometry=[shapely.LineString([(x, y + 0.001 * i), (x + 0.001, y + 0.001 * i)]) for i in range(3)],
        crs="EPSG:4490",
    )
    path = write_shapefile(frame, tmp_path / "路面.shp", "gbk")
    report = do_import(import_engine, catalog, path, "roads", dry_run=True, use_profiles=False)
    assert codes(report) == {"enum_unknown"}  # a word the catalog does not know: not guessed
    lost = [v for v in report.to_dict()["values"]["surface"] if v["target"] is None]
    assert lost == [{"source": "水泥砂浆", "target": None, "label": None, "count": 2}]
    fixed = do_import(import_engine, catalog, path, "roads", dry_run=True, values={"surface": {"水泥砂浆": "hardened"}})
    assert fixed.ok, fixed.to_text()
    # a survey of planned roads says so for the whole file: --set, no default warning then
    planned = do_import(
        import_engine, catalog, path, "roads", values={"surface": {"水泥砂浆": "硬化"}}, defaults={"status": "规划"}
    )
    assert planned.ok and "import_default_applied" not in codes(planned, "warning")
    with import_engine.connect() as conn:
        got = conn.execute(
            text("SELECT surface, status FROM roads WHERE batch_id = :b ORDER BY code"), {"b": planned.batch}
        ).all()
    assert [tuple(r) for r in got] == [("hardened", "planned")] * 3
    rollback(import_engine, catalog, planned.batch)


def test_required_field_missing_names_the_exact_set(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    x, y = _seat(import_engine)
    frame = gpd.GeoDataFrame(
        {"户编号": ["H-1"], "村代码": ["511921100209"]}, geometry=[shapely.Point(x, y)], crs="EPSG:4490"
    )
    path = write_shapefile(frame, tmp_path / "农户.shp", "gbk")
    report = do_import(import_engine, catalog, path, "households", dry_run=True)
    [missing] = [p for p in report.problems.items if p.code == "required_field_missing"]
    assert missing.field == "registered_poor" and "--set registered_poor=" in missing.message_en


def _env(engine: Engine) -> dict[str, str]:
    return {"DATABASE_URL": engine.url.render_as_string(hide_password=False).replace("+psycopg", "")}


def test_profiles_on_the_command_line_round_trip(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    runner = CliRunner()
    env = _env(import_engine)
    path = _roads(tmp_path, import_engine, "CLI")
    done = runner.invoke(
        app,
        ["import", str(path), "--layer", "roads", "--save-profile", "cli-roads", "--map", "调查员=-", "--json"],
        env=env,
    )
    assert done.exit_code == 0, done.output
    batch = json.loads(done.stdout)["batch"]
    listed = runner.invoke(app, ["profiles", "list", "--json"], env=env)
    [mine] = [p for p in json.loads(listed.stdout) if p["name"] == "cli-roads"]
    assert mine["mapping"]["是否桥梁"] == "structure=bridge" and mine["mapping"]["调查员"] == "-"
    exported = tmp_path / "profiles.toml"
    assert runner.invoke(app, ["profiles", "export", "cli-roads", "-o", str(exported)], env=env).exit_code == 0
    assert runner.invoke(app, ["profiles", "delete", "cli-roads"], env=env).exit_code == 0
    assert runner.invoke(app, ["profiles", "show", "cli-roads"], env=env).exit_code == 1
    assert runner.invoke(app, ["profiles", "import", str(exported)], env=env).exit_code == 0
    shown = json.loads(runner.invoke(app, ["profiles", "show", "cli-roads"], env=env).stdout)
    assert shown["mapping"] == mine["mapping"] and shown["layer"] == "roads"
    again = runner.invoke(
        app, ["import", str(_roads(tmp_path, import_engine, "CLI2", "再次.shp")), "--layer", "roads", "--json"], env=env
    )
    body = json.loads(again.stdout)
    assert again.exit_code == 0 and body["profile"] == "cli-roads" and body["profile_how"] == "matched"
    bad = runner.invoke(app, ["import", str(path), "--layer", "roads", "--values", "surface水泥"], env=env)
    assert bad.exit_code == 2 and "FIELD:SRC=DST" in bad.output
    rollback(import_engine, catalog, body["batch"])
    rollback(import_engine, catalog, batch)


def test_answers_and_profiles_over_http(
    tmp_path: Path, base_settings: Settings, import_engine: Engine, catalog: Catalog
) -> None:
    url = import_engine.url.render_as_string(hide_password=False)
    path = _roads(tmp_path, import_engine, "API")
    with TestClient(create_app(base_settings.model_copy(update={"database_url": url}))) as client:
        sent = client.post(
            "/api/layers/roads/imports",
            files={"file": (path.name, _zip(path), "application/zip")},
            data={"dry_run": "true", "use_profiles": "false", "map": ["是否桥梁=-"]},
        )
        assert sent.status_code == 200, sent.text
        body = sent.json()
        reading = next(r for r in body["mapping"] if r["source"] == "是否桥梁")
        assert reading["decision"] == "chosen" and reading["kind"] == "extra"
        assert {"source", "target", "kind", "score", "evidence", "samples"} <= set(reading)
        made = client.post(
            "/api/layers/roads/imports",
            files={"file": (path.name, _zip(path), "application/zip")},
            data={"save_profile": "api-roads", "use_profiles": "false"},
        )
        assert made.status_code == 201, made.text
        assert client.get("/api/import-profiles/api-roads").json()["mapping"]["是否桥梁"] == "structure=bridge"
        assert "api-roads" in {p["name"] for p in client.get("/api/import-profiles").json()}
        assert client.delete("/api/import-profiles/api-roads").status_code == 200
        assert client.get("/api/import-profiles/api-roads").status_code == 404
        bad = client.post(
            "/api/layers/roads/imports",
            files={"file": (path.name, _zip(path), "application/zip")},
            data={"dry_run": "true", "values": ["nonsense"]},
        )
        assert bad.status_code == 400 and bad.json()["field"] == "values"
        rollback(import_engine, catalog, made.json()["batch"])


def _zip(shp: Path) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for part in shp.parent.glob(shp.stem + ".*"):
            z.write(part, part.name)
    return buf.getvalue()


def test_after_the_answer_rule_2_counts_the_broken_well_as_broken(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    """The tester's finding: a well's operating-state column went to extra and a broken well counted
    as safe water. Read (probably) as 'working', a broken well leaves rule 2 as it was; the same
    well working covers the household beside it."""
    from fupin_gis.coverage.rules import load_households, water_access
    from fupin_gis.coverage.run import metric_srid
    from fupin_gis.settings import CoverageSettings

    settings = CoverageSettings()

    def covered() -> dict[int, bool]:
        with import_engine.connect() as conn:
            srid = metric_srid(conn, settings)
            hh = load_households(conn, srid)
            mask, _ = water_access(conn, srid, hh, settings.water_distance_m, settings.pipe_distance_m)
        return dict(zip(hh.id.tolist(), mask.tolist(), strict=True))

    before = covered()
    dry = [h for h, ok in before.items() if not ok]
    assert dry, "the demo has households without safe water"
    with import_engine.connect() as conn:
        x, y = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM households WHERE id = :i"), {"i": dry[0]}).one()

    def well(state: str, name: str) -> Path:
        frame = gpd.GeoDataFrame(
            {"水源编号": [f"RULE2-{state}"], "水源类型": ["机压井"], "安全饮用": ["是"], "运行状态": [state]},
            geometry=[shapely.Point(x + 0.0005, y)],
            crs="EPSG:4490",
        )
        return write_shapefile(frame, tmp_path / name, "gbk")

    broken = do_import(import_engine, catalog, well("损坏", "坏井.shp"), "water_points", use_profiles=False)
    assert broken.ok, broken.to_text()
    reading = next(r for r in broken.to_dict()["mapping"] if r["source"] == "运行状态")
    assert reading["target"] == "working" and reading["decision"] == "probable"
    assert covered() == before  # a broken well is no safe water
    rollback(import_engine, catalog, broken.batch)
    working = do_import(import_engine, catalog, well("正常", "好井.shp"), "water_points", use_profiles=False)
    after = covered()
    assert after[dry[0]] and all(after[h] for h, ok in before.items() if ok)
    rollback(import_engine, catalog, working.batch)


def test_personal_data_never_reaches_extra(tmp_path: Path, import_engine: Engine, catalog: Catalog) -> None:
    """Households: columns of names, ID and phone numbers — named so, or only valued so — are dropped
    with a warning; neither the rows' extra nor the stored report carries a single value of them."""
    with import_engine.connect() as conn:
        code, x, y = conn.execute(text("SELECT code, ST_X(seat), ST_Y(seat) FROM villages ORDER BY code LIMIT 1")).one()
    ids = ["51192119800101123X", "511921198502024567"]
    frame = gpd.GeoDataFrame(
        {
            "户编号": ["PD-1", "PD-2"],
            "村代码": [code, code],
            "是否贫困户": ["是", "否"],
            "家庭人口": [4, 3],
            "户主姓名": ["王大山", "李小河"],
            "证件": ids,  # a name the catalog does not list: recognised by its values
            "备用": ["13812345678", "0827-5212345"],
            "住房结构": ["砖混", "土木"],
        },
        geometry=[shapely.Point(x + 0.0002, y), shapely.Point(x + 0.0004, y)],
        crs="EPSG:4490",
    )
    path = write_shapefile(frame, tmp_path / "农户.shp", "gbk")
    report = do_import(import_engine, catalog, path, "households")
    assert report.ok, report.to_text()
    [dropped] = [p for p in report.problems.items if p.code == "personal_data_dropped"]
    assert set(dropped.field.split(", ")) == {"户主姓名", "证件", "备用"}
    with import_engine.connect() as conn:
        extras = (
            conn.execute(text("SELECT extra FROM households WHERE batch_id = :b ORDER BY code"), {"b": report.batch})
            .scalars()
            .all()
        )
        stored = conn.execute(text("SELECT report::text FROM batches WHERE id = :b"), {"b": report.batch}).scalar_one()
    assert [e for e in extras] == [{"住房结构": "砖混"}, {"住房结构": "土木"}]
    for secret in [*ids, "王大山", "13812345678", "0827-5212345"]:
        assert secret not in stored and secret not in json.dumps(report.to_dict(), ensure_ascii=False)
    rollback(import_engine, catalog, report.batch)
