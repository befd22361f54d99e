"""Signed paging cursors: where a page ended, for which query, scope and data, and the count.

A ``next`` link carries ``cursor=<payload>.<signature>``: the payload (base64url JSON) holds the
last row's phase, sort value and id, a digest of the filters and sort, the caller's scope and
role, the data version (newest batch and rollbacks) and ``numberMatched``; the signature is an
HMAC-SHA256 under the server's key (``FUPIN_OGC__CURSOR_SECRET``, or a random key generated once
and kept in ``var/ogc-cursor.key`` — shared by every server process of the machine). A cursor of
another query or account is refused, so neither the count nor the position can be forged; the
scope itself is enforced by row-level security whatever a cursor says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from fupin_gis.errors import InvalidInput
from fupin_gis.settings import OgcSettings

SIGNATURE_BYTES = 16


def cursor_key(settings: OgcSettings) -> bytes:
    """The signing key: from the setting, else read from (or first written to) ``secret_file``."""
    if settings.cursor_secret:
        return hashlib.sha256(settings.cursor_secret.encode()).digest()
    path = Path(settings.secret_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process wrote it first: use theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
    return hashlib.sha256(path.read_text().strip().encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload: dict[str, Any], key: bytes) -> str:
    """``payload`` as a cursor token."""
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode())
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return f"{body}.{_b64(mac)}"


def _refused() -> InvalidInput:
    return InvalidInput(
        "cursor 无效或已被改动：请从第一页重新请求",
        "the cursor is invalid or was altered: start again from the first page",
        field="cursor",
    )


def verify(token: str, key: bytes) -> dict[str, Any]:
    """The payload of a cursor token; InvalidInput when it is malformed or its signature does not match."""
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(key, body.encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES]
        if not mac or not hmac.compare_digest(expected, _unb64(mac)):
            raise _refused()
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeError):
        raise _refused() from None
    if not isinstance(payload, dict):
        raise _refused()
    return payload


def query_digest(parts: dict[str, Any]) -> str:
    """A short digest of what selects and orders the rows (filters, bbox, sort), to bind a cursor to them."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]
