"""OGC API transactions through OWSLib and HTTP: every write (POST, PUT, PATCH, DELETE) is one batch of
kind api-edit, audited in its own transaction with the feature before and after, visible on the map,
and undone exactly by "roll back this account's API edits since a time" (route and command); the
scope, the roles and the database's write policies refuse what an account may not write."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import mapbox_vector_tile
import pytest
from ogc_helpers import Account, make_accounts, serve
from owslib.ogcapi.features import Features
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from fupin_gis.cli import app
from fupin_gis.db.cluster import SCOPED_ROLE
from fupin_gis.settings import Settings

DIGEST = "SELECT md5(string_agg(to_jsonb(r)::text, '|' ORDER BY id)) FROM roads r"


@pytest.fixture(scope="module")
def accounts(ogc_engine: Engine) -> dict[str, Account]:
    return make_accounts(ogc_engine, "write")


@pytest.fixture(scope="module")
def server(settings: Settings, ogc_engine: Engine, accounts: dict[str, Account]) -> Iterator[str]:
    with serve(settings, ogc_engine, cursor_secret="write-tests") as url:
        yield url


def village_in(engine: Engine, town: str) -> dict[str, Any]:
    """A village of ``town``: its code and a short line inside it (lon/lat)."""
    with engine.connect() as conn:
        code, x, y = conn.execute(
            text(
                "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM villages "
                "WHERE left(code, 9) = :t ORDER BY code LIMIT 1) s"
            ),
            {"t": town},
        ).one()
    return {"code": code, "line": [[x - 0.0004, y], [x, y + 0.0003], [x + 0.0004, y]]}


def new_road(code: str, village: dict[str, Any], **props: Any) -> dict[str, Any]:
    properties = {"code": code, "road_class": "village", "surface": "gravel", "status": "planned"}
    properties |= {"village_code": village["code"], "width_m": 3.5} | props
    return {
        "type": "Feature",
        "geometry": {"type": "MultiLineString", "coordinates": [village["line"]]},
        "properties": properties,
    }


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def batch_of(engine: Engine, batch: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM batches WHERE id = :b"), {"b": batch}).mappings().one()


def audit_of(engine: Engine, batch: int) -> Any:
    with engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT * FROM audit_log WHERE action = 'api_edit' AND (detail->>'batch')::bigint = :b"),
                {"b": batch},
            )
            .mappings()
            .one()
        )


def test_every_write_path_is_a_batch_audited_on_the_map_and_rolled_back_exactly(
    server: str, accounts: dict[str, Account], ogc_engine: Engine
) -> None:
    eng = accounts["eng_a"]
    base = f"{server}/ogc/collections/roads/items"
    with ogc_engine.connect() as conn:
        before = conn.execute(text(DIGEST)).scalar_one()
        since = conn.execute(text("SELECT now()")).scalar_one().isoformat()
        victim = conn.execute(
            text("SELECT code, id FROM roads WHERE left(village_code, 9) = :t ORDER BY id LIMIT 1"), {"t": eng.scope}
        ).one()
    village = village_in(ogc_engine, eng.scope)
    api = Features(f"{server}/ogc", headers=eng.bearer)
    # POST (OWSLib): a new road
    assert api.collection_item_create("roads", new_road("OGC-T1", village, name="新修通组路"))
    location = api.response_headers["Location"]
    assert location == f"{base}/OGC-T1"
    created = int(api.response_headers["Fupin-Batch"])
    row = batch_of(ogc_engine, created)
    assert row["kind"] == "api-edit" and row["username"] == eng.name and row["layer"] == "roads" and row["request_id"]
    audited = audit_of(ogc_engine, created)
    assert audited["at"] == row["created_at"]  # the same transaction: one now()
    assert audited["detail"]["after"]["code"] == "OGC-T1" and audited["detail"]["before"] is None
    # the map shows it: the tile over it holds the new road
    got = httpx.get(f"{base}/OGC-T1", headers=eng.bearer)
    assert got.status_code == 200 and got.json()["properties"]["name"] == "新修通组路"
    x, y = tile_of(village["line"][1][0], village["line"][1][1], 15)
    tile = httpx.get(f"{server}/tiles/roads/15/{x}/{y}.mvt", headers=accounts["admin"].bearer)
    with ogc_engine.connect() as conn:
        new_id = conn.execute(text("SELECT id FROM roads WHERE code = 'OGC-T1'")).scalar_one()
        cached = "SELECT count(*) FROM tile_cache WHERE layer = 'roads' AND z = 15 AND x = :x AND y = :y"
        assert conn.execute(text(cached), {"x": x, "y": y}).scalar_one() == 1
    assert new_id in {f["id"] for f in mapbox_vector_tile.decode(tile.content)["roads"]["features"]}
    # PUT (OWSLib): replaced as a whole; fields not given become empty
    replaced = new_road("OGC-T1", village, surface="hardened", width_m=4.5)
    assert api.collection_item_update("roads", "OGC-T1", replaced)
    put = httpx.get(f"{base}/OGC-T1", headers=eng.bearer)
    assert put.json()["properties"]["surface"] == "hardened" and put.json()["properties"]["name"] is None
    # PATCH (merge patch) with If-Match: a stale ETag is refused, the current one passes
    stale = httpx.patch(
        f"{base}/OGC-T1",
        json={"properties": {"name": "x"}},
        headers={**eng.bearer, "If-Match": got.headers["etag"], "Content-Type": "application/merge-patch+json"},
    )
    assert stale.status_code == 412
    moved = [[p[0] + 0.0001, p[1]] for p in village["line"]]
    patched = httpx.patch(
        f"{base}/OGC-T1",
        content=json.dumps(
            {
                "properties": {"name": "通组路", "plan_year": 2027},
                "geometry": {"type": "LineString", "coordinates": moved},
            }
        ),
        headers={
            **eng.bearer,
            "If-Match": put.headers["etag"],
            "Content-Type": "application/merge-patch+json",
            "X-Request-Id": "qgis-42",
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["properties"]["plan_year"] == 2027 and patched.json()["geometry"]["type"] == "MultiLineString"
    patch_batch = int(patched.headers["fupin-batch"])
    assert batch_of(ogc_engine, patch_batch)["request_id"] == "qgis-42"
    assert audit_of(ogc_engine, patch_batch)["detail"]["before"]["name"] is None
    with ogc_engine.connect() as conn:  # the moved road dropped the cached tile it touched
        assert conn.execute(text(cached), {"x": x, "y": y}).scalar_one() == 0
    # DELETE (OWSLib): an existing road of the township
    assert api.collection_item_delete("roads", victim.code)
    assert httpx.get(f"{base}/{victim.code}", headers=eng.bearer).status_code == 404
    # roll back this account's edits since the start: newest first, exactly
    other = accounts["eng_b"]
    assert httpx.post(f"{server}/ogc/collections/roads/edits/rollback", params={"since": since, "user": eng.name},
                      headers=other.bearer).status_code == 403  # fmt: skip
    undone = httpx.post(f"{server}/ogc/collections/roads/edits/rollback", params={"since": since}, headers=eng.bearer)
    assert undone.status_code == 200, undone.text
    result = undone.json()
    assert len(result["batches"]) == 4 and result["batches"] == sorted(result["batches"], reverse=True)
    with ogc_engine.connect() as conn:
        assert conn.execute(text(DIGEST)).scalar_one() == before
        statuses = conn.execute(
            text("SELECT status FROM batches WHERE id = ANY(:b)"), {"b": result["batches"]}
        ).scalars()
        assert set(statuses) == {"rolled_back"}
    assert httpx.get(f"{base}/{victim.code}", headers=eng.bearer).status_code == 200
    assert httpx.get(f"{base}/OGC-T1", headers=eng.bearer).status_code == 404


def test_the_command_rolls_back_an_accounts_edits(
    server: str, accounts: dict[str, Account], ogc_engine: Engine
) -> None:
    eng = accounts["county"]
    with ogc_engine.connect() as conn:
        before = conn.execute(text(DIGEST)).scalar_one()
        since = conn.execute(text("SELECT now()")).scalar_one().isoformat()
        code = conn.execute(text("SELECT code FROM roads ORDER BY id DESC LIMIT 1")).scalar_one()
    edit = httpx.patch(
        f"{server}/ogc/collections/roads/items/{code}", json={"properties": {"surface": "earth"}}, headers=eng.bearer
    )
    assert edit.status_code == 200, edit.text
    url = ogc_engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg", "postgresql")
    args = ["rollback-edits", "--user", eng.name, "--layer", "roads", "--since", since, "--json"]
    done = CliRunner().invoke(app, args, env={"DATABASE_URL": url})
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["batches"] == [int(edit.headers["fupin-batch"])]
    with ogc_engine.connect() as conn:
        assert conn.execute(text(DIGEST)).scalar_one() == before


def test_scope_roles_and_values_are_checked(server: str, accounts: dict[str, Account], ogc_engine: Engine) -> None:
    eng, viewer, admin = accounts["eng_a"], accounts["viewer"], accounts["admin"]
    base = f"{server}/ogc/collections"
    mine, theirs = village_in(ogc_engine, eng.scope), village_in(ogc_engine, accounts["eng_b"].scope)
    with ogc_engine.connect() as conn:
        committed = "SELECT count(*) FROM batches WHERE kind = 'api-edit' AND status = 'committed'"
        count = conn.execute(text(committed)).scalar_one()
        their_road = conn.execute(
            text("SELECT code FROM roads WHERE left(village_code, 9) = :t LIMIT 1"), {"t": accounts["eng_b"].scope}
        ).scalar_one()

    def post(account: Account, body: Any, layer: str = "roads", **headers: str) -> httpx.Response:
        return httpx.post(f"{base}/{layer}/items", json=body, headers={**account.bearer, **headers})

    assert post(eng, new_road("OGC-B1", theirs)).status_code == 403  # another township's village and place
    stray = new_road("OGC-B2", {"code": mine["code"], "line": theirs["line"]})
    assert post(eng, stray).status_code == 403  # its village code says here, its geometry there
    assert (
        httpx.patch(
            f"{base}/roads/items/{their_road}", json={"properties": {"name": "x"}}, headers=eng.bearer
        ).status_code
        == 404
    )
    village = {"type": "Feature", "geometry": None, "properties": {"code": mine["code"][:9] + "999", "name": "x"}}
    assert post(eng, village, "villages").status_code == 403  # administrative units: admins only
    assert post(viewer, new_road("OGC-B3", mine)).status_code == 403
    for body, field in (
        (new_road("OGC-B4", mine, surface="marble"), "surface"),
        ({**new_road("OGC-B5", mine), "properties": {"code": "OGC-B5", "surface": "gravel"}}, "road_class"),
        ({**new_road("OGC-B6", mine), "geometry": {"type": "Point", "coordinates": mine["line"][0]}}, "geometry"),
        (new_road("OGC-B7", mine, nonesuch=1), "nonesuch"),
    ):
        answer = post(eng, body)
        assert answer.status_code == 400 and answer.json()["field"] == field, (field, answer.text)
    far = {**new_road("OGC-B8", mine), "geometry": {"type": "LineString", "coordinates": [[10, 10], [10.1, 10.1]]}}
    assert post(admin, {**far, "properties": {**far["properties"], "village_code": None}}).status_code == 400
    assert post(eng, new_road(their_road, mine)).status_code == 409  # the key exists (in another township)
    assert (
        httpx.post(
            f"{base}/roads/items", content=b"<xml/>", headers={**eng.bearer, "Content-Type": "application/xml"}
        ).status_code
        == 415
    )
    assert (
        httpx.post(
            f"{base}/roads/items", content=b"{", headers={**eng.bearer, "Content-Type": "application/json"}
        ).status_code
        == 400
    )
    with ogc_engine.connect() as conn:
        assert conn.execute(text(committed)).scalar_one() == count  # nothing written by any of these
    # Content-Crs: coordinates given latitude first in EPSG:4490
    flipped = new_road("OGC-B9", mine)
    flipped["geometry"]["coordinates"] = [[[p[1], p[0]] for p in mine["line"]]]
    made = post(eng, flipped, **{"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4490>"})
    assert made.status_code == 201, made.text
    assert made.json()["geometry"]["coordinates"][0][0] == pytest.approx(mine["line"][0], abs=1e-9)
    changed = httpx.patch(f"{base}/roads/items/OGC-B9", json={"properties": {"code": "OGC-B10"}}, headers=eng.bearer)
    assert changed.status_code == 400 and changed.json()["field"] == "code"  # the id cannot change
    assert httpx.delete(f"{base}/roads/items/OGC-B9", headers=eng.bearer).status_code == 204


def test_options_answers_allow_by_role(server: str, accounts: dict[str, Account]) -> None:
    base = f"{server}/ogc/collections"
    cases = [
        ("viewer", "roads/items", "GET, HEAD, OPTIONS"),
        ("eng_a", "roads/items", "GET, HEAD, OPTIONS, POST"),
        ("eng_a", "villages/items", "GET, HEAD, OPTIONS"),
        ("admin", "villages/items", "GET, HEAD, OPTIONS, POST"),
        ("eng_a", "roads/items/X1", "GET, HEAD, OPTIONS, PUT, PATCH, DELETE"),
        ("planner", "roads/items/X1", "GET, HEAD, OPTIONS"),
    ]
    for who, path, allow in cases:
        answer = httpx.options(f"{base}/{path}", headers=accounts[who].bearer)
        assert answer.status_code == 204 and answer.headers["allow"] == allow, (who, path)
    assert httpx.options(f"{base}/roads/items").status_code == 401


def test_write_policies_hold_in_the_database_on_any_route(accounts: dict[str, Account], ogc_engine: Engine) -> None:
    """As the scoped role with a township engineer's settings, plain SQL cannot write outside the scope."""
    eng, other = accounts["eng_a"], accounts["eng_b"]
    mine, theirs = village_in(ogc_engine, eng.scope), village_in(ogc_engine, other.scope)
    line = "ST_GeomFromText('MULTILINESTRING((" + ", ".join(f"{x} {y}" for x, y in theirs["line"]) + "))', 4490)"

    def as_engineer(sql: str, **params: Any) -> None:
        with ogc_engine.begin() as conn:
            conn.execute(
                text("SELECT set_config('fupin.scope', :s, true), set_config('fupin.role', 'engineer', true)"),
                {"s": eng.scope},
            )
            conn.execute(text(f"SET LOCAL ROLE {SCOPED_ROLE}"))
            conn.execute(text(sql), params)

    insert = (
        "INSERT INTO roads (code, road_class, surface, status, village_code, geom) "
        f"VALUES ('OGC-SQL', 'village', 'gravel', 'planned', :v, {line})"
    )
    with pytest.raises(DBAPIError, match="row-level security"):
        as_engineer(insert, v=theirs["code"])
    with pytest.raises(DBAPIError, match="row-level security"):
        as_engineer(
            "UPDATE roads SET village_code = :v WHERE left(village_code, 9) = :t", v=theirs["code"], t=eng.scope
        )
    with pytest.raises(DBAPIError, match="row-level security"):
        as_engineer(
            "INSERT INTO villages (code, name, geom) SELECT :c, 'x', geom FROM villages WHERE code = :v",
            c=mine["code"][:9] + "998",
            v=mine["code"],
        )
    as_engineer("UPDATE roads SET name = name WHERE left(village_code, 9) = :t", t=eng.scope)  # inside: allowed
    with ogc_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM roads WHERE code = 'OGC-SQL'")).scalar_one() == 0
