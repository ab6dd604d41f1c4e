"""The Frame explorer: find a frame by id, or by camera and time (the newest frame captured
at or before it); show each stage with its duration, the reason of every skip, drop or
failure, its detections and objects, and the Jaeger link; and, for a camera and a time
range, a strip of its frames coloured by outcome, so a gap or a run of skips shows at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from detektor.domain.errors import ValidationError
from detektor.domain.fields import parse_timestamp
from detektor.kit.access import PAGE_ROUTE
from detektor.ui import queries
from detektor.ui.queries import Refused
from detektor.ui.rendering import render

router = APIRouter(include_in_schema=False)
STRIP_FRAMES = 1000  # one page of the frame API
DEFAULT_SPAN = timedelta(minutes=10)
MAX_SPAN = timedelta(hours=24)
ENDINGS = {"frame.skipped": "skipped", "frame.dropped": "dropped", "frame.failed": "failed"}


def outcomes(frame: dict[str, Any]) -> list[str]:
    """Each skip, drop or failure of the frame as ``skipped: no_motion``, in event order."""
    found = []
    for event in frame["events"]:
        kind = ENDINGS.get(event["type"])
        if kind is not None:
            data = event.get("data") or {}
            reason = data.get("reason") or data.get("error") or "unknown"
            found.append(f"{kind}: {reason}")
    return found


async def pictures(request: Request, frame: dict[str, Any]) -> list[dict[str, Any]]:
    """The pixels kept of this frame: the best picture (box drawn) of each object whose best
    sighting it is; other frames' pixels are not kept."""
    found = []
    for object_id in dict.fromkeys(o["object_id"] for o in frame["objects"]):
        obj = await queries.one_object(request, object_id)
        if (
            isinstance(obj, dict)
            and obj["snapshot_url"]
            and obj["best_frame_id"] == frame["frame_id"]
        ):
            found.append(obj)
    return found


def _time(value: str, field: str) -> datetime | Refused:
    try:
        return parse_timestamp(value, field)
    except ValidationError as exc:
        return Refused(422, exc.message, exc.field)


async def _find(
    request: Request, frame_id: str, camera: str, at: str
) -> dict[str, Any] | Refused | None:
    if frame_id:
        return await queries.frame(request, frame_id)
    if not (camera and at):
        return None
    when = _time(at, "at")
    if isinstance(when, Refused):
        return when
    # The newest frame captured at or before `at`: the API's `until` is exclusive.
    until = queries.stamp(when + timedelta(microseconds=1))
    page = await queries.frames(request, camera=camera, until=until, limit=1)
    if isinstance(page, Refused):
        return page
    if not page["frames"]:
        return Refused(404, f"no frame of {camera} captured at or before {at}", "at")
    return await queries.frame(request, page["frames"][0]["frame_id"])


async def _strip(
    request: Request, camera: str, since: str, until: str
) -> dict[str, Any] | Refused | None:
    if not camera:
        return None
    end = datetime.now(UTC) if not until else _time(until, "until")
    if isinstance(end, Refused):
        return end
    start = end - DEFAULT_SPAN if not since else _time(since, "since")
    if isinstance(start, Refused):
        return start
    if not timedelta(0) < end - start <= MAX_SPAN:
        return Refused(422, f"the range must be positive and at most {MAX_SPAN}", "since")
    page = await queries.frames(
        request,
        camera=camera,
        since=queries.stamp(start),
        until=queries.stamp(end),
        limit=STRIP_FRAMES,
    )
    if isinstance(page, Refused):
        return page
    span = (end - start).total_seconds()
    cells = []
    for row in reversed(page["frames"]):  # oldest first, left to right
        at = datetime.fromisoformat(row["captured_at"])
        cells.append(
            {
                **row,
                "x": round(100 * (at - start).total_seconds() / span, 3),
                "outcome": f"{row['state']}: {row['reason']}" if row["reason"] else row["state"],
            }
        )
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell["state"]] = counts.get(cell["state"], 0) + 1
    return {
        "camera": camera,
        "since": queries.stamp(start),
        "until": queries.stamp(end),
        "cells": cells,
        "counts": sorted(counts.items()),
        "truncated": page["next_cursor"] is not None,
    }


@router.get("/frames", openapi_extra=PAGE_ROUTE)
async def explorer_page(
    request: Request,
    frame_id: str = "",
    camera: str = "",
    at: str = "",
    since: str = "",
    until: str = "",
) -> HTMLResponse:
    found = await _find(request, frame_id.strip(), camera.strip(), at.strip())
    strip = await _strip(request, camera.strip(), since.strip(), until.strip())
    frame = found if isinstance(found, dict) else None
    problems = [r for r in (found, strip) if isinstance(r, Refused)]
    return render(
        request,
        "frames.html",
        page="frames",
        query={"frame_id": frame_id, "camera": camera, "at": at, "since": since, "until": until},
        cameras=await queries.cameras(request),
        frame=frame,
        outcomes=outcomes(frame) if frame else [],
        pictures=await pictures(request, frame) if frame else [],
        strip=strip if isinstance(strip, dict) else None,
        problems=problems,
    )
