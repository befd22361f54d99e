"""Accounts end to end over HTTP: sign-in, CSRF, tokens, roles, scope enforced by row-level security, audit."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from fupin_gis.auth.accounts import add_user, disable_user, new_token
from fupin_gis.main import create_app
from fupin_gis.settings import Settings

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def towns(import_engine: Engine) -> tuple[str, str]:
    with import_engine.connect() as conn:
        a, b = conn.execute(text("SELECT code FROM townships ORDER BY code LIMIT 2")).scalars().all()
    return a, b


@pytest.fixture(scope="module")
def app_client(base_settings: Settings, import_engine: Engine, towns: tuple[str, str]) -> Iterator[TestClient]:
    with import_engine.connect() as conn:
        county = conn.execute(text("SELECT code FROM counties LIMIT 1")).scalar_one()
    for name, role, scope in [
        ("admin", "admin", "*"),
        ("planner", "planner", county),
        ("eng_a", "engineer", towns[0]),
        ("eng_b", "engineer", towns[1]),
        ("viewer", "viewer", county),
    ]:
        add_user(import_engine, name, PASSWORD, role, scope)
    url = import_engine.url.render_as_string(hide_password=False)
    settings = base_settings.model_copy(
        update={"database_url": url, "auth": base_settings.auth.model_copy(update={"required": True})}
    )
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        yield c


def bearer(engine: Engine, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_token(engine, user)}"}


def test_no_account_no_data(app_client: TestClient) -> None:
    app_client.cookies.clear()
    answer = app_client.get("/api/layers")
    assert answer.status_code == 401 and answer.json()["code"] == "unauthorized"
    assert app_client.get("/tiles/roads/14/13300/6600.mvt").status_code == 401
    page = app_client.get("/reports?x=1", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/reports%3Fx%3D1"
    assert app_client.get("/api/health").status_code == 200  # health needs no account


def test_sign_in_sets_safe_cookies_and_csrf_guards_posts(app_client: TestClient, import_engine: Engine) -> None:
    app_client.cookies.clear()
    form = app_client.get("/login")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    wrong = app_client.post("/login", data={"username": "planner", "password": "nope", "csrf": token, "next": "/"})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    form = app_client.get("/login")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    good = app_client.post(
        "/login",
        data={"username": "planner", "password": PASSWORD, "csrf": token, "next": "/reports"},
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == "/reports"
    cookies = good.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("fupin_session="))
    assert "HttpOnly" in session and "Secure" in session and "SameSite=lax" in session
    csrf = app_client.cookies["fupin_csrf"]
    assert app_client.get("/api/layers").status_code == 200
    assert app_client.post("/api/coverage/runs").status_code == 403  # no CSRF header
    run = app_client.post("/api/coverage/runs", headers={"X-CSRF-Token": csrf})
    assert run.status_code == 201
    forged = app_client.post("/login", data={"username": "planner", "password": PASSWORD, "csrf": "forged"})
    assert forged.status_code == 403
    with import_engine.connect() as conn:
        actions = (
            conn.execute(text("SELECT action FROM audit_log WHERE username = 'planner' ORDER BY id")).scalars().all()
        )
    assert actions[:2] == ["login_failed", "login"] and "coverage_run" in actions
    app_client.post("/logout", headers={"X-CSRF-Token": csrf})
    app_client.cookies.clear()


def test_scope_is_enforced_by_the_database(
    app_client: TestClient, import_engine: Engine, towns: tuple[str, str]
) -> None:
    a, b = towns
    with import_engine.connect() as conn:
        in_a = conn.execute(text("SELECT count(*) FROM villages WHERE code LIKE :a || '%'"), {"a": a}).scalar_one()
        other = conn.execute(
            text("SELECT code, name, ST_X(seat), ST_Y(seat) FROM villages WHERE code LIKE :b || '%' LIMIT 1"), {"b": b}
        ).one()
    eng_a = bearer(import_engine, "eng_a")
    counts = {layer["name"]: layer["count"] for layer in app_client.get("/api/layers", headers=eng_a).json()}
    assert counts["villages"] == in_a
    assert counts["townships"] == 1 and counts["counties"] == 1  # its township, and the county above it
    assert counts["households"] == 0  # engineers see no personal data
    z, n = 14, 1 << 14
    x = int((other[2] + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(other[3]))) / math.pi) / 2 * n)
    tile = app_client.get(f"/tiles/villages/{z}/{x}/{y}.mvt", headers=eng_a).content
    seen = mapbox_vector_tile.decode(tile).get("villages", {"features": []})["features"] if tile else []
    assert other[0] not in {f["properties"].get("code") for f in seen}
    admin = bearer(import_engine, "admin")
    tile = app_client.get(f"/tiles/villages/{z}/{x}/{y}.mvt", headers=admin).content
    assert other[0] in {f["properties"].get("code") for f in mapbox_vector_tile.decode(tile)["villages"]["features"]}
    assert app_client.get("/api/search", params={"q": other[1]}, headers=eng_a).json() == []
    assert app_client.get(f"/api/villages/{other[0]}", headers=eng_a).status_code == 404
    app_client.post("/api/coverage/runs", headers=admin)
    rows = app_client.get("/api/reports/villages-lacking", headers=eng_a).json()["sections"][0]["rows"]
    assert rows and all(r["code"].startswith(a) for r in rows)
    run = app_client.get("/api/coverage/runs", headers=eng_a).json()[0]["id"]
    body = app_client.get(f"/api/coverage/runs/{run}", headers=eng_a).json()
    assert body["villages"] and all(v["code"].startswith(a) for v in body["villages"])
    assert list(body["summary"]) == [a]  # the county's totals would disclose the other townships
    units = app_client.get("/api/reports/summary", headers=eng_a).json()["sections"][0]["rows"]
    assert [u["code"] for u in units] == [a]


def test_personal_data_by_role(app_client: TestClient, import_engine: Engine) -> None:
    viewer, planner = bearer(import_engine, "viewer"), bearer(import_engine, "planner")
    assert app_client.get("/reports/households.csv", headers=viewer).status_code == 403
    assert "户七有" in app_client.get("/reports/households.csv", headers=planner).content.decode("utf-8-sig")
    count = {layer["name"]: layer["count"] for layer in app_client.get("/api/layers", headers=planner).json()}
    assert count["households"] > 0
    # the county's household list is too long to print: refused in PDF and HTML, the XLSX offered
    from fupin_gis.reports.render import PRINTED_ROWS_MAX

    rows = app_client.get("/api/reports/households", headers=planner).json()["sections"][0]["rows"]
    for fmt in ("pdf", "html"):
        answer = app_client.get(f"/reports/households.{fmt}", headers=planner)
        if len(rows) > PRINTED_ROWS_MAX:
            assert answer.status_code == 400 and "XLSX" in answer.json()["message_en"], answer.text[:300]
        else:
            assert answer.status_code == 200
    assert len(rows) > PRINTED_ROWS_MAX  # the plan demo's list is such a list


def _well(lon: float, lat: float, code: str, village: str) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": {
                        "SYBH": code,
                        "SYMC": "范围测试井",
                        "SYLX": "机压井",
                        "JSZT": "已建",
                        "所属村代码": village,
                    },
                }
            ],
        },
        ensure_ascii=False,
    ).encode()


def test_engineers_change_only_their_scope(
    app_client: TestClient, import_engine: Engine, towns: tuple[str, str]
) -> None:
    a, b = towns
    with import_engine.connect() as conn:
        seat_a = conn.execute(
            text("SELECT code, ST_X(seat), ST_Y(seat) FROM villages WHERE code LIKE :a || '%' LIMIT 1"), {"a": a}
        ).one()
        seat_b = conn.execute(
            text("SELECT code, ST_X(seat), ST_Y(seat) FROM villages WHERE code LIKE :b || '%' LIMIT 1"), {"b": b}
        ).one()
        before = conn.execute(text("SELECT count(*) FROM water_points")).scalar_one()
    eng_a, eng_b, viewer = (bearer(import_engine, u) for u in ("eng_a", "eng_b", "viewer"))

    def upload(headers: dict[str, str], seat: tuple, code: str):  # noqa: ANN202
        body = _well(seat[1] + 0.0003, seat[2], code, seat[0])
        return app_client.post(
            "/api/layers/water_points/imports",
            files={"file": ("well.geojson", body, "application/geo+json")},
            headers=headers,
        )

    assert upload(viewer, seat_a, "SCOPE-V").status_code == 403
    refused = upload(eng_a, seat_b, "SCOPE-B")
    assert refused.status_code == 403 and "scope" in refused.json()["message_en"]
    with import_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM water_points")).scalar_one() == before
    made = upload(eng_a, seat_a, "SCOPE-A")
    assert made.status_code == 201, made.text
    batch = made.json()["batch"]
    assert app_client.delete(f"/api/imports/{batch}", headers=eng_b).status_code == 403
    assert app_client.delete(f"/api/imports/{batch}", headers=eng_a).status_code == 200
    with import_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM water_points")).scalar_one() == before
        actions = conn.execute(text("SELECT action FROM audit_log WHERE username = 'eng_a'")).scalars().all()
    assert {"import", "rollback"} <= set(actions)


def test_scope_cannot_be_widened_from_inside(
    app_client: TestClient, import_engine: Engine, towns: tuple[str, str]
) -> None:
    """The tester's escapes: a township engineer edits the county, enlarges its own township's
    polygon, imports administrative units, or files a feature under its own village code in
    another township. Each is refused and nothing is written; an admin may still edit units."""
    a, b = towns
    eng_a, admin = bearer(import_engine, "eng_a"), bearer(import_engine, "admin")

    def state() -> tuple:
        with import_engine.connect() as conn:
            return (
                conn.execute(
                    text("SELECT md5(string_agg(name || ST_AsEWKB(geom)::text, ',' ORDER BY code)) FROM counties")
                ).scalar_one(),
                conn.execute(
                    text("SELECT md5(string_agg(name || ST_AsEWKB(geom)::text, ',' ORDER BY code)) FROM townships")
                ).scalar_one(),
                conn.execute(text("SELECT count(*) FROM water_points")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM batches")).scalar_one(),
            )

    with import_engine.connect() as conn:
        county_id, county_geom = conn.execute(text("SELECT id, ST_AsGeoJSON(geom)::json FROM counties LIMIT 1")).one()
        town_id = conn.execute(text("SELECT id FROM townships WHERE code = :a"), {"a": a}).scalar_one()
        mine = conn.execute(text("SELECT code FROM villages WHERE code LIKE :a || '%' LIMIT 1"), {"a": a}).scalar_one()
        elsewhere = conn.execute(
            text("SELECT ST_X(seat), ST_Y(seat) FROM villages WHERE code LIKE :b || '%' LIMIT 1"), {"b": b}
        ).one()
    before = state()
    shrink = app_client.patch(
        f"/api/layers/counties/features/{county_id}", json={"properties": {"name": "x"}}, headers=eng_a
    )
    assert shrink.status_code == 403 and "admins" in shrink.json()["message_en"], shrink.text
    grow = app_client.patch(f"/api/layers/townships/features/{town_id}", json={"geometry": county_geom}, headers=eng_a)
    assert grow.status_code == 403, grow.text
    unit = json.dumps(
        {"type": "Feature", "geometry": county_geom, "properties": {"区划代码": a, "名称": "扩张镇"}},
        ensure_ascii=False,
    ).encode()
    imported = app_client.post(
        "/api/layers/townships/imports", files={"file": ("t.geojson", unit, "application/json")}, headers=eng_a
    )
    assert imported.status_code == 403, imported.text
    stray = app_client.post(
        "/api/layers/water_points/imports",
        files={"file": ("w.geojson", _well(elsewhere[0], elsewhere[1], "STRAY-1", mine), "application/json")},
        headers=eng_a,
    )
    assert stray.status_code == 403 and "village" in stray.json()["message_en"], stray.text
    assert state() == before
    # an admin may correct a unit (and roll the correction back)
    fixed = app_client.patch(
        f"/api/layers/counties/features/{county_id}", json={"properties": {"name": "改名县"}}, headers=admin
    )
    assert fixed.status_code == 200, fixed.text
    assert app_client.delete(f"/api/imports/{fixed.json()['batch']}", headers=admin).status_code == 200
    assert state()[:3] == before[:3]


def test_disabled_accounts_and_append_only_audit(app_client: TestClient, import_engine: Engine) -> None:
    token = bearer(import_engine, "viewer")
    assert app_client.get("/api/layers", headers=token).status_code == 200
    disable_user(import_engine, "viewer")
    assert app_client.get("/api/layers", headers=token).status_code == 401
    with pytest.raises(DBAPIError, match="append-only"), import_engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET action = 'x'"))
    with pytest.raises(DBAPIError, match="append-only"), import_engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))


def test_edits_are_batches_checked_against_the_scope(
    app_client: TestClient, import_engine: Engine, towns: tuple[str, str]
) -> None:
    a, b = towns
    with import_engine.connect() as conn:
        seat_a, seat_b = (
            conn.execute(
                text("SELECT code, ST_X(seat), ST_Y(seat) FROM villages WHERE code LIKE :t || '%' LIMIT 1"), {"t": t}
            ).one()
            for t in (a, b)
        )
    eng_a, eng_b, admin = (bearer(import_engine, u) for u in ("eng_a", "eng_b", "admin"))
    made = app_client.post(
        "/api/layers/water_points/imports",
        files={"file": ("well.geojson", _well(seat_a[1] + 0.0003, seat_a[2], "EDIT-A", seat_a[0]), "application/json")},
        headers=eng_a,
    )
    assert made.status_code == 201, made.text
    with import_engine.connect() as conn:
        fid = conn.execute(text("SELECT id FROM water_points WHERE code = 'EDIT-A'")).scalar_one()

    def row() -> tuple:
        with import_engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT kind, working, households_served, ST_X(geom), ST_Y(geom), batch_id "
                    "FROM water_points WHERE id = :i"
                ),
                {"i": fid},
            ).one()

    url = f"/api/layers/water_points/features/{fid}"
    assert app_client.get(url, headers=eng_b).status_code == 404  # outside eng_b's scope: not even seen
    shown = app_client.get(url, headers=eng_a).json()
    assert shown["properties"]["code"] == "EDIT-A" and shown["geometry"]["type"] == "Point"
    before = row()
    assert app_client.patch(url, json={"properties": {"working": "否"}}, headers=eng_b).status_code == 403
    assert (
        app_client.patch(
            url, json={"properties": {"working": "否"}}, headers=bearer(import_engine, "planner")
        ).status_code
        == 403
    )
    for body, field in [
        ({"properties": {"kind": "火箭"}}, "kind"),
        ({"properties": {"nope": 1}}, "nope"),
        ({"properties": {"code": "OTHER"}}, "code"),
        ({"properties": {"households_served": "XX0"}}, "households_served"),
        ({"properties": {"kind": None}}, "kind"),
        ({}, "properties"),
        ({"geometry": {"type": "LineString", "coordinates": [[107, 31], [107.1, 31]]}}, "geometry"),
        ({"geometry": {"type": "Point", "coordinates": [500000, 3500000]}}, "geometry"),
        ({"geometry": "POINT(1 2)"}, "geometry"),
    ]:
        answer = app_client.patch(url, json=body, headers=eng_a)
        assert 400 <= answer.status_code < 500 and answer.json()["field"].endswith(field), (body, answer.text)
        assert answer.json()["message"] and answer.json()["message_en"]
    moved_out = {"properties": {"village_code": seat_b[0]}}  # a well belongs to its village's scope
    assert app_client.patch(url, json=moved_out, headers=eng_a).status_code == 403
    assert row() == before

    body = {
        "properties": {"kind": "水窖", "working": "否", "households_served": "１２０"},
        "geometry": {"type": "Point", "coordinates": [seat_a[1] + 0.0005, seat_a[2]]},
    }
    edited = app_client.patch(url, json=body, headers=eng_a)
    assert edited.status_code == 200, edited.text
    result = edited.json()
    assert set(result["changes"]) == {"kind", "working", "households_served", "geom"}
    assert result["changes"]["kind"] == {"old": "hand_pump_well", "new": "storage_tank"}
    after = row()
    assert after[:3] == ("storage_tank", False, 120) and after[5] == result["batch"]
    assert math.isclose(after[3], seat_a[1] + 0.0005, abs_tol=1e-9) and math.isclose(after[4], seat_a[2], abs_tol=1e-9)
    batch = app_client.get(f"/api/imports/{result['batch']}", headers=admin).json()
    assert batch["source"] == f"edit: water_points {fid}" and batch["counts"]["updated"] == 1
    assert app_client.delete(f"/api/imports/{result['batch']}", headers=eng_a).status_code == 200
    assert row() == before  # rolled back exactly
    with import_engine.connect() as conn:
        actions = conn.execute(text("SELECT action, detail FROM audit_log WHERE username = 'eng_a'")).all()
    assert any(action == "edit" and detail["feature"] == fid for action, detail in actions)
    assert app_client.delete(f"/api/imports/{made.json()['batch']}", headers=eng_a).status_code == 200


def test_first_view_warmed_for_each_scope(
    base_settings: Settings, import_engine: Engine, towns: tuple[str, str], app_client: TestClient
) -> None:
    """Accounts see their scope's own tiles: the server warms the first view of each scope too."""
    url = import_engine.url.render_as_string(hide_password=False)
    warm = base_settings.map.model_copy(update={"warm_overviews": True})
    settings = base_settings.model_copy(
        update={
            "database_url": url,
            "map": warm,
            "auth": base_settings.auth.model_copy(update={"required": True}),
        }
    )
    with TestClient(create_app(settings)) as c:
        c.app.state.warmer.join(120)  # type: ignore[attr-defined]
    with import_engine.connect() as conn:
        keys = set(conn.execute(text("SELECT DISTINCT layer FROM tile_cache")).scalars())
    assert "roads" in keys  # the whole registry's
    assert f"roads@{towns[0]}|0" in keys and f"roads@{towns[1]}|0" in keys  # each engineer's township
    # and those tiles are the ones the engineer is then served: same bytes as rendering them afresh
    token = bearer(import_engine, "eng_a")
    with import_engine.connect() as conn:
        z, x, y, cached = conn.execute(
            text("SELECT z, x, y, data FROM tile_cache WHERE layer = :k ORDER BY z DESC LIMIT 1"),
            {"k": f"roads@{towns[0]}|0"},
        ).one()
    served = app_client.get(f"/tiles/roads/{z}/{x}/{y}.mvt", headers={**token, "Accept-Encoding": "gzip"})
    assert served.status_code == 200
    assert mapbox_vector_tile.decode(served.content) == mapbox_vector_tile.decode(gzip.decompress(bytes(cached)))
