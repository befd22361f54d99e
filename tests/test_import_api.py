"""Imports over HTTP: dry run, commit, batch, rollback; every bad input a 4xx with nothing written."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from ingest_helpers import snapshot
from sqlalchemy import Engine

from fupin_gis.catalog import Catalog
from fupin_gis.main import create_app
from fupin_gis.settings import Settings

CSV = (
    pd.DataFrame(
        {
            "编号": ["W-API0", "W-API1"],
            "类型": ["机压井", "山泉"],
            "状态": ["现有", "规划"],
            "经度": [107.21, 107.26],
            "纬度": [31.90, 31.92],
        }
    )
    .to_csv(index=False)
    .encode()
)


@pytest.fixture(scope="module")
def client(base_settings: Settings, import_engine: Engine) -> Iterator[TestClient]:
    url = import_engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(base_settings.model_copy(update={"database_url": url}))) as c:
        yield c


def _post(client: TestClient, layer: str, name: str, data: bytes, **form: object):  # noqa: ANN202
    return client.post(f"/api/layers/{layer}/imports", files={"file": (name, data)}, data=form)


def test_dry_run_commit_view_and_rollback(client: TestClient, import_engine: Engine, catalog: Catalog) -> None:
    before = snapshot(import_engine, catalog)
    dry = _post(client, "water_points", "水源.csv", CSV, dry_run="true")
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert (body["batch"], body["features_read"], body["ok"]) == (None, 2, True)
    assert snapshot(import_engine, catalog) == before
    done = _post(client, "water_points", "水源.csv", CSV)
    assert done.status_code == 201, done.text
    batch = done.json()["batch"]
    assert done.json()["inserted"] == 2
    view = client.get(f"/api/imports/{batch}").json()
    assert view["source"] == "水源.csv" and view["status"] == "committed" and view["report"]["inserted"] == 2
    assert any(b["id"] == batch for b in client.get("/api/imports").json())
    undo = client.delete(f"/api/imports/{batch}")
    assert undo.json() == {"batch": batch, "removed": 2, "restored": 0}
    again = client.delete(f"/api/imports/{batch}")
    assert again.status_code == 409 and again.json()["code"] == "batch_conflict"
    assert snapshot(import_engine, catalog)["counts"] == before["counts"]


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("layer", "name", "data", "form", "status", "code"),
    [
        ("water_points", "evil.zip", _zip({"../evil.csv": CSV}), {}, 400, "import_refused"),
        ("water_points", "bomb.zip", _zip({"zeros.csv": b"0" * (50 * 1024 * 1024)}), {}, 413, "upload_too_large"),
        ("water_points", "tool.exe", b"MZ\x90\x00", {}, 415, "unsupported_format"),
        ("water_points", "notes.zip", _zip({"readme.txt": b"hello"}), {}, 415, "unsupported_format"),
        ("water_points", "broken.zip", b"PK\x03\x04 not really a zip", {}, 400, "import_refused"),
        ("nope", "水源.csv", CSV, {}, 404, "layer_not_found"),
        ("water_points", "水源.csv", CSV, {"map": "noequals"}, 400, "invalid_input"),
        ("water_points", "水源.csv", CSV, {"map": "编号=nofield"}, 400, "import_refused"),
        ("water_points", "水源.csv", CSV, {"crs": "EPSG:99999999"}, 400, "import_refused"),
        ("water_points", "水源.csv", CSV, {"datum": "bd09"}, 400, "invalid_input"),
        ("water_points", "bad.csv", CSV.replace("机压井".encode(), "水塔".encode()), {}, 422, None),
        ("water_points", "nocoords.csv", b"a,b\n1,2\n", {}, 415, "unsupported_format"),
    ],
)
def test_bad_input_is_4xx_json_and_writes_nothing(
    client: TestClient,
    import_engine: Engine,
    catalog: Catalog,
    layer: str,
    name: str,
    data: bytes,
    form: dict,
    status: int,
    code: str | None,
) -> None:
    before = snapshot(import_engine, catalog)
    response = _post(client, layer, name, data, **form)
    assert response.status_code == status, response.text
    body = response.json()
    if code:
        assert body["code"] == code and body["message"] and body["message_en"]
    else:
        assert body["ok"] is False and body["problems"][0]["code"] == "enum_unknown" and body["batch"] is None
    assert snapshot(import_engine, catalog) == before


def test_unknown_batch_is_404(client: TestClient) -> None:
    assert client.get("/api/imports/987654").status_code == 404
    assert client.delete("/api/imports/987654").status_code == 404
    assert client.get("/api/imports/abc").status_code == 422


def test_odd_uploads_name_the_users_file(client: TestClient, import_engine: Engine, catalog: Catalog) -> None:
    before = snapshot(import_engine, catalog)
    empty = _post(client, "water_points", "村委会水源.csv", b"")
    assert empty.status_code == 415
    assert empty.json()["message_en"] == "村委会水源.csv: the file is empty"
    alone = _post(client, "water_points", "水源.tab", b"!table\n!version 300\n!charset WindowsSimpChinese\n")
    assert alone.status_code == 415 and ".dat" in alone.json()["message_en"] and "zip" in alone.json()["message_en"]
    bad = _post(client, "water_points", "水源.csv", CSV, encoding="klingon")
    assert bad.status_code == 400 and bad.json()["field"] == "encoding"
    fake = _post(client, "water_points", "道路.shp", b"not a shapefile")
    assert fake.status_code == 415 and "fupin-import" not in fake.text and fake.json()["file"] == "道路.shp"
    assert snapshot(import_engine, catalog) == before
