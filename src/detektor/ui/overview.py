"""The Cameras page: each camera's latest frame, state (up, fps, reconnects where the camera
runs in this process) and today's objects, refreshed by htmx."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from detektor.kit.access import PAGE_ROUTE
from detektor.kit.app import ServiceKit
from detektor.ui import queries
from detektor.ui.capture_state import CaptureState, capture_states
from detektor.ui.queries import Refused
from detektor.ui.rendering import render

router = APIRouter(include_in_schema=False)
UP_WITHIN = timedelta(seconds=10)  # a camera with a frame this recent is up
RATE_WINDOW_S = 10
# Today's objects are counted from one page of the object API: a page of 1000 costs about
# 65 ms per camera with 10 k objects stored (bench/ui.py), too slow for a grid refreshed every
# 3 s, so a busy day shows "200+" of the newest instead of an exact count.
TODAY_PAGE = 200


async def camera_card(
    request: Request, camera: str, now: datetime, capture: CaptureState | None = None
) -> dict[str, Any]:
    """One camera's state: up or down, fps and reconnects from its capture worker when it
    runs in this process, else up or down by its newest frame and fps over the last ten
    seconds from the store; and today's objects by label (from the first page of the
    object API)."""
    recent = await queries.frames(
        request, camera=camera, since=queries.stamp(now - timedelta(seconds=RATE_WINDOW_S))
    )
    newest = await queries.frames(request, camera=camera, limit=1)
    last = None if isinstance(newest, Refused) or not newest["frames"] else newest["frames"][0]
    last_at = datetime.fromisoformat(last["captured_at"]) if last else None
    count = 0 if isinstance(recent, Refused) else len(recent["frames"])
    listed = await queries.objects(
        request, camera=camera, after=queries.stamp(queries.today(now)), limit=TODAY_PAGE
    )
    labels: Counter[str] = Counter()
    more = False
    if not isinstance(listed, Refused):
        labels.update(obj["label"] for obj in listed["objects"])
        more = listed["next_cursor"] is not None
    return {
        "name": camera,
        "capture": capture,
        "up": capture.up if capture else last_at is not None and now - last_at <= UP_WITHIN,
        "picture": await queries.has_latest(request, camera),
        "last_frame": last,
        "fps": capture.fps if capture else round(count / RATE_WINDOW_S, 1),
        "labels": sorted(labels.items()),
        "more": TODAY_PAGE if more else None,
        "stamp": int(now.timestamp()),
    }


async def _grid(request: Request) -> dict[str, Any]:
    """The grid's context: the cards, and whether capture runs in this process."""
    now = datetime.now(UTC)
    kit: ServiceKit | None = getattr(request.app.state, "kit", None)
    states = capture_states(kit.metrics.registry if kit else None)
    # A configured camera that has sent no frame yet is shown too (down, its reconnects).
    names = sorted(set(await queries.cameras(request)) | set(states or {}))
    cards = [
        await camera_card(request, c, now, states.get(c) if states is not None else None)
        for c in names
    ]
    return {"cards": cards, "in_process": states is not None}


@router.get("/", openapi_extra=PAGE_ROUTE)
async def cameras_page(request: Request) -> HTMLResponse:
    return render(request, "cameras.html", page="cameras", **await _grid(request))


# A fragment: without access a 401, which htmx does not swap in (a redirect would
# put the login page inside the page).
@router.get("/ui/cameras/grid")
async def cameras_grid(request: Request) -> HTMLResponse:
    """The grid alone, which the Cameras page swaps in every few seconds."""
    return render(request, "cameras_grid.html", **await _grid(request))
