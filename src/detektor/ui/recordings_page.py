"""The Recordings page: one camera's day of segments (from the recordings API) on a
timeline beside the objects of that day, each segment a link that plays it on the page, and
the gaps (time not recorded after a reconnect or a stall) and the motion marked on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from detektor.kit.access import PAGE_ROUTE
from detektor.ui import queries
from detektor.ui.queries import Refused
from detektor.ui.rendering import render

router = APIRouter(include_in_schema=False)
DAY_S = 24 * 3600


def _day(value: str) -> datetime | Refused:
    if not value:
        return queries.today()
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return Refused(422, f"day {value[:40]!r} must be YYYY-MM-DD", "day")


def _placed(item: dict[str, Any], day: datetime, start: str, end: str | None) -> dict[str, Any]:
    """``item`` with its x and width in percent of the day, for the timeline."""
    first = (datetime.fromisoformat(item[start]) - day).total_seconds()
    last = (datetime.fromisoformat(item[end]) - day).total_seconds() if end and item[end] else first
    first, last = max(first, 0.0), min(last, DAY_S)
    return {
        **item,
        "x": round(100 * first / DAY_S, 3),
        "w": round(max(100 * (last - first) / DAY_S, 0.05), 3),
    }


@router.get("/recordings", openapi_extra=PAGE_ROUTE)
async def recordings_page(
    request: Request, camera: str = "", day: str = "", play: int | None = None
) -> HTMLResponse:
    cameras = await queries.cameras(request)
    camera = camera.strip() or (cameras[0] if cameras else "")
    chosen = _day(day.strip())
    problems: list[Refused] = []
    segments: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    motion: list[dict[str, Any]] = []
    if isinstance(chosen, Refused):
        problems.append(chosen)
        chosen = queries.today()
    start, end = queries.day_range(chosen)
    if camera and queries.recording_on(request):
        listed = await queries.recordings(request, camera=camera, start=start, end=end, limit=1000)
        if isinstance(listed, Refused):
            problems.append(listed)
        else:
            segments = [_placed(s, chosen, "start", "end") for s in reversed(listed["recordings"])]
            lost = await queries.gaps(request, camera=camera, start=start, end=end)
            if isinstance(lost, Refused):
                problems.append(lost)
            else:
                gaps = [_placed(g, chosen, "start", "end") for g in lost["gaps"]]
            moved = await queries.motion(request, camera=camera, start=start, end=end)
            if isinstance(moved, Refused):
                problems.append(moved)
            else:
                motion = [_placed(m, chosen, "start", "end") for m in moved["motion"]]
    if camera:
        found = await queries.objects(request, camera=camera, after=start, before=end, limit=200)
        if isinstance(found, Refused):
            problems.append(found)
        else:
            objects = [_placed(o, chosen, "started_at", "ended_at") for o in found["objects"]]
    playing = segments[play] if play is not None and 0 <= play < len(segments) else None
    return render(
        request,
        "recordings.html",
        page="recordings",
        cameras=cameras,
        camera=camera,
        day=chosen.strftime("%Y-%m-%d"),
        previous=(chosen - timedelta(days=1)).strftime("%Y-%m-%d"),
        following=(chosen + timedelta(days=1)).strftime("%Y-%m-%d"),
        segments=segments,
        objects=objects,
        gaps=gaps,
        motion=motion,
        playing=playing,
        recording=queries.recording_on(request),
        problems=problems,
    )
