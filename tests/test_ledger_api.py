"""The ledger through /api/projects and ``fupin-gis projects``: roles and separation of duties
(planners, engineers, finance, auditors), scopes under row-level security, refusals as 409 / exit 2
naming the rule, money as text to the fen."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ledger_helpers import counts, days_ago, record, villages
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from fupin_gis.auth.accounts import add_user, new_token
from fupin_gis.cli import app as cli
from fupin_gis.main import create_app
from fupin_gis.settings import Settings

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def towns(import_engine: Engine) -> list[str]:
    with import_engine.connect() as conn:
        return list(conn.execute(text("SELECT code FROM townships ORDER BY code LIMIT 2")).scalars())


@pytest.fixture(scope="module")
def client(base_settings: Settings, import_engine: Engine, towns: list[str]) -> Iterator[TestClient]:
    county = towns[0][:6]
    for name, role, scope in [
        ("planner", "planner", county),
        ("township", "planner", towns[0]),
        ("dept", "planner", county),
        ("engineer", "engineer", towns[0]),
        ("engineer_b", "engineer", towns[1]),
        ("finance", "finance", county),
        ("auditor", "auditor", county),
        ("viewer", "viewer", county),
    ]:
        add_user(import_engine, name, PASSWORD, role, scope)
    url = import_engine.url.render_as_string(hide_password=False)
    settings = base_settings.model_copy(
        update={
            "database_url": url,
            "auth": base_settings.auth.model_copy(update={"required": True}),
            "ledger": base_settings.ledger.model_copy(update={"rerun_coverage": False}),
        }
    )
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        yield c


def who(engine: Engine, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_token(engine, user)}"}


def test_projects_over_http_with_separation_of_duties(
    client: TestClient, import_engine: Engine, towns: list[str]
) -> None:
    planner, engineer, finance = (who(import_engine, u) for u in ("planner", "engineer", "finance"))
    vills = villages(import_engine, township=0)
    body = record(vills, total_yuan="800000.00")
    assert client.post("/api/projects", json=body, headers=who(import_engine, "viewer")).status_code == 403
    made = client.post("/api/projects", json=body, headers=planner)
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    line = client.post(
        f"/api/projects/{code}/lines", json={"source": "central", "year": 2026, "amount": "800000.00"}, headers=planner
    ).json()["line"]
    assert (
        client.post(f"/api/projects/{code}/enter", json={"on": str(days_ago(260))}, headers=planner).status_code == 200
    )
    notice = client.post(
        f"/api/projects/{code}/notices",
        json={"kind": "plan", "start": str(days_ago(215)), "end": str(days_ago(206))},
        headers=planner,
    )
    assert notice.status_code == 201 and notice.json()["days"] == 10 and len(notice.json()["pdf_sha256"]) == 64
    pdf = client.get(f"/api/notices/{notice.json()['notice']}.pdf", headers=planner)
    assert pdf.content.startswith(b"%PDF") and pdf.headers["x-content-sha256"] == notice.json()["pdf_sha256"]
    contract = client.post(
        f"/api/projects/{code}/contracts",
        json={
            "number": "HT-API",
            "contractor": "某建筑公司",
            "value": "800000",
            "advance_share": "0.4",
            "signed_on": str(days_ago(200)),
        },
        headers=planner,
    ).json()["contract"]
    ask = {
        "line": line,
        "amount": "320000.01",
        "kind": "advance",
        "contract": contract,
        "voucher": "PZ-1",
        "evidence": {"contract": "HT-API"},
        "on": str(days_ago(199)),
    }
    before = counts(import_engine)
    over = client.post(f"/api/projects/{code}/payments", json=ask, headers=engineer)
    assert over.status_code == 409, over.text
    refusal = over.json()
    assert (
        refusal["code"] == "rule_refused" and refusal["rule"] == "reimbursement" and refusal["check"] == "payment_cap"
    )
    assert refusal["figures"]["cap"] == "320000.00" and "（五）项目资金管理报账制" in refusal["message"]
    assert refusal["message_en"].startswith("Rule 5")
    assert counts(import_engine) == before  # nothing written, the event log unchanged
    ok = client.post(f"/api/projects/{code}/payments", json=ask | {"amount": "320000.00"}, headers=engineer)
    assert ok.status_code == 201
    pay = ok.json()["payment"]
    step = f"/api/projects/{code}/payments/{pay}/approve"
    assert client.post(step, json={}, headers=engineer).status_code == 403  # engineers do not approve
    assert client.post(step, json={}, headers=who(import_engine, "township")).json()["state"] == "pending"
    again = client.post(step, json={}, headers=who(import_engine, "township"))
    assert again.status_code == 403 and "separation of duties" in again.json()["message_en"]
    assert client.post(step, json={}, headers=who(import_engine, "auditor")).status_code == 403
    assert client.post(step, json={}, headers=who(import_engine, "dept")).json()["state"] == "pending"
    assert client.post(step, json={}, headers=planner).status_code == 403  # the finance step needs finance
    assert client.post(step, json={}, headers=finance).json()["state"] == "approved"
    shown = client.get(f"/api/projects/{code}", headers=who(import_engine, "viewer")).json()
    assert shown["paid"] == "320000.00" and shown["payments"][0]["state"] == "approved"  # money as text
    assert shown["contracts"][0]["cap"]["room"] == "0.00"
    # auditors record findings, nobody else
    finding = {"kind": "documents", "description": "缺少监理日志", "amount": "1000"}
    assert client.post(f"/api/projects/{code}/findings", json=finding, headers=planner).status_code == 403
    assert (
        client.post(f"/api/projects/{code}/findings", json=finding, headers=who(import_engine, "auditor")).status_code
        == 201
    )
    # another township's engineer neither sees nor writes the project
    other = who(import_engine, "engineer_b")
    assert code not in {p["code"] for p in client.get("/api/projects", headers=other).json()}
    assert client.get(f"/api/projects/{code}", headers=other).status_code == 404
    assert (
        client.post(
            f"/api/projects/{code}/progress", json={"certified": "10", "certifier": "x"}, headers=other
        ).status_code
        == 403
    )
    assert "/api/projects/{code}/payments" in client.get("/openapi.json").json()["paths"]


def test_projects_on_the_command_line(client: TestClient, import_engine: Engine) -> None:
    env = {"DATABASE_URL": import_engine.url.render_as_string(hide_password=False)}
    run = CliRunner()

    def call(*args: str) -> tuple[int, dict]:
        result = run.invoke(cli, ["projects", *args, "--json"], env=env)
        return result.exit_code, json.loads(result.output.strip().splitlines()[-1]) if result.output.strip() else {}

    vills = villages(import_engine, township=1)
    code_, out = call(
        "add",
        "--as",
        "planner",
        "--name",
        "某村改厕",
        "--category",
        "household_env",
        "--subtype",
        "toilets",
        "--village",
        vills[0],
        "--total",
        "50000",
    )
    assert code_ == 0, out
    code = out["code"]
    exit_code, out = call("approve", code, "--as", "planner")
    assert exit_code == 2 and out["code"] == "rule_refused" and out["check"] == "library_fields"
    assert "responsible" in out["figures"]["missing"] and "责任人" in out["message"]
    assert call("approve", code, "--as", "engineer")[0] == 1  # a role that may not (403 over HTTP)
    assert call("approve", code, "--as", "nobody")[0] == 1
    exit_code, out = call(
        "line", code, "--as", "planner", "--source", "county", "--year", "2026", "--amount", "50000.001"
    )
    assert exit_code == 2 and out["field"] == "amount"  # exact to the fen
    assert call("line", code, "--as", "planner", "--source", "county", "--year", "2026", "--amount", "50000")[0] == 0
    exit_code, shown = call("show", code, "--as", "viewer")
    assert exit_code == 0 and shown["lines_total"] == "50000.00" and "enter" in shown["actions"]
    exit_code, listed = call("list", "--as", "viewer", "--status", "draft")
    assert code in {p["code"] for p in listed}
