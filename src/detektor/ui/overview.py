"""The Cameras page: each camera's latest frame, state and today's objects, refreshed by
htmx."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from detektor.kit.access import PAGE_ROUTE
from detektor.ui import queries
from detektor.ui.queries import Refused
from detektor.ui.rendering import render

router = APIRouter(include_in_schema=False)
UP_WITHIN = timedelta(seconds=10)  # a camera with a frame this recent is up
RATE_WINDOW_S = 10
# Today's objects are counted from one page of the object API: a page of 1000 costs about
# 65 ms per camera with 10 k objects stored (bench/ui.py), too slow for a grid refreshed every
# 3 s, so a busy day shows "200+" of the newest instead of an exact count.
TODAY_PAGE = 200


async def camera_card(request: Request, camera: str, now: datetime) -> dict[str, Any]:
    """One camera's state: up or down by its newest frame, fps over the last ten seconds,
    and today's objects by label (from the first page of the object API)."""
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
        "up": last_at is not None and now - last_at <= UP_WITHIN,
        "picture": await queries.has_latest(request, camera),
        "last_frame": last,
        "fps": round(count / RATE_WINDOW_S, 1),
        "labels": sorted(labels.items()),
        "more": TODAY_PAGE if more else None,
        "stamp": int(now.timestamp()),
    }


async def _cards(request: Request) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [await camera_card(request, c, now) for c in await queries.cameras(request)]


@router.get("/", openapi_extra=PAGE_ROUTE)
async def cameras_page(request: Request) -> HTMLResponse:
    return render(request, "cameras.html", page="cameras", cards=await _cards(request))


# A fragment: without access a 401, which htmx does not swap in (a redirect would
# put the login page inside the page).
@router.get("/ui/cameras/grid")
async def cameras_grid(request: Request) -> HTMLResponse:
    """The grid alone, which the Cameras page swaps in every few seconds."""
    return render(request, "cameras_grid.html", cards=await _cards(request))
