"""The map in a real Chromium (system package), with every request outside the app refused."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from fupin_gis.catalog import Catalog
from fupin_gis.demo import DemoCounty
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
def test_map_in_chromium(server: str, catalog: Catalog, output_dir: Path) -> None:
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
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(server + "/", wait_until="load")
        page.wait_for_function(
            "typeof L !== 'undefined' && document.querySelectorAll('.leaflet-control-layers-selector').length > 0"
        )
        labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        assert len(labels) == len(catalog.layers) + 1  # every layer, and the latest coverage
        for spec in catalog.ordered():
            assert any(spec.label in text for text in labels), spec.name
        assert any("Village road access" in text for text in labels)
        # Count features drawn: every layer group's GeoJSON layers on the map.
        drawn = page.evaluate(
            """() => { const m = Object.values(window).find(v => v instanceof L.Map);
                       let n = 0; m.eachLayer(l => { if (l.feature) n++; }); return n; }"""
        )
        page.screenshot(path=str(output_dir / "map.png"))
        # Households are off by default; switching them on draws 15,939 more points.
        assert "Village road access" in labels[0]  # coverage lies underneath the layers
        page.locator(".leaflet-control-layers-overlays label", has_text="建档立卡户").locator("input").check()
        more = page.evaluate(
            """() => { const m = Object.values(window).find(v => v instanceof L.Map);
                       let n = 0; m.eachLayer(l => { if (l.feature) n++; }); return n; }"""
        )
        page.screenshot(path=str(output_dir / "map-households.png"))
        browser.close()
    assert outside == []
    assert errors == []
    assert drawn > 4000 + 45  # the layers, plus the 45 villages coloured by road access
    assert more - drawn == 15_939


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
        assert page.locator("[data-report=households] a").count() == 0  # personal data: not offered
        assert page.locator("[data-report=plan-vs-actual] a[data-format=shp]").count() == 0  # no geometry
        page.screenshot(path=str(output_dir / "reports.png"), full_page=True)
        with page.expect_download() as download:
            page.click("[data-report=villages-lacking] a[data-format=csv]")
        assert download.value.suggested_filename.startswith("villages-lacking-run")
        page.click("[data-report=summary] a[data-format=html]")
        page.wait_for_selector("h1")
        assert "乡镇与全县汇总" in page.inner_text("h1")
        assert name.split()[0] in page.inner_text("table")
        page.screenshot(path=str(output_dir / "report-summary.png"), full_page=True)
        browser.close()
