"""Bearer-token access control (``DETEKTOR_API_TOKEN``), as a pure ASGI middleware.

Health, readiness and metrics stay open so orchestrators and Prometheus need no secret.
Tokens are compared in constant time. A route that opts in with
``openapi_extra=SIGNED_LINK_ROUTE`` (a picture Home Assistant fetches by URL) also opens to
a signed link of its exact path and query (``kit.signing``), checked with the
``LinkSigner`` in ``app.state.signer``; a bad or expired one is a 403 saying why.

For the web UI, a browser session cookie (``kit.sessions``) opens GET and HEAD requests, never
a state-changing one, so a cross-site form can do nothing with it; routes marked
``OPEN_ROUTE`` (the login form, static files) need nothing, and a ``PAGE_ROUTE`` without
access is redirected to the login form instead of answered 401.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from detektor.kit.errors import send_error
from detektor.kit.sessions import SESSION_COOKIE, SessionKeys, cookie_value
from detektor.kit.signing import LinkSigner

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SIGNED_LINK = "x-detektor-signed-link"
SIGNED_LINK_ROUTE: dict[str, Any] = {SIGNED_LINK: True}
"""``openapi_extra`` of a route that also accepts a signed link instead of the token."""
OPEN = "x-detektor-open"
OPEN_ROUTE: dict[str, Any] = {OPEN: True}
"""``openapi_extra`` of a route anyone may call (the login form, static files)."""
PAGE = "x-detektor-page"
PAGE_ROUTE: dict[str, Any] = {PAGE: True}
"""``openapi_extra`` of a UI page: without access, a redirect to ``LOGIN_PATH``."""
LOGIN_PATH = "/login"
SAFE_METHODS = frozenset({"GET", "HEAD"})


class BearerTokenMiddleware:
    """Answers 401 to any request outside OPEN_PATHS without the right bearer token."""

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        signed_paths: Sequence[re.Pattern[str]] = (),
        open_paths: Sequence[re.Pattern[str]] = (),
        page_paths: Sequence[re.Pattern[str]] = (),
    ) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()
        self._sessions = SessionKeys(token)
        self._signed_paths = tuple(signed_paths)
        self._open_paths = tuple(open_paths)
        self._page_paths = tuple(page_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or _any(self._open_paths, path):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected) or self._session_opens(scope):
            await self.app(scope, receive, send)
            return
        if _any(self._page_paths, path) and scope.get("method") in SAFE_METHODS:
            await _redirect_to_login(scope, send)
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
        return _any(self._signed_paths, path)

    def _session_opens(self, scope: Scope) -> bool:
        if scope.get("method") not in SAFE_METHODS:
            return False  # a cookie rides along on cross-site posts; it opens reads only
        cookie = cookie_value(scope.get("headers"), SESSION_COOKIE)
        return cookie is not None and self._sessions.valid(cookie)


def _any(patterns: Sequence[re.Pattern[str]], path: str) -> bool:
    return any(p.match(path) for p in patterns)


async def _redirect_to_login(scope: Scope, send: Send) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    back = scope.get("path", "/") + (f"?{query}" if query else "")
    location = f"{LOGIN_PATH}?next={quote(back, safe='')}"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _link_problem(scope: Scope, query: QueryParams) -> str | None:
    signer = getattr(getattr(scope.get("app"), "state", None), "signer", None)
    if not isinstance(signer, LinkSigner):
        return "signed links are off"
    return signer.verify(scope["path"], query)
