"""The registry in GDAL: Debian's ``ogrinfo``/``ogr2ogr`` (GDAL 3.6) and the GDAL inside pyogrio's wheel
read ``/ogc`` of a real server with an account's token as the Basic password; what they get is
compared with SQL on the same database: counts, a full copy (every key once, attributes and
coordinates equal), bbox, ``-where`` pushed to the server as CQL, and the scope of each account."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from ogc_helpers import Account, make_accounts, pyogrio_read, serve
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.settings import Settings


@pytest.fixture(scope="module")
def accounts(ogc_engine: Engine) -> dict[str, Account]:
    return make_accounts(ogc_engine, "gdal")


@pytest.fixture(scope="module")
def server(settings: Settings, ogc_engine: Engine, accounts: dict[str, Account]) -> Iterator[str]:
    with serve(settings, ogc_engine, cursor_secret="gdal-tests") as url:
        yield url


def ogr(*args: str, debug: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CPL_DEBUG": "ON" if debug else "OFF", "GDAL_HTTP_TIMEOUT": "60"}
    done = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def town_condition(alias: str = "r") -> str:
    """The scope of a township, written independently of the app's policies."""
    return (
        f"(left({alias}.village_code, 9) = :town OR ({alias}.village_code IS NULL AND "
        f"ST_Intersects({alias}.geom, (SELECT geom FROM townships WHERE code = :town))))"
    )


def feature_count(stdout: str) -> int:
    line = next(x for x in stdout.splitlines() if x.startswith("Feature Count:"))
    return int(line.split(":")[1])


def test_ogrinfo_lists_the_layer_with_the_sql_count_and_extent(
    server: str, accounts: dict[str, Account], ogc_engine: Engine
) -> None:
    county = accounts["viewer"]
    out = ogr("ogrinfo", "-ro", "-so", "-oo", f"USERPWD={county.userpwd}", f"OAPIF:{server}/ogc", "roads").stdout
    with ogc_engine.connect() as conn:
        n, x0, y0, x1, y1 = conn.execute(
            text(
                "SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT count(*) n, ST_Extent(geom) e FROM roads) s"
            )
        ).one()
    assert feature_count(out) == n
    assert f"Extent: ({x0:.6f}, {y0:.6f}) - ({x1:.6f}, {y1:.6f})" in out
    assert "TITLE=道路" in out and "width_m: Real" in out and "plan_year: Integer" in out  # types from /schema
    listing = ogr("ogrinfo", "-ro", "-q", "-oo", f"USERPWD={county.userpwd}", f"OAPIF:{server}/ogc").stdout
    assert "households" not in listing  # personal data: not a collection for a viewer
    assert "roads" in listing and "villages" in listing


def _postgis_roads(engine: Engine, catalog: Catalog, condition: str = "TRUE", **params: str) -> pd.DataFrame:
    fields = [f.name for f in catalog.layer("roads").fields]
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {', '.join(fields)}, ST_AsGeoJSON(geom, 9, 0) AS g FROM roads r WHERE {condition}"), params
        ).mappings()
        frame = pd.DataFrame([dict(r) for r in rows])
    return frame.set_index("code").sort_index()


def _same_as_postgis(copy: pd.DataFrame, truth: pd.DataFrame, catalog: Catalog) -> None:
    assert copy["code"].is_unique and len(copy) == len(truth)
    copy = copy.set_index("code").sort_index()
    assert list(copy.index) == list(truth.index)  # every key once
    for field in catalog.layer("roads").fields:
        if field.name == "code":
            continue
        ours, theirs = copy[field.name], truth[field.name]
        if field.type in ("integer", "number"):
            np.testing.assert_array_equal(ours.astype(float).to_numpy(), theirs.astype(float).to_numpy(), field.name)
        else:
            assert [None if pd.isna(v) else v for v in ours] == [None if pd.isna(v) else v for v in theirs], field.name
    for code, geom in copy.geometry.items():
        expected = shapely.from_geojson(truth.at[code, "g"])
        assert np.array_equal(shapely.get_coordinates(geom), shapely.get_coordinates(expected)), code


def test_ogr2ogr_copies_roads_identical_to_postgis(
    server: str, accounts: dict[str, Account], ogc_engine: Engine, catalog: Catalog, tmp_path: Path
) -> None:
    """Debian's ogr2ogr over several pages (keyset cursors in next links) into a GeoPackage."""
    target = tmp_path / "roads.gpkg"
    admin = accounts["admin"]
    ogr("ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{server}/ogc", "roads", "-oo", "PAGE_SIZE=700",
        "-oo", f"USERPWD={admin.userpwd}")  # fmt: skip
    copy = pyogrio.read_dataframe(target)
    _same_as_postgis(copy, _postgis_roads(ogc_engine, catalog), catalog)


def test_pyogrio_gdal_reads_in_the_storage_crs_identical_to_postgis(
    server: str, accounts: dict[str, Account], ogc_engine: Engine, catalog: Catalog, tmp_path: Path
) -> None:
    """The newer GDAL asks for the storage CRS (EPSG:4490, latitude first) and swaps it back."""
    admin = accounts["admin"]
    copy, report = pyogrio_read(f"OAPIF:{server}/ogc", "roads", tmp_path / "r.gpkg", USERPWD=admin.userpwd)
    assert copy.crs.to_epsg() == 4490 and report["gdal"] >= "3.10"
    _same_as_postgis(copy, _postgis_roads(ogc_engine, catalog), catalog)


