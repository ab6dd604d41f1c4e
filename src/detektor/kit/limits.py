"""Request body size limits, answered with the kit's JSON error shape (413).

A declared Content-Length over the limit is refused before the body is read; a chunked body
is counted as it streams and refused once it crosses the limit, so no handler ever buffers
more than the limit allows.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detektor.kit.errors import ApiError, send_error


class _TooLarge(ApiError):
    """An HTTPException, so FastAPI's body reader re-raises it instead of answering 400, and
    the kit's handler turns it into the JSON 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit), "body")


def _message(limit: int) -> str:
    return f"request body too large: the limit is {limit} bytes; send smaller batches"


class BodyLimitMiddleware:
    """Caps request bodies at ``default`` bytes, or at ``per_path[path]`` where given."""

    def __init__(self, app: ASGIApp, default: int, per_path: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:  # raised outside a route, where no handler turned it into a 413
            if started:
                raise
            await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    await send_error(send, 413, _message(limit), "body")
