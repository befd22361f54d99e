"""What a scope sees, decided by one function (``auth.scope``): a township's accounts get their
township's figures of a coverage run — from POST as from GET — of its harden plan, of the plan's
measurement and of the plan-vs-actual report, and the import batches of their township's accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from fupin_gis.auth.accounts import add_user, new_token
from fupin_gis.auth.scope import filter_run, sees_all, sees_code, within
from fupin_gis.main import create_app
from fupin_gis.settings import Settings

PASSWORD = "correct horse"


def test_the_rules_of_a_scope() -> None:
    assert sees_code("511921103", "511921103201") and not sees_code("511921103", "511921")
    assert sees_code("511921", "511921103201") and sees_code("*", "anything")
    assert sees_code("511921103,511921105", "511921105209") and not sees_code("511921103", "511921105209")
    assert sees_all("511921", ["511921103", "511921105"]) and not sees_all("511921103", ["511921103", "None"])
    assert within("511921103", "511921") and not within("511921", "511921103") and not within("*", "511921")
    run = {
        "villages": [{"code": "511921103201"}, {"code": "511921105209"}],
        "summary": {"511921": {"villages": 2}, "511921103": {"villages": 1}, "511921105": {"villages": 1}},
        "network": {"edges": 10},
        "harden_plan": {"length_m": 30.0, "segments": [1, 2], "by_township": {"511921103": 10.0, "511921105": 20.0}},
        "plan": {
            "items": [{"key": "road", "done": 5.0, "share": 0.5, "by_year": {"2010": 5.0},
                       "by_township": {"511921103": 2.0, "511921105": 3.0}}],
            "tranches": [{"key": "t", "items": [{"key": "road", "done": 5.0}]}],
        },
    }  # fmt: skip
    seen = filter_run(run, "511921103", visible_roads=[2])
    assert [v["code"] for v in seen["villages"]] == ["511921103201"] and list(seen["summary"]) == ["511921103"]
    assert seen["network"] is None and seen["harden_plan"]["segments"] == [2]
    assert seen["harden_plan"]["length_m"] == 10.0 and seen["harden_plan"]["by_township"] == {"511921103": 10.0}
    item = seen["plan"]["items"][0]
    assert item["by_township"] == {"511921103": 2.0} and item["done"] is None and item["hidden"]
    assert seen["plan"]["tranches"][0]["items"][0]["done"] is None
    assert filter_run(run, "*") is run and filter_run(run, "511921")["plan"]["items"][0]["done"] == 5.0


@pytest.fixture(scope="module")
def towns(import_engine: Engine) -> tuple[str, str]:
    with import_engine.connect() as conn:
        a, b = conn.execute(text("SELECT code FROM townships ORDER BY code LIMIT 2")).scalars().all()
    return a, b


@pytest.fixture(scope="module")
def client(base_settings: Settings, import_engine: Engine, towns: tuple[str, str]) -> Iterator[TestClient]:
    for name, role, scope in [
        ("s_admin", "admin", "*"),
        ("s_planner_a", "planner", towns[0]),
        ("s_eng_a", "engineer", towns[0]),
        ("s_eng_b", "engineer", towns[1]),
    ]:
        add_user(import_engine, name, PASSWORD, role, scope)
    url = import_engine.url.render_as_string(hide_password=False)
    settings = base_settings.model_copy(
        update={"database_url": url, "auth": base_settings.auth.model_copy(update={"required": True})}
    )
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        yield c


def _as(engine: Engine, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_token(engine, user)}"}


def test_a_run_answers_a_township_planner_as_get_does(
    client: TestClient, import_engine: Engine, towns: tuple[str, str]
) -> None:
    """POST /api/coverage/runs once answered a township's planner with the county's totals, the
    whole harden plan and the plan's county figures, which GET hid."""
    a = towns[0]
    planner, engineer, admin = (_as(import_engine, u) for u in ("s_planner_a", "s_eng_a", "s_admin"))
    posted = client.post("/api/coverage/runs", headers=planner)
    assert posted.status_code == 201, posted.text
    run = posted.json()
    got = client.get(f"/api/coverage/runs/{run['run_id']}", headers=engineer).json()
    full = client.get(f"/api/coverage/runs/{run['run_id']}", headers=admin).json()
    assert list(run["summary"]) == list(got["summary"]) == [a] and len(full["summary"]) > 2
    assert {v["code"] for v in run["villages"]} == {v["code"] for v in got["villages"]}
    assert run["villages"] and all(v["code"].startswith(a) for v in run["villages"])
    assert run["network"] is None and got["network"] is None and full["network"]["edges"] > 0
    for seen in (run, got):
        harden = seen["harden_plan"]
        assert set(harden["by_township"]) <= {a} and harden["villages_connected_after"] is None
        assert harden["length_m"] == pytest.approx(full["harden_plan"]["by_township"].get(a, 0.0))
        assert set(harden["segments"]) <= set(full["harden_plan"]["segments"])
        for item in seen["plan"]["items"]:
            assert set(item["by_township"]) <= {a}
            assert item["done"] is None or item["key"] not in {i["key"] for i in full["plan"]["items"] if i["done"]}
    assert run["harden_plan"] == got["harden_plan"] and run["plan"] == got["plan"]
    # the harden plan's roads are the ones the township sees
    with import_engine.connect() as conn:
        a_roads = set(
            conn.execute(
                text("SELECT r.id FROM roads r JOIN townships t ON t.code = :a AND ST_Intersects(t.geom, r.geom)"),
                {"a": a},
            ).scalars()
        )
    assert set(got["harden_plan"]["segments"]) <= a_roads
    listed = client.get("/api/coverage/runs", headers=engineer).json()
    assert listed and all(r["network"] is None for r in listed)
    assert client.get("/api/coverage/runs", headers=admin).json()[0]["network"]["edges"] > 0


