"""Exports leave their audit row from here, whoever asks: the API's downloads, the reports page and
``fupin-gis report`` write the same ``export`` row (report, format, run, area), which also keeps
the run from being pruned (``coverage.prune``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from fupin_gis.auth.accounts import audit
from fupin_gis.reports.model import Report
from fupin_gis.reports.render import write


def export_detail(report: Report, fmt: str) -> dict[str, Any]:
    """What the audit row of an export says."""
    return {"report": report.name, "format": fmt, "run": report.run["run_id"], "area": report.area}


@contextmanager
def exporting(engine: Engine, report: Report, fmt: str, username: str) -> Iterator[Connection]:
    """A transaction holding the export's audit row: it commits when the body (writing or rendering
    the report) finishes, and is rolled back with nothing recorded if the body fails."""
    with engine.begin() as conn:
        audit(conn, username, "export", export_detail(report, fmt))
        yield conn


def export(engine: Engine, report: Report, fmt: str, path: Path, templates: Path, username: str) -> Path:
    """Write ``report`` in ``fmt`` to ``path`` and record the export (by ``username``) once it is written."""
    with exporting(engine, report, fmt, username):
        return write(report, fmt, path, templates)
