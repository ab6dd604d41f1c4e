"""How a UI page becomes a response: the Jinja2 environment, its filters, and the headers
every UI answer carries (a strict Content-Security-Policy, no caching of private pages).

Templates get the request, the CSRF token of the double-submit cookie (``ui.session``) and
whether a login is in force, so the layout can show a logout form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from detektor.ui.session import csrf_token_for, login_required, set_csrf_cookie

HERE = Path(__file__).parent
STATIC = HERE / "static"
# No inline script or style anywhere: htmx is told not to inject its indicator style.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
UI_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _clock(value: object) -> str:
    """An RFC 3339 text or datetime as `HH:MM:SS` UTC; the whole value stays in a title."""
    at = _instant(value)
    return at.strftime("%H:%M:%S") if at else ""


def _when(value: object) -> str:
    at = _instant(value)
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _instant(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            return None
    return None


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = _clock
    env.filters["when"] = _when
    return env


ENV = _environment()


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page, with the UI headers and the CSRF cookie its forms need."""
    token = csrf_token_for(request)
    body = ENV.get_template(template).render(
        request=request, csrf=token, login=login_required(request), **context
    )
    response = HTMLResponse(body, status_code=status_code, headers=UI_HEADERS)
    set_csrf_cookie(request, response, token)
    return response
