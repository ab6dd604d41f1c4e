"""The UI's session helpers: whether a login is in force, its session keys, and the CSRF
double-submit token (a ``detektor_csrf`` cookie echoed in every form) that ``ui.login``
checks, with the ``Origin``, on each state-changing request."""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import parse_qs, urlsplit

from fastapi import Request, Response

from detektor.kit.app import ServiceKit
from detektor.kit.errors import ApiError
from detektor.kit.sessions import CSRF_COOKIE, SessionKeys

MAX_FORM = 4096
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")


def session_keys(request: Request) -> SessionKeys | None:
    kit: ServiceKit | None = getattr(request.app.state, "kit", None)
    token = kit.settings.api_token if kit is not None else None
    return SessionKeys(token.get_secret_value()) if token is not None else None


def login_required(request: Request) -> bool:
    return session_keys(request) is not None


def csrf_token_for(request: Request) -> str:
    """The browser's CSRF token: its cookie's when well formed, else a new one."""
    given = request.cookies.get(CSRF_COOKIE, "")
    return given if _TOKEN_RE.fullmatch(given) else secrets.token_urlsafe(24)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/"
    )


def safe_next(value: str | None) -> str:
    """Where to go after login: a path of this site only (no scheme, host or `//`)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise ApiError(413, f"a login form is at most {MAX_FORM} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"the form is not valid: {exc}", "body") from None
    return {name: values[0] for name, values in fields.items()}


def check_csrf(request: Request, form: dict[str, str]) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise ApiError(403, f"cross-site request refused (Origin {origin[:80]!r})", "origin")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get("csrf", "")
    if not (cookie and sent and hmac.compare_digest(cookie.encode(), sent.encode())):
        raise ApiError(403, "the form's CSRF token is missing or stale; reload the page", "csrf")
