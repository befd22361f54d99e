"""A bounded schemathesis run over ``/ogc/api`` (the OGC OpenAPI document): reads and writes of a few
layers as an admin, on a database of this module's own, find no 5xx and nothing the document
contradicts (status codes, content types, bodies, Allow headers)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ogc_helpers import Account, make_accounts, serve
from sqlalchemy import Engine

from fupin_gis.settings import Settings

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,allow_header_conformance"
)
MAX_EXAMPLES = int(os.environ.get("FUPIN_OGC_FUZZ_EXAMPLES", "5"))  # per operation and phase
SEED = os.environ.get("FUPIN_FUZZ_SEED", "20161")
# the landing page, the shared documents, every operation of a line layer with a key (roads) and the
# features of an administrative layer (villages: polygons, admin-only writes)
PATHS = r"^/(|api|conformance|collections|tileMatrixSets.*|collections/roads(/.*)?|collections/villages/items.*)$"


@pytest.fixture(scope="module")
def accounts(ogc_engine: Engine) -> dict[str, Account]:
    return make_accounts(ogc_engine, "fuzz")


@pytest.fixture(scope="module")
def server(settings: Settings, ogc_engine: Engine, accounts: dict[str, Account]) -> Iterator[str]:
    # small pages: the checks validate every answer against the document, feature by feature
    with serve(settings, ogc_engine, cursor_secret="fuzz-tests", default_limit=20) as url:
        yield url


def test_schemathesis_finds_no_server_error_in_ogc(
    server: str, accounts: dict[str, Account], tmp_path: Path, output_dir: Path
) -> None:
    assert SCHEMATHESIS.exists(), "schemathesis is a test dependency: pip install -e '.[test]'"
    token = accounts["admin"].token
    document = httpx.get(f"{server}/ogc/api", headers={"Authorization": f"Bearer {token}"}).json()
    chosen = [p for p in document["paths"] if re.match(PATHS, p)]
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{server}/ogc/api",
        "--header",
        f"Authorization: Bearer {token}",
        "--include-path-regex",
        PATHS,
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
        "60",
        "--generation-database",
        "none",
        "--no-color",
        "--warnings",
        "off",
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=400, check=False)
    output = done.stdout + done.stderr
    (output_dir / "schemathesis-ogc.txt").write_text(f"{time.monotonic() - started:.1f} s\n\n{output}")
    assert done.returncode == 0, output[-6000:]
    operations = sum(len(document["paths"][p]) for p in chosen)
    assert re.search(rf"Tested:\s+{operations}\b", output), output[-2000:]  # every chosen operation reached
    cases = re.search(r"(\d+) generated", output)
    assert cases is not None and int(cases.group(1)) >= 200, output[-2000:]
