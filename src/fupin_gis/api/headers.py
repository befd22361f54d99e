"""Security headers on every answer: what a browser may load, frame, sniff and tell other sites."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The village map is our own page in an iframe, so frames are allowed from this origin only.
# Scripts are not restricted to nonces yet: folium writes inline scripts and handlers.
POLICY = "object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"SAMEORIGIN"),
]


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` to every HTTP response (streamed ones included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in HEADERS if h[0] not in present]
            await send(message)

        await self.app(scope, receive, with_headers)
