"""Scratch folders under the temp dir: uploads, imports, reports and restores unpack there.

Each is removed when its request ends, but a killed server leaves its folders behind (a 600 MB
upload stays on disk), so the app's start-up sweeps the ones older than an hour.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

# the prefixes of tempfile.TemporaryDirectory(prefix=…) across the product
PREFIXES = ("fupin-upload-", "fupin-import-", "fupin-report-", "fupin-shp-", "fupin-restore-")
MAX_AGE_S = 3600.0


def sweep(root: Path | None = None, max_age_s: float = MAX_AGE_S, now: float | None = None) -> list[Path]:
    """Remove our scratch folders in ``root`` (the temp dir) last changed over ``max_age_s`` ago; returns them."""
    root = Path(root or tempfile.gettempdir())
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(PREFIXES):
            continue
        try:
            if entry.is_symlink() or not entry.is_dir() or now - entry.stat().st_mtime <= max_age_s:
                continue
        except OSError:
            continue  # gone meanwhile (another process swept it, or its request ended)
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    return removed