def test_plan_vs_actual_shows_a_township_its_own(
    client: TestClient, import_engine: Engine, towns: tuple[str, str]
) -> None:
    a = towns[0]
    client.post("/api/coverage/runs", headers=_as(import_engine, "s_admin"))
    mine = client.get("/api/reports/plan-vs-actual", headers=_as(import_engine, "s_eng_a")).json()
    everyone = client.get("/api/reports/plan-vs-actual", headers=_as(import_engine, "s_admin")).json()
    rows = mine["sections"][0]["rows"]
    assert rows and {r["town_code"] for r in rows} == {a}  # no county total, no other township
    assert all(r["done"] is None for r in mine["sections"][1]["rows"])  # the tranches' county figures
    all_rows = everyone["sections"][0]["rows"]
    assert "" in {r["town_code"] for r in all_rows} and len({r["town_code"] for r in all_rows}) > 2
    for row in rows:  # the township's own figures are the same as the admin sees for it
        twin = next(r for r in all_rows if r["town_code"] == a and r["item"] == row["item"])
        assert row["done"] == twin["done"]


def _wells(client: TestClient, engine: Engine, who: str, town: str, tmp_path: Path) -> int:
    """``who`` imports two wells at a village seat of ``town``; the batch id."""
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(seat), ST_Y(seat) FROM villages WHERE code LIKE :t || '%' ORDER BY code LIMIT 1"),
            {"t": town},
        ).one()
    path = tmp_path / f"{who}.csv"
    pd.DataFrame(
        {"编号": [f"SC-{who}-1", f"SC-{who}-2"], "类型": ["水井", "水井"], "状态": ["现有", "现有"],
         "经度": [lon, lon + 0.0005], "纬度": [lat, lat]}
    ).to_csv(path, index=False)  # fmt: skip
    with path.open("rb") as f:
        answer = client.post(
            "/api/layers/water_points/imports", files={"file": (path.name, f, "text/csv")}, headers=_as(engine, who)
        )
    assert answer.status_code == 201, answer.text
    batch: Any = answer.json()["batch"]
    return int(batch)


def test_a_township_sees_its_batches(
    client: TestClient, import_engine: Engine, towns: tuple[str, str], tmp_path: Path
) -> None:
    a, b = towns
    mine = _wells(client, import_engine, "s_eng_a", a, tmp_path)
    theirs = _wells(client, import_engine, "s_eng_b", b, tmp_path)
    county = _wells(client, import_engine, "s_admin", a, tmp_path)
    engineer, admin = _as(import_engine, "s_eng_a"), _as(import_engine, "s_admin")
    seen = {r["id"] for r in client.get("/api/imports", headers=engineer).json()}
    assert mine in seen and theirs not in seen and county not in seen
    everything = {r["id"] for r in client.get("/api/imports", headers=admin).json()}
    assert {mine, theirs, county} <= everything and len(everything) > len(seen)
    assert client.get(f"/api/imports/{mine}", headers=engineer).status_code == 200
    assert client.get(f"/api/imports/{theirs}", headers=engineer).status_code == 404
    page = client.get("/batches", headers=engineer | {"Accept": "text/html"})
    assert page.status_code == 200 and f'data-batch="{mine}"' in page.text
    assert f'data-batch="{theirs}"' not in page.text and f'data-batch="{county}"' not in page.text
