"""Domain errors. They carry a user-safe message in Chinese and English and know nothing of HTTP.

One table (``STATUS_CODES``) maps them to HTTP status codes at the API boundary.
"""

from __future__ import annotations

import math
from typing import Any


class FupinError(Exception):
    """Base of every error the product reports to a user."""

    code = "error"

    def __init__(self, zh: str, en: str, **details: Any) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.zh, "message_en": self.en}
        # the details never replace the code or the messages (a detail named ``code`` once did)
        return body | {k: _json_safe(v) for k, v in self.details.items() if k not in body}


def _json_safe(value: Any) -> Any:
    """``value`` with infinite and NaN numbers as text: JSON has none (a width of 1e400 is read as inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class CatalogError(FupinError):
    """The layer catalog is invalid: names the file and the key."""

    code = "catalog_invalid"


class LayerNotFound(FupinError):
    """A layer name that the catalog does not have."""

    code = "layer_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"没有名为 “{name}” 的图层", f"No layer named '{name}'", layer=name)


class NotFound(FupinError):
    """A record that does not exist."""

    code = "not_found"


class InvalidInput(FupinError):
    """Bad input from a user: a file, a form field or a query parameter."""

    code = "invalid_input"


class ClusterError(FupinError):
    """The embedded PostgreSQL cluster could not be managed."""

    code = "cluster_error"


class DatabaseUnavailable(FupinError):
    """The database cannot be reached."""

    code = "database_unavailable"


class DatabaseDiskFull(DatabaseUnavailable):
    """The database server's disk is full: nothing can be written until space is freed."""

    code = "database_disk_full"


class ReportFailed(FupinError):
    """A report could not be produced (the PDF printer is missing or failed)."""

    code = "report_failed"


class Unauthorized(FupinError):
    """No account: sign in, or send an API token."""

    code = "unauthorized"


class Forbidden(FupinError):
    """The caller may not see or do this."""

    code = "forbidden"


class TooManyAttempts(FupinError):
    """Too many wrong passwords in a row: no password is checked for ``retry_after`` seconds."""

    code = "too_many_attempts"


class BackupFailed(FupinError):
    """pg_dump or pg_restore failed: names the tool and its last words."""

    code = "backup_failed"


STATUS_CODES: dict[type[FupinError], int] = {
    TooManyAttempts: 429,
    BackupFailed: 500,
    ReportFailed: 503,
    Unauthorized: 401,
    Forbidden: 403,
    LayerNotFound: 404,
    NotFound: 404,
    InvalidInput: 400,
    CatalogError: 500,
    ClusterError: 503,
    DatabaseUnavailable: 503,
    FupinError: 500,
}


def status_code(error: FupinError) -> int:
    """The HTTP status for ``error``: the entry of its nearest class in ``STATUS_CODES``."""
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


class ImportRefused(InvalidInput):
    """An upload the importer will not open: unsafe archive, unknown format, bad option."""

    code = "import_refused"


class UploadTooLarge(ImportRefused):
    """An upload or archive beyond the size limits."""

    code = "upload_too_large"


class UnsupportedFormat(ImportRefused):
    """No geographic data the importer can read."""

    code = "unsupported_format"


class BatchConflict(ImportRefused):
    """A batch that cannot be rolled back in its present state."""

    code = "batch_conflict"


STATUS_CODES[DatabaseDiskFull] = 507  # Insufficient Storage: retrying will not help until space is freed
STATUS_CODES.update({ImportRefused: 400, UploadTooLarge: 413, UnsupportedFormat: 415, BatchConflict: 409})


class PreconditionFailed(FupinError):
    """A conditional request (``If-Match``) whose condition no longer holds: the feature changed since it was read."""

    code = "precondition_failed"


class FeatureExists(FupinError):
    """A new feature whose key another feature of the layer already has."""

    code = "feature_exists"


STATUS_CODES.update({PreconditionFailed: 412, FeatureExists: 409})


class RuleRefused(InvalidInput):
    """A fund rule (``plans/fund-rules.toml``) refuses a ledger action: names the rule, its check,
    the configured value and the figures. 409 Conflict: the request is well formed, but the
    project's state (its progress, notices, acceptance, payments) does not allow it yet."""

    code = "rule_refused"


STATUS_CODES[RuleRefused] = 409
