"""Bearer-token access control (``DETEKTOR_API_TOKEN``), as a pure ASGI middleware.

Health, readiness and metrics stay open so orchestrators and Prometheus need no secret.
Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from detektor.kit.errors import send_error

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class BearerTokenMiddleware:
    """Answers 401 to any request outside OPEN_PATHS without the right bearer token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        message = (
            "missing bearer token: send 'Authorization: Bearer <DETEKTOR_API_TOKEN>'"
            if not given
            else "wrong bearer token"
        )
        await send_error(
            send, 401, message, headers=[(b"www-authenticate", b'Bearer realm="detektor"')]
        )
