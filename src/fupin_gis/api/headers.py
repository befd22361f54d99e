"""Security headers on every answer: what a browser may run, load, frame, sniff and tell other sites.

Pages get a script policy of their own: a fresh nonce per answer, written into every ``<script``
tag the page has (all of them are ours — values from the data reach pages escaped, so no tag in a
page came from a survey file), and ``script-src 'nonce-…' 'strict-dynamic'``: an injected script
without the nonce does not run even where an escape was missed.
"""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The village map is our own page in an iframe, so frames are allowed from this origin only.
POLICY = "object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"SAMEORIGIN"),
]
SCRIPT_TAG = re.compile(rb"<script(?=[\s>])", re.IGNORECASE)


def page_policy(nonce: str) -> str:
    """The policy of an HTML page whose scripts carry ``nonce``."""
    return f"script-src 'nonce-{nonce}' 'strict-dynamic'; {POLICY}"


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` and a Content-Security-Policy to every HTTP answer;
    HTML answers are read whole to give their script tags the nonce."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers (and, to a page, the nonces)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def with_headers(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in HEADERS if h[0] not in present]
                kind = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"")
                if kind.startswith(b"text/html"):
                    start = {**message, "headers": headers}  # held until the page is whole
                    return
                headers.append((b"content-security-policy", POLICY.encode()))
                await send({**message, "headers": headers})
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            nonce = secrets.token_urlsafe(16)
            page = SCRIPT_TAG.sub(f'<script nonce="{nonce}"'.encode(), b"".join(body))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers += [
                (b"content-length", str(len(page)).encode()),
                (b"content-security-policy", page_policy(nonce).encode()),
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, with_headers)
