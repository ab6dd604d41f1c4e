"""Login and logout of the web UI.

With ``DETEKTOR_API_TOKEN`` set, the login form exchanges the token for the session cookie of
``kit.sessions`` (HttpOnly, SameSite=Strict, Secure over HTTPS); a wrong token is refused
with a message. Both routes change state, so both check the CSRF token (``ui.session``).
Without a token there is nothing to log in to, and the form sends you on.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from detektor.kit.access import LOGIN_PATH, OPEN_ROUTE
from detektor.kit.sessions import SESSION_COOKIE
from detektor.ui.rendering import render
from detektor.ui.session import (
    check_csrf,
    login_required,
    read_form,
    safe_next,
    secure,
    session_keys,
)

router = APIRouter(include_in_schema=False)


@router.get(LOGIN_PATH, openapi_extra=OPEN_ROUTE)
async def login_form(request: Request, next: str | None = None) -> Response:
    if not login_required(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", next=safe_next(next), error=None)


@router.post(LOGIN_PATH, openapi_extra=OPEN_ROUTE)
async def login(request: Request) -> Response:
    form = await read_form(request)
    check_csrf(request, form)
    keys = session_keys(request)
    target = safe_next(form.get("next"))
    if keys is None:
        return RedirectResponse(target, status_code=303)
    if not keys.token_matches(form.get("token", "")):
        return render(
            request, "login.html", status_code=401, next=target, error="Wrong token: try again."
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        keys.issue(),
        max_age=keys.ttl_s,
        httponly=True,
        samesite="strict",
        secure=secure(request),
        path="/",
    )
    return response


@router.post("/logout", openapi_extra=OPEN_ROUTE)
async def logout(request: Request) -> Response:
    check_csrf(request, await read_form(request))
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