def test_where_is_pushed_to_the_server_as_cql_and_answers_as_sql(
    server: str, accounts: dict[str, Account], ogc_engine: Engine, catalog: Catalog, tmp_path: Path
) -> None:
    admin = accounts["admin"]
    where = "surface = 'hardened' AND width_m >= 4.5 AND name LIKE 'X%'"
    done = ogr("ogrinfo", "-ro", "-so", "-where", where, "-oo", f"USERPWD={admin.userpwd}", f"OAPIF:{server}/ogc",
               "roads", debug=True)  # fmt: skip
    assert "filter-lang=cql-text" in done.stderr and "resultType=hits" in done.stderr  # counted by the server
    with ogc_engine.connect() as conn:
        n = conn.execute(text(f"SELECT count(*) FROM roads WHERE {where}")).scalar_one()
    assert feature_count(done.stdout) == n > 0
    frame, _ = pyogrio_read(
        f"OAPIF:{server}/ogc",
        "roads",
        tmp_path / "w.gpkg",
        where="road_class = 'village' AND width_m < 4",
        USERPWD=admin.userpwd,
    )
    truth = _postgis_roads(ogc_engine, catalog, "road_class = 'village' AND width_m < 4")
    assert sorted(frame["code"]) == list(truth.index) and len(truth) > 0


def test_bbox_of_a_spatial_filter_answers_as_st_intersects(
    server: str, accounts: dict[str, Account], ogc_engine: Engine
) -> None:
    admin = accounts["admin"]
    with ogc_engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM roads) s")
        ).one()
    box = [x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.3, x0 + (x1 - x0) * 0.6, y0 + (y1 - y0) * 0.55]
    done = ogr("ogrinfo", "-ro", "-so", "-spat", *map(str, box), "-oo", f"USERPWD={admin.userpwd}",
               f"OAPIF:{server}/ogc", "roads", debug=True)  # fmt: skip
    assert "bbox=" in done.stderr
    with ogc_engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM roads WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4490))"),
            dict(zip("abcd", box, strict=True)),
        ).scalar_one()
    assert 0 < feature_count(done.stdout) == n


def test_a_township_token_sees_its_township_and_no_other(
    server: str, accounts: dict[str, Account], ogc_engine: Engine, catalog: Catalog, tmp_path: Path
) -> None:
    eng_a, eng_b = accounts["eng_a"], accounts["eng_b"]
    frame, _ = pyogrio_read(f"OAPIF:{server}/ogc", "roads", tmp_path / "a.gpkg", USERPWD=eng_a.userpwd)
    truth = _postgis_roads(ogc_engine, catalog, town_condition(), town=eng_a.scope)
    assert sorted(frame["code"]) == list(truth.index) and len(truth) > 0
    out = ogr("ogrinfo", "-ro", "-so", "-oo", f"USERPWD={eng_a.userpwd}", f"OAPIF:{server}/ogc", "roads").stdout
    assert feature_count(out) == len(truth)
    with ogc_engine.connect() as conn:
        theirs = conn.execute(
            text(f"SELECT code FROM roads r WHERE NOT {town_condition()} ORDER BY code LIMIT 1"), {"town": eng_a.scope}
        ).scalar_one()
        mine = truth.index[0]
    other = httpx.get(f"{server}/ogc/collections/roads/items/{theirs}", headers=eng_a.bearer)
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    assert httpx.get(f"{server}/ogc/collections/roads/items/{theirs}", headers=eng_b.bearer).status_code in (200, 404)
    found = httpx.get(f"{server}/ogc/collections/roads/items/{mine}", headers=eng_a.bearer)
    assert found.status_code == 200 and found.json()["id"] == mine and found.headers["etag"]
    assert "households" not in [
        c["id"] for c in httpx.get(f"{server}/ogc/collections", headers=eng_a.bearer).json()["collections"]
    ]
    assert httpx.get(f"{server}/ogc/collections/households/items", headers=eng_a.bearer).status_code == 404


def test_without_an_account_a_json_401_with_challenges_never_a_redirect(
    server: str, accounts: dict[str, Account]
) -> None:
    for headers in ({}, {"Accept": "text/html"}, {"Authorization": "Basic " + "bm9ib2R5Om5vcGU="}):
        answer = httpx.get(f"{server}/ogc/collections", headers=headers, follow_redirects=False)
        assert answer.status_code == 401, headers
        assert answer.headers["content-type"].startswith("application/json")
        challenges = answer.headers.get_list("www-authenticate")
        assert any(c.startswith("Basic ") for c in challenges) and any(c.startswith("Bearer ") for c in challenges)
        assert answer.headers["cache-control"] == "private, no-store"
        assert answer.json()["code"] == "unauthorized" and "token" in answer.json()["message_en"]
    viewer = accounts["viewer"]
    wrong_name = httpx.get(f"{server}/ogc/collections", auth=("someone-else", viewer.token))
    assert wrong_name.status_code == 401
    assert httpx.get(f"{server}/ogc/collections", auth=(viewer.name, viewer.token)).status_code == 200
    assert httpx.get(f"{server}/ogc/collections", auth=("", viewer.token)).status_code == 200
    body = json.loads(httpx.get(f"{server}/ogc/collections/roads", auth=(viewer.name, viewer.token)).text)
    assert body["storageCrs"].endswith("/EPSG/0/4490") and body["title"] == "道路"
