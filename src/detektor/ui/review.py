"""The Review page (objects newest first, filtered by camera, label, zone and time, paged by
the object API's cursor, new ones pushed live by server-sent events) and an object's page
(its clip, snapshot, lifecycle timeline, zones, frames and traces)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from detektor.kit.access import PAGE_ROUTE
from detektor.services.tracking.recordings_api import object_clip_path
from detektor.ui import queries
from detektor.ui.queries import Refused
from detektor.ui.rendering import ENV, UI_HEADERS, render

router = APIRouter(include_in_schema=False)
FILTERS = ("camera", "label", "zone", "after", "before")
PAGE_SIZE = 50
POLL_S = 1.0  # how often the stream looks for new objects
STREAM_LIFETIME_S = 300.0  # then it ends; the browser's EventSource reconnects by itself


def _filters(request: Request) -> dict[str, str]:
    """The filters in the query, empty ones left out (an empty form field means any)."""
    return {k: v for k in FILTERS if (v := request.query_params.get(k, "").strip())}


@router.get("/review", openapi_extra=PAGE_ROUTE)
async def review_page(request: Request, cursor: str | None = None) -> HTMLResponse:
    filters = _filters(request)
    listed = await queries.objects(request, limit=PAGE_SIZE, cursor=cursor, **filters)
    refused, found, next_cursor = None, [], None
    if isinstance(listed, Refused):
        refused = listed
    else:
        found, next_cursor = listed["objects"], listed["next_cursor"]
    return render(
        request,
        "review.html",
        page="review",
        filters=filters,
        objects=found,
        refused=refused,
        cameras=await queries.cameras(request),
        more=f"/review?{urlencode({**filters, 'cursor': next_cursor})}" if next_cursor else None,
        stream=f"/ui/review/stream?{urlencode(filters)}" if not cursor and not refused else None,
    )


# A fragment: without access a 401, which htmx does not swap in (a redirect would
# put the login page inside the page).
@router.get("/ui/review/stream")
async def review_stream(request: Request) -> StreamingResponse:
    """Server-sent events: an ``object`` event with the HTML card of each object that appears
    after the stream opened and matches the filters, newest last (the page prepends)."""
    filters = _filters(request)
    first = await queries.objects(request, limit=PAGE_SIZE, **filters)
    if isinstance(first, Refused):
        return StreamingResponse(iter([b"event: refused\ndata: bad filter\n\n"]), status_code=422)
    seen = {obj["object_id"] for obj in first["objects"]}

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        ends = loop.time() + STREAM_LIFETIME_S
        yield b"retry: 2000\n: open\n\n"
        stopping: Callable[[], bool] = getattr(request.app.state, "stopping", lambda: False)
        while loop.time() < ends and not stopping() and not await request.is_disconnected():
            await asyncio.sleep(POLL_S)
            listed = await queries.objects(request, limit=PAGE_SIZE, **filters)
            if isinstance(listed, Refused):
                return
            new = [obj for obj in listed["objects"] if obj["object_id"] not in seen]
            for obj in reversed(new):
                seen.add(obj["object_id"])
                html = ENV.get_template("object_card.html").render(obj=obj)
                data = "".join(f"data: {line}\n" for line in html.splitlines())
                yield f"event: object\n{data}\n".encode()

    headers = {**UI_HEADERS, "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/review/{object_id}", openapi_extra=PAGE_ROUTE)
async def object_page(request: Request, object_id: str) -> HTMLResponse:
    found = await queries.one_object(request, object_id)
    if isinstance(found, Refused):
        return render(
            request, "refused.html", status_code=found.status, page="review", refused=found
        )
    state = queries.tracking(request)
    end = found["ended_at"] or found["last_seen"]
    footage = await queries.has_footage(request, found["camera"], found["started_at"], end)
    traces = sorted({e["trace_id"] for e in found["events"] if e.get("trace_id")})
    return render(
        request,
        "object.html",
        page="review",
        obj=found,
        clip=object_clip_path(object_id) if footage else None,
        traces=[(t, state.trace_url(t) if state else None) for t in traces],
    )
