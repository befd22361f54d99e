"""The map in a real Chromium (system package), with every request outside the app refused."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.demo import DemoCounty
from fupin_gis.ingest.batches import rollback
from fupin_gis.main import create_app
from fupin_gis.settings import Settings

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium_page(width: int = 1400, height: int = 900) -> Iterator[tuple[Page, list[str]]]:
    """A page in the system Chromium, and the script errors it meets."""
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page, errors
        finally:
            browser.close()


@pytest.fixture(scope="module")
def server(settings: Settings, demo: DemoCounty) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.mark.browser
def test_map_in_chromium(server: str, catalog: Catalog, engine: Engine, output_dir: Path) -> None:
    outside: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})

        def guard(route):  # noqa: ANN001, ANN202
            if urlparse(route.request.url).hostname != "127.0.0.1":
                outside.append(route.request.url)
                return route.abort()
            return route.continue_()

        page.route("**/*", guard)
        assert page.request.post(server + "/api/coverage/runs").status == 201
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        tiles: list[str] = []
        statuses: list[int] = []

        def seen(response):  # noqa: ANN001, ANN202
            if "/tiles/" in response.url:
                name = response.url.split("/tiles/")[1].split("/")[0]
                if name == "all":  # the catalog layers switched on, in one request
                    tiles.extend(parse_qs(urlparse(response.url).query)["layers"][0].split(","))
                else:
                    tiles.append(name)
                statuses.append(response.status)

        page.on("response", seen)
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(server + "/", wait_until="load")
        page.wait_for_function(
            "() => typeof L !== 'undefined' && document.querySelectorAll('.leaflet-control-layers-selector').length > 0"
        )
        labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        assert len(labels) == len(catalog.layers) + 1  # every layer, and the latest coverage
        for spec in catalog.ordered():
            assert any(spec.label in text for text in labels), spec.name
        assert "Coverage" in labels[0]  # coverage lies underneath the layers
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(output_dir / "map.png"))
        # colour the villages by another rule: the legend shows its classes, the villages are redrawn in them
        page.select_option("#coverage-rule", "water")
        assert page.is_visible("#coverage-legend .rule[data-rule=water]")
        assert not page.is_visible("#coverage-legend .rule[data-rule=road]")
        page.wait_for_load_state("networkidle")
        page.wait_for_function(
            """() => { const m = Object.values(window).find(v => v instanceof L.Map); let done = false;
                       m.eachLayer(l => { if (l.options && l.options.vectorTileLayerStyles
                           && l.options.vectorTileLayerStyles.coverage && !l.isLoading()) done = true; });
                       return done; }"""
        )
        drawn = page.evaluate(
            """() => { const m = Object.values(window).find(v => v instanceof L.Map); const rule = FUPIN.layers.coverage.rules.water;
                       const out = []; m.eachLayer(l => { if (!(l.options && l.options.vectorTileLayerStyles
                           && l.options.vectorTileLayerStyles.coverage)) return;
                         Object.values(l._vectorTiles).forEach(r => Object.values(r._features).forEach(e =>
                           out.push([e.feature.properties.w || null, e.feature.options.fillColor]))); });
                       return [out, rule.values]; }"""
        )
        pairs, water_styles = drawn
        assert pairs and all(colour == water_styles[cls]["fillColor"] for cls, colour in pairs if cls), pairs[:5]
        page.screenshot(path=str(output_dir / "map-water.png"))
        page.select_option("#coverage-rule", "road")
        first = set(tiles)
        assert {"coverage", "roads", "townships"} <= first  # villages come coloured by the coverage run
        assert "households" not in first and "villages" not in first  # households and the plain villages start hidden
        # Click the first village seat: the popup names the village with the catalog's labels.
        with engine.connect() as conn:
            name, lon, lat = conn.execute(
                text(
                    "SELECT name, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM villages ORDER BY code"
                )
            ).first()
        point = page.evaluate(
            """([lat, lon]) => { const m = Object.values(window).find(v => v instanceof L.Map);
                       m.setView([lat, lon], 15, {animate: false}); return true; }""",
            [lat, lon],
        )
        assert point
        page.wait_for_function(
            """() => { const m = Object.values(window).find(v => v instanceof L.Map); let ready = true;
                       m.eachLayer(l => { if (l._vectorTiles && (l._tileZoom !== 15 || l.isLoading())) ready = false; });
                       return ready; }"""
        )
        page.mouse.click(700, 450)
        page.wait_for_selector(".fupin-popup")
        popup = page.inner_text(".fupin-popup")
        page.screenshot(path=str(output_dir / "map-popup.png"))
        page.click("#lang")  # English popups
        page.wait_for_selector(".fupin-popup", state="detached")
        page.mouse.click(700, 450)
        page.wait_for_selector(".fupin-popup")
        english = page.inner_text(".fupin-popup")
        assert any(spec.en in english for spec in catalog.ordered()) and english != popup, (english, popup)
        page.click("#lang")
        page.locator(".leaflet-control-layers-overlays label", has_text="建档立卡户").locator("input").check()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(output_dir / "map-households.png"))
        browser.close()
    assert set(tiles) - first == {"households"}
    assert all(s == 200 for s in statuses), statuses
    assert "村" in popup and "代码" in popup, popup  # the coverage or the village layer answers the click
    assert outside == []
    assert errors == []


@pytest.mark.browser
def test_reports_page_in_chromium(server: str, output_dir: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        assert page.request.post(server + "/api/coverage/runs").status == 201
        page.goto(server + "/", wait_until="load")
        page.click("#title a")  # the map links to the reports
        page.wait_for_url(server + "/reports")
        town = page.locator("select[name=township] option").nth(2)
        code, name = town.get_attribute("value"), town.inner_text()
        page.select_option("select[name=township]", code)
        page.select_option("select[name=rule]", "water")
        lacking = page.locator("[data-report=villages-lacking] a[data-format=xlsx]").get_attribute("href")
        summary = page.locator("[data-report=summary] a[data-format=html]").get_attribute("href")
        assert f"township={code}" in lacking and "rule=water" in lacking
        assert f"township={code}" in summary and "rule=" not in summary
        assert page.locator("[data-report=households] a").count() > 0  # accounts off: the system may see personal data
        assert page.locator("[data-report=plan-vs-actual] a[data-format=shp]").count() == 0  # no geometry
        assert "反映当前数据" in page.inner_text("#freshness")  # no import since the run
        page.screenshot(path=str(output_dir / "reports.png"), full_page=True)
        newest = page.locator("select[name=run] option").first.get_attribute("value")
        page.click("#run-now")  # a planner runs the analysis from the page; it reloads with the new run
        page.wait_for_function(
            f"() => document.querySelector('select[name=run] option') && document.querySelector('select[name=run] option').value !== '{newest}'",
            timeout=120_000,
        )
        page.wait_for_load_state("load")
        with page.expect_download() as download:
            page.click("[data-report=villages-lacking] a[data-format=csv]")
        assert download.value.suggested_filename.startswith("villages-lacking-run")
        page.click("[data-report=summary] a[data-format=html]")
        page.wait_for_selector("h1")
        assert "乡镇与全县汇总" in page.inner_text("h1")
        assert name.split()[0] in page.inner_text("table")
        page.screenshot(path=str(output_dir / "report-summary.png"), full_page=True)
        browser.close()


@pytest.mark.browser
def test_search_and_village_page_in_chromium(server: str, engine: Engine, output_dir: Path) -> None:
    with engine.connect() as conn:
        code, name = conn.execute(text("SELECT code, name FROM villages ORDER BY code LIMIT 1")).one()
    with chromium_page() as (page, errors):
        assert page.request.post(server + "/api/coverage/runs").status == 201
        page.goto(server + "/", wait_until="load")
        page.fill("#search-q", name)
        page.wait_for_selector("#search-results .hit")
        page.click("#search-results .hit .name >> nth=0")  # zooms the map to the village
        zoom = page.evaluate("() => Object.values(window).find(v => v instanceof L.Map).getZoom()")
        assert zoom >= 13
        page.screenshot(path=str(output_dir / "map-search.png"))
        page.click(f"#search-results a[href='/villages/{code}']")
        page.wait_for_url(f"{server}/villages/{code}")
        assert name in page.inner_text("h1")
        frame = page.frame_locator("iframe")
        frame.locator(".leaflet-container").wait_for()
        assert "达标" in page.inner_text("body")
        page.wait_for_timeout(500)
        page.screenshot(path=str(output_dir / "village.png"), full_page=True)
    assert errors == []


@pytest.mark.browser
def test_feature_page_edit_in_chromium(server: str, engine: Engine, catalog: Catalog, output_dir: Path) -> None:
    """Click a water point on the map, open its page from the popup, change a field, save, roll back."""
    with engine.connect() as conn:
        fid, lon, lat, working = conn.execute(
            text("SELECT id, ST_X(geom), ST_Y(geom), working FROM water_points WHERE working IS NOT NULL ORDER BY id")
        ).first()
    with chromium_page() as (page, errors):
        page.goto(server + "/", wait_until="load")
        page.evaluate(
            """([lat, lon]) => { Object.values(window).find(v => v instanceof L.Map).setView([lat, lon], 17, {animate: false}); }""",
            [lat, lon],
        )
        page.wait_for_function(
            """() => { const m = Object.values(window).find(v => v instanceof L.Map); let ready = true;
                       m.eachLayer(l => { if (l._vectorTiles && (l._tileZoom !== 17 || l.isLoading())) ready = false; });
                       return ready; }"""
        )
        page.mouse.click(700, 450)  # the map's centre: the water point, the smallest feature there
        page.wait_for_selector(".fupin-popup a.feature-link")
        page.click(".fupin-popup a.feature-link")
        page.wait_for_url(f"{server}/layers/water_points/features/{fid}")
        assert "水源点" in page.inner_text("h1")
        page.select_option("select[name=working]", "false" if working else "true")
        page.fill("input[name=households_served]", "１２")  # full-width digits, read as 12
        page.click("#save")
        page.wait_for_selector("#status.good")
        assert page.input_value("input[name=households_served]") == "12"  # as stored
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(output_dir / "feature-edit.png"), full_page=True)
        page.fill("input[name=households_served]", "l2x")  # a typo the parser will not guess
        page.click("#save")
        page.wait_for_selector("#status.bad")
        assert "households_served" in page.inner_text("#status")
        assert page.locator("#f-households_served.bad").count() == 1
        with engine.connect() as conn:
            now, served, batch = conn.execute(
                text("SELECT working, households_served, batch_id FROM water_points WHERE id = :i"), {"i": fid}
            ).one()
            source = conn.execute(text("SELECT source FROM batches WHERE id = :b"), {"b": batch}).scalar_one()
        assert now is (not working) and served == 12 and source == f"edit: water_points {fid}"
        # drag the point 40 pixels east and save: a second edit, of the geometry only
        page.fill("input[name=households_served]", "12")
        box = page.locator("#map .leaflet-marker-icon").bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 20, y, steps=5)
        page.mouse.move(x + 40, y, steps=5)
        page.mouse.up()
        assert "new position" in page.inner_text("#moved")
        page.click("#save")
        page.wait_for_function(
            "() => document.getElementById('status').className === 'good' && !document.getElementById('moved').textContent"
        )
    with engine.connect() as conn:
        x1, y1, moved_batch = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom), batch_id FROM water_points WHERE id = :i"), {"i": fid}
        ).one()
    assert x1 > lon + 1e-6 and abs(y1 - lat) < 1e-5 and moved_batch != batch  # east, same latitude
    rollback(engine, catalog, moved_batch)  # newest first
    rollback(engine, catalog, batch)
    with engine.connect() as conn:
        back = conn.execute(text("SELECT working, ST_X(geom) FROM water_points WHERE id = :i"), {"i": fid}).one()
    assert back[0] is working and back[1] == pytest.approx(lon, abs=1e-12)
    assert errors == []


@pytest.mark.browser
def test_topology_page_in_chromium(server: str, output_dir: Path) -> None:
    """The road network check: counts, the problems on a map and in tables, a road opened from its code."""
    with chromium_page(1300, 900) as (page, errors):
        page.goto(server + "/", wait_until="load")
        page.click("#title a[href='/topology']")
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        summary = page.inner_text("#summary")
        assert "near misses" in summary and "isolated" in summary
        misses = page.locator("#near_misses tbody tr")
        assert misses.count() > 0 and page.locator("#spurs tbody tr").count() > 0
        assert page.locator("#map path.leaflet-interactive").count() >= misses.count()
        zoom = page.evaluate("() => window.topologyMap.getZoom()")
        misses.first.locator("td").nth(2).click()  # find it on the map
        assert page.evaluate("() => window.topologyMap.getZoom()") > zoom
        page.screenshot(path=str(output_dir / "topology.png"), full_page=False)
        href = misses.first.locator("a").first.get_attribute("href")
        misses.first.locator("a").first.click()
        page.wait_for_url(server + href)
        assert "道路" in page.inner_text("h1")
    assert errors == []


@pytest.mark.browser
def test_upload_commit_see_and_roll_back_in_chromium(
    server: str, engine: Engine, output_dir: Path, tmp_path: Path
) -> None:
    """An engineer uploads a zipped GBK Shapefile of wells, reads the report, commits, sees it in a tile, rolls back."""
    import geopandas as gpd
    import mapbox_vector_tile
    from ingest_helpers import shapefile_parts, write_shapefile, zip_files
    from shapely.geometry import Point

    with engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(seat), ST_Y(seat) FROM villages ORDER BY code LIMIT 1")).one()
    wells = gpd.GeoDataFrame(
        {
            "SYBH": ["UP-001", "UP-002", "UP-003"],
            "SYMC": ["上传测试井一", "上传测试井二", "上传测试井三"],
            "SYLX": ["机压井", "机压井", "水塔"],  # 水塔 is no kind of the catalog: an error on feature 2
            "JSZT": ["已建", "已建", "已建"],
        },
        geometry=[Point(lon + 0.001 * i, lat + 0.001) for i in range(3)],
        crs="EPSG:4490",
    )
    shp = write_shapefile(wells, tmp_path / "水源点.shp", "gbk")
    bad_zip = zip_files(tmp_path / "wells-bad.zip", shapefile_parts(shp))
    (tmp_path / "good").mkdir()
    good = write_shapefile(wells.iloc[:2], tmp_path / "good" / "水源点.shp", "gbk")
    good_zip = zip_files(tmp_path / "wells.zip", shapefile_parts(good))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(server + "/upload")
        page.select_option("#layer", "water_points")
        page.set_input_files("#file", str(bad_zip))
        page.click("#check")
        page.wait_for_selector("#status.bad")
        assert "1" in page.inner_text("#problem-count")
        problems = page.inner_text("#problems")
        assert "水塔" in problems and "2" in problems
        assert page.is_disabled("#commit")
        assert "gb" in page.inner_text("#summary").lower() and "上传测试井" in page.inner_text("#summary")
        page.screenshot(path=str(output_dir / "upload-problems.png"), full_page=True)
        page.set_input_files("#file", str(good_zip))
        page.click("#check")
        page.wait_for_selector("#status.good")
        assert page.locator("#preview .leaflet-interactive").count() == 2  # the two wells on the preview map
        page.click("#commit")
        page.wait_for_function("() => document.getElementById('status').textContent.includes('committed')")
        batch = int(page.inner_text("#status").split("batch")[-1].strip())
        page.screenshot(path=str(output_dir / "upload-committed.png"), full_page=True)

        def codes_in_tile() -> set[str]:
            z, n = 16, 1 << 16
            x = int((lon + 0.0005 + 180) / 360 * n)
            y = int((1 - math.asinh(math.tan(math.radians(lat + 0.001))) / math.pi) / 2 * n)
            data = page.request.get(f"{server}/tiles/water_points/{z}/{x}/{y}.mvt").body()
            tile = mapbox_vector_tile.decode(data) if data else {}
            return {f["properties"].get("code") for f in tile.get("water_points", {"features": []})["features"]}

        assert {"UP-001", "UP-002"} <= codes_in_tile()
        page.goto(server + "/batches")
        row = page.locator(f"tr[data-batch='{batch}']")
        assert "水源点" in row.inner_text() and "wells.zip" in row.inner_text()
        page.on("dialog", lambda d: d.accept())
        row.locator("button").click()
        page.wait_for_function("() => document.getElementById('status').textContent.includes('rolled back')")
        page.screenshot(path=str(output_dir / "batches.png"), full_page=True)
        assert not {"UP-001", "UP-002"} & codes_in_tile()
        browser.close()


@pytest.mark.browser
def test_sign_in_and_scope_in_chromium(settings: Settings, engine: Engine, demo: DemoCounty, output_dir: Path) -> None:
    """With accounts on: the sign-in page, a township engineer's map and upload check, and another township's data hidden."""
    from fupin_gis.auth.accounts import add_user

    with engine.connect() as conn:
        a, b = conn.execute(text("SELECT code FROM townships ORDER BY code LIMIT 2")).scalars().all()
        other = conn.execute(
            text("SELECT code, ST_X(seat), ST_Y(seat) FROM villages WHERE code LIKE :b || '%' LIMIT 1"), {"b": b}
        ).one()
        exists = conn.execute(text("SELECT 1 FROM users WHERE username = 'browser_eng'")).first()
    if not exists:
        add_user(engine, "browser_eng", "browser-pass", "engineer", a)
    secured = settings.model_copy(update={"auth": settings.auth.model_copy(update={"required": True})})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(secured), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(base + "/")  # no account: to the sign-in page
            assert page.url.startswith(base + "/login")
            page.fill("#username", "browser_eng")
            page.fill("#password", "wrong-password")
            page.click("button[type=submit]")
            assert "用户名或密码错误" in page.inner_text("form")
            page.screenshot(path=str(output_dir / "login.png"))
            page.fill("#username", "browser_eng")
            page.fill("#password", "browser-pass")
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            page.wait_for_function(
                "() => typeof L !== 'undefined' && document.querySelectorAll('.leaflet-control-layers-selector').length > 0"
            )
            labels = " ".join(page.locator(".leaflet-control-layers-overlays label").all_inner_texts())
            assert "乡镇 Townships (1)" in labels  # only the engineer's township
            page.screenshot(path=str(output_dir / "map-engineer.png"))
            z, n = 14, 1 << 14
            x = int((other[1] + 180) / 360 * n)
            y = int((1 - math.asinh(math.tan(math.radians(other[2]))) / math.pi) / 2 * n)
            hidden = page.request.get(f"{base}/tiles/villages/{z}/{x}/{y}.mvt").body()
            assert other[0].encode() not in hidden
            # the upload page's check posts with the session's CSRF token
            page.goto(base + "/upload")
            page.select_option("#layer", "water_points")
            page.set_input_files(
                "#file",
                files=[
                    {
                        "name": "w.csv",
                        "mimeType": "text/csv",
                        "buffer": "编号,名称,水源类型,经度,纬度\nB1,井,机压井,107.2,31.9\n".encode(),
                    }
                ],
            )
            page.click("#check")
            page.wait_for_selector("#status.good, #status.bad")
            assert "CSRF" not in page.inner_text("#status")
            assert page.locator("#summary").inner_text()
            browser.close()
    finally:
        srv.should_exit = True
        thread.join(10)


MARKUP = '<img src=x onerror="window.top.__xss=(window.top.__xss||0)+1"><script>window.top.__xss=9</script>'


@pytest.mark.browser
def test_markup_in_data_stays_text_in_chromium(server: str, engine: Engine, catalog: Catalog) -> None:
    """A stored script (the outside tester's finding): every text field of every layer in and
    around a village holds markup; its village page (every popup opened), a feature page and the
    report run nothing and show the markup as text."""
    with engine.connect() as conn:
        code, x0, y0, x1, y1 = conn.execute(
            text(
                "SELECT code, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM villages ORDER BY code LIMIT 1"
            )
        ).one()
    box = {"x0": x0 - 0.01, "y0": y0 - 0.01, "x1": x1 + 0.01, "y1": y1 + 0.01, "c": code}
    saved: list[str] = []
    with engine.begin() as conn:
        for spec in catalog.ordered():
            fields = [f.name for f in spec.fields if f.type == "text"]
            if not fields:
                continue
            where = "code = :c" if spec.name == "villages" else "geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490)"
            conn.execute(text(f"CREATE TABLE _saved_{spec.name} AS SELECT * FROM {spec.name} WHERE {where}"), box)
            saved.append(spec.name)
            sets = ", ".join(f"{f} = :m || id" for f in fields)
            conn.execute(text(f"UPDATE {spec.name} SET {sets} WHERE {where}"), {**box, "m": MARKUP})
        wid = conn.execute(
            text("SELECT id FROM water_points WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490) LIMIT 1"), box
        ).scalar_one()
    try:
        with chromium_page() as (page, errors):
            page.goto(f"{server}/villages/{code}", wait_until="load")
            frame = page.frame_locator("iframe")
            frame.locator(".leaflet-container").wait_for()
            opened = page.frames[1].evaluate(
                """() => { const m = Object.values(window).find(v => v instanceof L.Map); let n = 0;
                           m.eachLayer(l => { if (l.feature) { const at = l.getLatLng ? l.getLatLng() : l.getBounds().getCenter();
                             l.fire('click', {latlng: at}, true); n += 1;
                             const p = document.querySelector('.leaflet-popup-content');
                             if (p && p.textContent.includes('<img src=x')) window.__shown = (window.__shown || 0) + 1; } });
                           return [n, window.__shown || 0]; }"""
            )
            assert opened[0] > 10 and opened[1] > 0, opened  # popups opened, the markup shown as text
            assert MARKUP in page.inner_text("h1")
            page.wait_for_timeout(300)
            ran = [page.evaluate("() => window.__xss || 0")]
            page.goto(f"{server}/layers/water_points/features/{wid}", wait_until="load")
            page.wait_for_timeout(300)
            ran.append(page.evaluate("() => window.__xss || 0"))
            for url in ("/reports/villages-lacking.html", "/reports", "/batches", "/topology", "/upload"):
                page.goto(server + url, wait_until="load")
                page.wait_for_timeout(300)
                ran.append(page.evaluate("() => window.__xss || 0"))
            # the map: the popup of a water point carrying the markup shows it as text
            page.goto(server + "/", wait_until="load")
            page.wait_for_function(
                "() => typeof L !== 'undefined' && Object.values(window).some(v => v instanceof L.Map)"
            )
            ran.append(page.evaluate("() => window.__xss || 0"))
            assert ran == [0] * 8
        assert errors == []
    finally:
        with engine.begin() as conn:
            for name in saved:
                fields = [f.name for f in catalog.layer(name).fields if f.type == "text"]
                sets = ", ".join(f"{f} = s.{f}" for f in fields)
                conn.execute(text(f"UPDATE {name} t SET {sets} FROM _saved_{name} s WHERE s.id = t.id"))
                conn.execute(text(f"DROP TABLE _saved_{name}"))


@pytest.mark.browser
def test_upload_page_asks_and_the_engineer_answers_in_chromium(
    server: str, engine: Engine, catalog: Catalog, output_dir: Path, tmp_path: Path
) -> None:
    """A column the importer cannot place is asked about on the page; the engineer picks its field in
    the mapping table, the dry run reruns, the commit saves a profile and the rows carry the column."""
    import geopandas as gpd
    from ingest_helpers import shapefile_parts, write_shapefile, zip_files
    from shapely.geometry import Point

    with engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(seat), ST_Y(seat) FROM villages ORDER BY code LIMIT 1")).one()
    wells = gpd.GeoDataFrame(
        {
            "SYBH": ["ASKP-1", "ASKP-2", "ASKP-3"],
            "SYLX": ["机压井", "水窖", "机压井"],
            "完好情况": ["正常", "损坏", "正常"],
        },
        geometry=[Point(lon + 0.001 * i, lat - 0.001) for i in range(3)],
        crs="EPSG:4490",
    )
    shp = write_shapefile(wells, tmp_path / "水源点.shp", "gbk")
    upload = zip_files(tmp_path / "wells-ask.zip", shapefile_parts(shp))
    with chromium_page(1300, 1200) as (page, errors):
        page.goto(server + "/upload")
        page.select_option("#layer", "water_points")
        page.set_input_files("#file", str(upload))
        page.click("#check")
        page.wait_for_selector("#status.bad")
        row = page.locator("#reading tr[data-source='完好情况']")
        assert "请指定" in row.inner_text() and "正常" in row.inner_text()
        assert "mapping_needed" not in page.inner_text("#status")
        assert page.locator("#reading tr[data-source='SYLX'] .d-certain").count() == 1
        assert page.locator("#whole tr[data-field='status']").count() == 1  # the status default, said
        page.screenshot(path=str(output_dir / "upload-asked.png"), full_page=True)
        row.locator("select").select_option("working")
        page.wait_for_selector("#status.good")
        assert page.locator("#reading tr[data-source='完好情况'] .d-chosen").count() == 1
        kinds = page.locator("#values table[data-field='kind']").inner_text()
        assert "机压井" in kinds and "水窖" in kinds
        page.check("#save-profile")
        page.fill("#profile-name", "页面水源方案")
        page.click("#commit")
        page.wait_for_function("() => document.getElementById('status').textContent.includes('committed')")
        batch = int(page.inner_text("#status").split("batch")[-1].strip())
        page.screenshot(path=str(output_dir / "upload-answered.png"), full_page=True)
    assert errors == []
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code, working, status FROM water_points WHERE batch_id = :b ORDER BY code"), {"b": batch}
        ).all()
        profile = conn.execute(text("SELECT mapping FROM import_profiles WHERE name = '页面水源方案'")).scalar_one()
    assert [tuple(r) for r in rows] == [
        ("ASKP-1", True, "existing"),
        ("ASKP-2", False, "existing"),
        ("ASKP-3", True, "existing"),
    ]
    assert profile["完好情况"] == "working" and profile["SYBH"] == "code"
    rollback(engine, catalog, batch)
