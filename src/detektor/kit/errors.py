"""The one JSON error shape, ``{"error": {"message", "field"?}}``, for every failure.

Validation problems become 422 with each bad field listed; HTTP errors keep their status; a
dependency that is down for now (PostgreSQL, SQLite, Redis) is a 503 with ``Retry-After``;
anything else unexpected is logged with its traceback and answered as a JSON 500 that says
so, never an HTML page or a bare string.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Send

from detektor.kit.transient import unavailable

log = logging.getLogger("detektor.http")


class ApiError(HTTPException):
    """An error answered as ``{"error": {"message", "field"?}}`` with the given status."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(status, message)
        self.message = message
        self.field = field


def error_body(message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if field is not None:
        error["field"] = field
    error.update(extra)
    return {"error": error}


async def send_error(
    send: Send,
    status: int,
    message: str,
    field: str | None = None,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with the error shape straight from an ASGI middleware, outside any route."""
    body = json.dumps(error_body(message, field)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """``("body", "items")`` → ``items``: the location a client would recognise."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(e) for e in exc.errors()]
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse(
        error_body(summary or "invalid request", first["field"], errors=problems),
        status_code=422,
    )


def _describe(error: Any) -> dict[str, str]:
    if error["type"] == "json_invalid":
        # The location of a JSON syntax error is a character offset, not a field.
        reason = error.get("ctx", {}).get("error", "syntax error")
        return {
            "field": "body",
            "message": f"the body is not valid JSON ({reason}, at character {error['loc'][-1]})",
            "type": "json_invalid",
        }
    return {"field": field_path(error["loc"]), "message": error["msg"], "type": error["type"]}


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        body = error_body(exc.message, exc.field)
    else:
        body = error_body(str(exc.detail))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


RETRY_AFTER_S = 5


async def _on_dependency(request: Request, exc: Exception) -> JSONResponse:
    name = unavailable(exc)
    if name is None:
        raise exc  # not an outage: the 500 handler logs it with its traceback
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    log.warning("%s unavailable on %s %s: %s", name, request.method, request.url.path, detail)
    return JSONResponse(
        error_body(f"{name} unavailable: {detail}; retry in {RETRY_AFTER_S} s"),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _dependency_errors() -> list[type[Exception]]:
    """The base classes of every error a dependency can raise; ``unavailable`` tells an outage
    (503) from a bug (re-raised to the 500 handler) for each one."""
    import psycopg
    import redis

    return [OSError, sqlite3.Error, psycopg.Error, redis.RedisError]


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal error; the service log has the traceback"), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    for error in _dependency_errors():
        app.add_exception_handler(error, _on_dependency)
    app.add_exception_handler(Exception, _on_unexpected)
