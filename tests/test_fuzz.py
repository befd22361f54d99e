"""From outside, as a tester with tools the project did not write: the OpenAPI document declares the
real vocabularies, every text parameter refuses control characters with a bilingual 400, an area
without villages is a 404, and a bounded schemathesis run finds no 5xx and no answer that
contradicts the document (the plan demo with a coverage run, in a database of this module's own)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.coverage.snapshots import create_run
from fupin_gis.coverage.verdicts import RULES
from fupin_gis.main import create_app
from fupin_gis.reports.build import REPORTS
from fupin_gis.reports.render import FORMATS
from fupin_gis.settings import CoverageSettings, Settings

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# what the run may not find: a server error, or an answer (status, content type, headers, body) the
# document does not describe
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance,allow_header_conformance"
)
MAX_EXAMPLES = int(os.environ.get("FUPIN_FUZZ_EXAMPLES", "20"))  # per operation and phase
SEED = os.environ.get("FUPIN_FUZZ_SEED", "20161")  # fixed: the same requests every run, unless asked
# what testers type into text fields besides codes: control characters (NUL was a 500 in the search
# box and in village codes), quotes, LIKE wildcards, full-width digits, a path
CONTROL = ["\x00村", "\x00", "村\x00", "\x01", "\x00\x00", "\x1b[31m"]  # weighs text towards the class that crashed
NASTY = [
    "\x00",
    "村\x00",
    "5119\x00",
    "\x00\x00",
    "\x1f",
    "\x7f",
    "'\"",
    "%_\\",
    "' OR 1=1 --",
    "../../etc/passwd",
    "５１１９２１",
]


@pytest.fixture(scope="module")
def known(import_engine: Engine, catalog: Catalog) -> dict[str, list[Any]]:
    """A coverage run of the demo, and codes and ids that exist (so requests reach the handlers)."""
    run = create_run(import_engine, CoverageSettings(), catalog)
    with import_engine.connect() as conn:
        villages = list(conn.execute(text("SELECT code FROM villages ORDER BY code LIMIT 30")).scalars())
        towns = list(conn.execute(text("SELECT code FROM townships ORDER BY code")).scalars())
        batches = list(conn.execute(text("SELECT id FROM batches ORDER BY id LIMIT 10")).scalars())
    return {"villages": villages, "townships": towns, "runs": [run["run_id"]], "batches": batches}


@pytest.fixture(scope="module")
def server(settings: Settings, import_engine: Engine, known: dict[str, list[Any]]) -> Iterator[str]:
    """The app on a real port (accounts off: it answers as the system, who may read everything)."""
    url = import_engine.url.render_as_string(hide_password=False)
    app = create_app(settings.model_copy(update={"database_url": url}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.1)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def document(server: str) -> dict[str, Any]:
    return httpx.get(f"{server}/openapi.json").json()


def _param(document: dict[str, Any], path: str, name: str, method: str = "get") -> dict[str, Any]:
    params = document["paths"][path][method]["parameters"]
    return next(p for p in params if p["name"] == name)["schema"]


def _strings(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if schema.get("type") == "string" else []
    for part in schema.get("anyOf", []):
        found += _strings(part)
    if isinstance(schema.get("items"), dict):
        found += _strings(schema["items"])
    return found


def test_openapi_declares_the_vocabularies(document: dict[str, Any], catalog: Catalog) -> None:
    layers = [s.name for s in catalog.ordered()]
    for path in ("/api/layers/{layer}", "/api/layers/{layer}/features/{feature}", "/layers/{layer}/features/{feature}"):
        assert _param(document, path, "layer")["enum"] == layers, path
    assert _param(document, "/api/layers/{layer}/imports", "layer", "post")["enum"] == layers
    assert _param(document, "/tiles/{layer}/{z}/{x}/{y}.mvt", "layer")["enum"] == [*layers, "all", "coverage"]
    assert _param(document, "/reports/{name}.{fmt}", "name")["enum"] == list(REPORTS)
    assert _param(document, "/api/reports/{name}", "name")["enum"] == list(REPORTS)
    assert _param(document, "/reports/{name}.{fmt}", "fmt")["enum"] == list(FORMATS)
    rules = _strings(_param(document, "/api/reports/{name}", "rule"))
    assert rules and all(s["enum"] == list(RULES) for s in rules)
    # every answer is described: errors in both languages, downloads and tiles with their media types
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "message_en"}
    answers = document["paths"]["/api/search"]["get"]["responses"]
    assert {"400", "404", "422", "503"} <= set(answers)
    assert answers["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    downloads = document["paths"]["/reports/{name}.{fmt}"]["get"]["responses"]["200"]["content"]
    assert {"application/pdf", "text/csv", "application/zip"} <= set(downloads)


def _valid_values(known: dict[str, list[Any]], catalog: Catalog) -> dict[str, Any]:
    """A value for each parameter name that the API accepts (so only the one being spoiled is wrong)."""
    return {
        "layer": "roads",
        "feature": 1,
        "batch": known["batches"][0],
        "run_id": known["runs"][0],
        "run": known["runs"][0],
        "since": known["runs"][0],
        "a": known["runs"][0],
        "b": known["runs"][0],
        "code": known["villages"][0],
        "township": known["townships"][0],
        "name": "villages-lacking",
        "fmt": "csv",
        "rule": "road",
        "q": "村",
        "next": "/",
        "grid": "w",
        "layers": "roads",
        "z": 0,
        "x": 0,
        "y": 0,
    }


def _from_schema(schema: dict[str, Any]) -> Any:
    """A value the document itself offers for a parameter no entry above names (its enum, default)."""
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("enum"):
            return option["enum"][0]
        if "default" in option and option["default"] is not None:
            return option["default"]
        if option.get("type") == "integer":
            return 1
    return "x"


def test_control_characters_in_every_text_parameter_are_a_bilingual_400(
    server: str, document: dict[str, Any], known: dict[str, list[Any]], catalog: Catalog
) -> None:
    """NUL (and other control characters) in any text parameter of any route, path or query: one check
    refuses it before any query runs (a NUL in the search box or a village code was a 500)."""
    values = _valid_values(known, catalog)
    tried = 0
    with httpx.Client(base_url=server, timeout=60) as client:
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                params = operation.get("parameters", [])
                for spoiled in params:
                    if not _strings(spoiled["schema"]):
                        continue
                    for bad in ("\x00", "\x1f"):
                        url = path
                        query: dict[str, Any] = {}
                        for p in params:
                            value = values.get(p["name"], _from_schema(p["schema"]))
                            if p is spoiled:
                                value = f"{value}{bad}"
                            if p["in"] == "path":
                                url = url.replace("{" + p["name"] + "}", quote(str(value), safe=""))
                            elif p is spoiled or p.get("required"):
                                query[p["name"]] = value
                        response = client.request(method.upper(), url, params=query)
                        where = f"{method.upper()} {path} {spoiled['name']}={bad!r}"
                        assert response.status_code == 400, (where, response.status_code, response.text[:300])
                        body = response.json()
                        assert body["code"] == "invalid_input" and body["field"] == spoiled["name"], where
                        assert "控制字符" in body["message"] and "control character" in body["message_en"], where
                        tried += 1
    assert tried >= 40  # every route's text parameters, not a few


def test_address_that_is_no_utf8_is_a_400(server: str) -> None:
    for url in ("/api/search?q=%FF%FE", "/api/villages/%C3%28", "/reports/summary.html?township=%E4%B8"):
        response = httpx.get(server + url)
        assert response.status_code == 400, url
        assert "UTF-8" in response.json()["message_en"] and "UTF-8" in response.json()["message"]


def test_reports_of_an_area_without_villages_are_a_404(server: str, known: dict[str, list[Any]]) -> None:
    """A well-formed township code with nothing in it: a clear 404 in both languages, in every format
    and for a browser too (the HTML and PDF villages-lacking reports were a 500)."""
    empty = known["townships"][0][:6] + "999"
    assert empty not in known["townships"]
    for name in ("villages-lacking", "summary", "households"):
        for fmt in ("html", "pdf", "xlsx", "csv"):
            response = httpx.get(
                f"{server}/reports/{name}.{fmt}", params={"township": empty}, headers={"Accept": "text/html"}
            )
            assert response.status_code == 404, (name, fmt, response.text[:200])
            body = response.json()
            assert body["code"] == "not_found" and empty in body["message"] and empty in body["message_en"]
    # a township with villages still gives its report
    ok = httpx.get(f"{server}/reports/villages-lacking.html", params={"township": known["townships"][0]})
    assert ok.status_code == 200 and known["townships"][0] in ok.text


def test_unknown_address_and_method_answer_in_both_languages(server: str, known: dict[str, list[Any]]) -> None:
    missing = httpx.get(f"{server}/no/such/page")
    assert missing.status_code == 404 and missing.json()["message"] and missing.json()["message_en"]
    wrong = httpx.request("OPTIONS", f"{server}/api/imports/{known['batches'][0]}")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "DELETE, GET"  # every route of the address, not the first one's
    infinite = httpx.patch(
        f"{server}/api/layers/roads/features/1",
        content=b'{"properties": {"width_m": 1e400}}',
        headers={"Content-Type": "application/json"},
    )
    assert infinite.status_code == 400 and infinite.json()["value"] == "inf"  # it was a 500 rendering the error


def _config(known: dict[str, list[Any]], folder: Path) -> Path:
    """Schemathesis settings: codes and ids that exist, drawn half the time, so requests reach the data."""

    def values(items: list[Any]) -> str:
        return "[" + ", ".join(json.dumps(v) if isinstance(v, str) else str(v) for v in items) + "]"

    pools = {
        "villages": known["villages"] + NASTY,
        "townships": known["townships"] + NASTY,
        "text": ["村", known["villages"][0][:9], *NASTY, *CONTROL],
        "runs": known["runs"],
        "batches": known["batches"],
        "features": [1, 2, 3, 10, 50],
    }
    bindings = {
        "path.code": "villages",
        "query.township": "townships",
        "path.run_id": "runs",
        "query.run": "runs",
        "query.since": "runs",
        "query.a": "runs",
        "query.b": "runs",
        "path.batch": "batches",
        "path.feature": "features",
        "query.q": "text",
        "query.next": "text",
    }
    lines = []
    for name, items in pools.items():
        lines += [f"[dictionaries.{name}]", f"values = {values(items)}", ""]
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{pool}", probability = 0.5 }}' for key, pool in bindings.items()]
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_schemathesis_finds_no_server_error_and_nothing_the_document_contradicts(
    server: str, document: dict[str, Any], known: dict[str, list[Any]], tmp_path: Path, output_dir: Path
) -> None:
    """Every GET operation, positive and negative data, examples, coverage (boundary values), fuzzing
    and stateful phases, ``MAX_EXAMPLES`` cases an operation: no 5xx, and every answer as documented."""
    assert SCHEMATHESIS.exists(), "schemathesis is a test dependency: pip install -e '.[test]'"
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(_config(known, tmp_path)),
        "run",
        f"{server}/openapi.json",
        "--include-method",
        "GET",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "1",
        "--max-redirects",
        "0",
        "--request-timeout",
        "120",
        "--generation-database",
        "none",
        "--no-color",
        "--warnings",
        "off",
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    (output_dir / "schemathesis.txt").write_text(f"{' '.join(command)}\n{seconds:.1f} s\n\n{output}")
    cases = re.search(r"(\d+) generated", output)
    assert done.returncode == 0, output[-6000:]
    assert cases is not None and int(cases.group(1)) >= 300, output[-2000:]  # a run, not a handful
    gets = sum(1 for operations in document["paths"].values() if "get" in operations)
    assert re.search(rf"Tested:\s+{gets}\b", output), output[-2000:]  # every GET operation was reached
