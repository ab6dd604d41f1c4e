"""Bearer-token access control (``DETEKTOR_API_TOKEN``), as a pure ASGI middleware.

Health, readiness and metrics stay open so orchestrators and Prometheus need no secret.
Tokens are compared in constant time. A route that opts in with
``openapi_extra=SIGNED_LINK_ROUTE`` (a picture Home Assistant fetches by URL) also opens to
a signed link of its exact path and query (``kit.signing``), checked with the
``LinkSigner`` in ``app.state.signer``; a bad or expired one is a 403 saying why.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from detektor.kit.errors import send_error
from detektor.kit.signing import LinkSigner

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SIGNED_LINK = "x-detektor-signed-link"
SIGNED_LINK_ROUTE: dict[str, Any] = {SIGNED_LINK: True}
"""``openapi_extra`` of a route that also accepts a signed link instead of the token."""


class BearerTokenMiddleware:
    """Answers 401 to any request outside OPEN_PATHS without the right bearer token."""

    def __init__(
        self, app: ASGIApp, token: str, signed_paths: Sequence[re.Pattern[str]] = ()
    ) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()
        self._signed_paths = tuple(signed_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        query = QueryParams(scope["query_string"])  # parsed as the route will parse it
        if ("exp" in query or "sig" in query) and self._signable(scope["path"]):
            reason = _link_problem(scope, query)
            if reason is None:
                await self.app(scope, receive, send)
            else:
                await send_error(send, 403, f"signed link refused: {reason}")
            return
        message = (
            "missing bearer token: send 'Authorization: Bearer <DETEKTOR_API_TOKEN>'"
            if not given
            else "wrong bearer token"
        )
        await send_error(
            send, 401, message, headers=[(b"www-authenticate", b'Bearer realm="detektor"')]
        )

    def _signable(self, path: str) -> bool:
        return any(p.match(path) for p in self._signed_paths)


def _link_problem(scope: Scope, query: QueryParams) -> str | None:
    signer = getattr(getattr(scope.get("app"), "state", None), "signer", None)
    if not isinstance(signer, LinkSigner):
        return "signed links are off"
    return signer.verify(scope["path"], query)
