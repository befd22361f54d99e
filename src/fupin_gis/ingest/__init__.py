"""Survey import: read (formats, encodings, CRS) → validate → stage → promote as one batch."""

from fupin_gis.ingest.pipeline import ImportOptions, run_import
from fupin_gis.ingest.report import ImportReport

__all__ = ["ImportOptions", "ImportReport", "run_import"]
