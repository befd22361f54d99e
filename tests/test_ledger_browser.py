"""The ledger's pages in Chromium: the public notice page without sign-in (no personal data, the
frozen PDF), the library with filters and the English switch, a project's map and its forms — a
payment above the cap refused on the page with the rule's words, a progress report the registry
measures, separation of duties in which buttons each role gets."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import uvicorn
from ledger_helpers import TODAY, counts, ledger_on
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import Engine, text
from test_browser import ARGS, CHROMIUM

from fupin_gis.auth.accounts import add_user
from fupin_gis.catalog import Catalog
from fupin_gis.ledger import demo, notices
from fupin_gis.ledger.context import Ledger
from fupin_gis.main import create_app
from fupin_gis.settings import Settings

PASSWORD = "browser-pass"


@pytest.fixture(scope="module")
def led(import_engine: Engine, catalog: Catalog, base_settings: Settings) -> Ledger:
    led = ledger_on(import_engine, catalog, base_settings)
    demo.build(led, print_sheets=False)
    notices.post_notice(led, demo.PLANNER, "TJ2011-07", "funds", TODAY - timedelta(days=2), TODAY + timedelta(days=7))
    with import_engine.connect() as conn:
        county = conn.execute(text("SELECT code FROM counties LIMIT 1")).scalar_one()
    for name, role in (("planner", "planner"), ("engineer", "engineer"), ("finance", "finance")):
        add_user(import_engine, name, PASSWORD, role, county)
    return led


@pytest.fixture(scope="module")
def server(led: Ledger, import_engine: Engine, base_settings: Settings) -> Iterator[str]:
    url = import_engine.url.render_as_string(hide_password=False)
    settings = base_settings.model_copy(
        update={
            "database_url": url,
            "auth": base_settings.auth.model_copy(update={"required": True}),
            "ledger": base_settings.ledger.model_copy(update={"rerun_coverage": False}),
        }
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def sign_in(page: Page, base: str, user: str, target: str) -> None:
    page.goto(base + target)
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + target)


@pytest.mark.browser
def test_ledger_pages_in_chromium(server: str, led: Ledger, import_engine: Engine, output_dir) -> None:  # noqa: ANN001
    errors: list[str] = []
    with import_engine.connect() as conn:
        village = conn.execute(
            text("SELECT villages[1] FROM ledger_notices WHERE pdf IS NOT NULL ORDER BY id DESC LIMIT 1")
        ).scalar_one()
        household_codes = (
            conn.execute(
                text("SELECT code FROM households WHERE village_code = :v AND code IS NOT NULL"), {"v": village}
            )
            .scalars()
            .all()
        )
        pdf_hash = conn.execute(
            text("SELECT pdf_sha256 FROM ledger_notices WHERE pdf IS NOT NULL ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        public = browser.new_page(viewport={"width": 1200, "height": 900})
        public.on("pageerror", lambda exc: errors.append(str(exc)))
        # the public page: no sign-in, notices running and archived, the frozen PDF, no personal data
        public.goto(f"{server}/gongshi/{village}")
        assert "/login" not in public.url
        running = public.inner_text("body")
        assert "正在公示" in running and "资金使用及实施情况公示" in running and "12317" in running
        assert not [c for c in household_codes if c in running]
        public.screenshot(path=str(output_dir / "gongshi.png"), full_page=True)
        href = public.get_attribute("a[href$='.pdf']", "href")
        body = public.request.get(server + href).body()
        assert hashlib.sha256(body).hexdigest() == pdf_hash
        # the library, filtered, and in English
        planner = browser.new_page(viewport={"width": 1300, "height": 900})
        planner.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(planner, server, "planner", "/projects")
        assert planner.locator("#library tbody tr").count() == 38
        planner.select_option("select[name=category]", "household_env")
        planner.click("form.filters button")
        planner.wait_for_url("**category=household_env**")
        assert planner.locator("#library tbody tr").count() == 6
        assert "TJ2011-06" in planner.inner_text("#compliance")  # the 7-day notice
        planner.goto(server + "/projects?lang=en")
        assert "Project library" in planner.inner_text("h1")
        planner.screenshot(path=str(output_dir / "projects.png"), full_page=True)
        # a project: its map, money against the cap, a refused payment on the page
        engineer = browser.new_page(viewport={"width": 1300, "height": 1000})
        engineer.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(engineer, server, "engineer", "/projects/TJ2011-07")
        engineer.wait_for_function("() => document.querySelectorAll('#map path.leaflet-interactive').length > 0")
        assert engineer.locator("#contracts tr").count() == 2
        assert engineer.locator("button.approve").count() == 0  # engineers do not approve
        before = counts(import_engine)
        engineer.fill("#form-pay input[name=amount]", "99999999")
        engineer.select_option("#form-pay select[name=kind]", "progress")
        engineer.select_option("#form-pay select[name=contract]", index=1)
        engineer.fill("#form-pay textarea[name=evidence]", "progress_certificate=JD-9\ninvoice=FP-9")
        engineer.fill("#form-pay input[name=voucher]", "PZ-9")
        engineer.click("#form-pay button")
        engineer.wait_for_function("() => document.getElementById('status').textContent.length > 0")
        said = engineer.inner_text("#status")
        assert "（四）项目资金管理专账核算制" in said or "（五）项目资金管理报账制" in said, said
        assert "Rule " in said
        assert counts(import_engine) == before
        engineer.screenshot(path=str(output_dir / "project-refused.png"), full_page=True)
        # a progress report: the registry's measure, certified as such
        rows = engineer.locator("#progress tr").count()
        engineer.evaluate("() => { document.getElementById('status').textContent = ''; }")
        engineer.click("#form-progress button")
        engineer.wait_for_function("() => document.getElementById('status').textContent.length > 0")
        assert "完成" in engineer.inner_text("#status"), engineer.inner_text("#status")
        engineer.wait_for_function(f"() => document.querySelectorAll('#progress tr').length === {rows + 1}")
        # finance sees the approve buttons of what others requested
        finance = browser.new_page()
        sign_in(finance, server, "finance", "/projects/TJ2011-16")
        assert finance.locator("#payments").count() == 1
        browser.close()
    assert not errors, errors
