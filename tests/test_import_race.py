"""Concurrent imports of one file into one layer: they run one after the other, and only the first
makes a batch; the others are refused as duplicates (issue 16: three posts made three batches)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
from ingest_helpers import codes, do_import
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog
from fupin_gis.ingest import ImportReport


def test_three_simultaneous_imports_of_one_file_make_one_batch(
    tmp_path: Path, import_engine: Engine, catalog: Catalog
) -> None:
    path = tmp_path / "race.csv"
    pd.DataFrame(
        {
            "名称": [f"赛跑水井{i}" for i in range(40)],
            "类型": ["机压井"] * 40,
            "状态": ["现有"] * 40,
            "经度": [107.21 + i * 0.001 for i in range(40)],
            "纬度": [31.90] * 40,
        }
    ).to_csv(path, index=False)
    with import_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM water_points")).scalar_one()
    start = threading.Barrier(3)
    reports: list[ImportReport] = []
    errors: list[BaseException] = []

    def post() -> None:
        start.wait()
        try:
            reports.append(do_import(import_engine, catalog, path, "water_points"))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(reports) == 3
    made = [r for r in reports if r.ok]
    assert len(made) == 1 and made[0].batch is not None
    assert sorted(codes(r) for r in reports if not r.ok) == [{"duplicate_file"}, {"duplicate_file"}]
    assert all(r.batch is None for r in reports if not r.ok)
    with import_engine.connect() as conn:
        sha = conn.execute(text("SELECT sha256 FROM batches WHERE id = :b"), {"b": made[0].batch}).scalar_one()
        committed = (
            conn.execute(text("SELECT id FROM batches WHERE sha256 = :h AND status = 'committed'"), {"h": sha})
            .scalars()
            .all()
        )
        after = conn.execute(text("SELECT count(*) FROM water_points")).scalar_one()
    assert committed == [made[0].batch]
    assert after - before == 40  # stored once, not three times
