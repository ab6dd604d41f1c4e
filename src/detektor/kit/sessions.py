"""Browser sessions: the signed cookie a login with ``DETEKTOR_API_TOKEN`` earns.

A session is ``<nonce>.<expiry unix s>.<HMAC-SHA256>``, keyed by a key derived from the API
token, so changing the token ends every session, and nothing else has to be stored. The
cookie only ever opens safe methods (GET, HEAD: ``kit.access``); every state-changing route
of the UI checks its own CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

SESSION_COOKIE = "detektor_session"
CSRF_COOKIE = "detektor_csrf"
SESSION_TTL_S = 7 * 24 * 3600
_MAX_COOKIE = 200  # a session of ours is under 100 characters; anything longer is not one


class SessionKeys:
    """Issues and checks session cookies for one API token."""

    def __init__(self, token: str, ttl_s: int = SESSION_TTL_S) -> None:
        self._key = hmac.new(token.encode(), b"detektor-session-v1", hashlib.sha256).digest()
        self._token = token.encode()
        self.ttl_s = ttl_s

    def token_matches(self, given: str) -> bool:
        """Whether ``given`` is the API token, compared in constant time."""
        return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), self._token)

    def issue(self, now: float | None = None) -> str:
        nonce = secrets.token_urlsafe(16)
        expires = int((time.time() if now is None else now) + self.ttl_s)
        body = f"{nonce}.{expires}"
        return f"{body}.{self._mac(body)}"

    def valid(self, cookie: str, now: float | None = None) -> bool:
        """Whether ``cookie`` is a session this key issued and it has not expired."""
        if len(cookie) > _MAX_COOKIE or cookie.count(".") != 2:
            return False
        nonce, expires, mac = cookie.split(".")
        if not (nonce and mac.isascii() and expires.isdigit() and len(expires) <= 12):
            return False
        if not hmac.compare_digest(mac.encode(), self._mac(f"{nonce}.{expires}").encode()):
            return False
        return int(expires) > (time.time() if now is None else now)

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def cookie_value(headers: list[tuple[bytes, bytes]] | object, name: str) -> str | None:
    """The value of cookie ``name`` in an ASGI scope's raw headers, or None."""
    if not isinstance(headers, list):
        return None
    wanted = name.encode()
    for key, value in headers:
        if key != b"cookie":
            continue
        for part in value.split(b";"):
            cname, _, cvalue = part.strip().partition(b"=")
            if cname == wanted:
                return cvalue.decode("latin-1")
    return None
