"""The recordings API, under ``/v1``: the segments the recorder indexed, a range of a camera's
footage as one MP4, and each object's clip.

- ``GET /v1/recordings?camera=&start=&end=&limit=&cursor=``: segments newest first;
- ``GET /v1/recordings/gaps?camera=&start=&end=``: the time not recorded between segments
  (a reconnect, a stall) that overlaps the range (the last 24 h unless given; at most
  ``MAX_GAP_RANGE``), in start order; ``GET /v1/recordings/motion``, the same for the time
  the motion gate saw movement (what `motion` mode keeps);
- ``GET /v1/cameras/{camera}/recordings.mp4?start=&end=``: the range, remuxed (no re-encode)
  from the last keyframe at or before ``start``; at most ``recordings.max_export_s`` long;
- ``GET /v1/objects/{object_id}/clip.mp4``: from ``pre_s`` before the object's start to
  ``post_s`` after its end (its last sighting while it is still in view), the camera's
  ``record`` settings.

The MP4 answers honour HTTP Range (a ``<video>`` seeks by it) and, like snapshots, open to a
signed link of their exact path and query, so a Home Assistant notification can carry one.
They read ``app.state.recordings`` (``recordings.serving.Recordings``; absent: 404).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from detektor.adapters.objectkit import is_object_id
from detektor.domain.errors import ValidationError
from detektor.domain.fields import format_timestamp, parse_timestamp
from detektor.domain.frames import validate_camera
from detektor.domain.recordings import RecordingSpan, Segment, SpanKind
from detektor.kit.access import SIGNED_LINK_ROUTE
from detektor.kit.errors import ApiError
from detektor.ports import SegmentQuery
from detektor.services.recordings.clips import NoFootage
from detektor.services.recordings.serving import Recordings
from detektor.services.tracking.objects_api import ID_FORM
from detektor.services.tracking.state import TrackingState

router = APIRouter(prefix="/v1", tags=["recordings"])
MAX_GAP_RANGE = timedelta(days=31)
_MP4: dict[int | str, dict[str, Any]] = {
    200: {"content": {"video/mp4": {}}, "description": "the footage (206 for a Range)"}
}


def _recordings(request: Request) -> Recordings:
    found = getattr(request.app.state, "recordings", None)
    if not isinstance(found, Recordings):
        raise ApiError(404, "recording is off: no recordings are kept")
    return found


def _link(request: Request, path: str) -> str:
    link_for: Callable[[str], str | None] | None = getattr(request.app.state, "link_for", None)
    return (link_for(path) if link_for is not None else None) or path


def export_path(camera: str, start: datetime, end: datetime) -> str:
    query = urlencode({"start": format_timestamp(start), "end": format_timestamp(end)})
    return f"/v1/cameras/{validate_camera(camera)}/recordings.mp4?{query}"


def _shown(request: Request, segment: Segment) -> dict[str, Any]:
    return {
        "camera": segment.camera,
        "start": format_timestamp(segment.start),
        "end": format_timestamp(segment.end),
        "duration_s": round((segment.end - segment.start).total_seconds(), 3),
        "bytes": segment.bytes,
        "codec": segment.codec,
        "keyframes": segment.keyframes,
        "audio": segment.audio,
        "url": _link(request, export_path(segment.camera, segment.start, segment.end)),
    }


@router.get("/recordings", summary="Recorded segments, newest first, with cursor pagination")
async def list_recordings(
    request: Request,
    camera: str | None = None,
    start: Annotated[str | None, Query(description="segments ending after (RFC 3339)")] = None,
    end: Annotated[str | None, Query(description="segments starting before (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    recordings = _recordings(request)
    query = SegmentQuery(
        camera=_checked(lambda: validate_camera(camera)) if camera is not None else None,
        start=_time(start, "start") if start is not None else None,
        end=_time(end, "end") if end is not None else None,
        limit=limit,
        cursor=cursor or None,
    )
    try:
        page = await to_thread.run_sync(recordings.index.segments, query)
    except ValidationError as exc:
        raise ApiError(422, exc.message, exc.field) from None
    except ValueError as exc:  # the cursor is all that is left to be wrong
        raise ApiError(422, str(exc), "cursor") from None
    return {
        "recordings": [_shown(request, s) for s in page.segments],
        "next_cursor": page.next_cursor,
    }


@router.get("/recordings/gaps", summary="Time not recorded (reconnects, stalls), in start order")
async def list_gaps(
    request: Request,
    camera: str | None = None,
    start: Annotated[str | None, Query(description="gaps ending after (RFC 3339)")] = None,
    end: Annotated[str | None, Query(description="gaps starting before (RFC 3339)")] = None,
) -> dict[str, Any]:
    return {"gaps": await _spans(request, SpanKind.GAP, camera, start, end)}


@router.get("/recordings/motion", summary="Time the motion gate saw movement, in start order")
async def list_motion(
    request: Request,
    camera: str | None = None,
    start: Annotated[str | None, Query(description="motion ending after (RFC 3339)")] = None,
    end: Annotated[str | None, Query(description="motion starting before (RFC 3339)")] = None,
) -> dict[str, Any]:
    return {"motion": await _spans(request, SpanKind.MOTION, camera, start, end)}


async def _spans(
    request: Request, kind: SpanKind, camera: str | None, start: str | None, end: str | None
) -> list[dict[str, Any]]:
    """The spans of ``kind`` overlapping the range (the last day unless given)."""
    recordings = _recordings(request)
    name = _checked(lambda: validate_camera(camera)) if camera is not None else None
    last = _time(end, "end") if end is not None else datetime.now(UTC)
    first = _time(start, "start") if start is not None else _day_before(last)
    if last < first:
        raise ApiError(422, "end must not be before start", "end")
    if last - first > MAX_GAP_RANGE:
        raise ApiError(
            422, f"a range of at most {MAX_GAP_RANGE.days} days at once; ask for it in parts", "end"
        )
    spans = await to_thread.run_sync(recordings.index.spans, kind, first, last, name)
    return [_span_shown(span) for span in spans]


def _day_before(instant: datetime) -> datetime:
    try:
        return instant - timedelta(days=1)
    except OverflowError:  # an end in the first day of year 1
        return datetime.min.replace(tzinfo=UTC)


def _span_shown(span: RecordingSpan) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "camera": span.camera,
        "start": format_timestamp(span.start),
        "end": format_timestamp(span.end),
        "duration_s": round((span.end - span.start).total_seconds(), 3),
    }
    if span.kind is SpanKind.GAP:
        shown["reason"] = span.reason
    return shown


@router.get(
    "/cameras/{camera}/recordings.mp4",
    summary="A range of a camera's footage as one MP4 (HTTP Range supported)",
    description="Needs the API token, or a signed link to this exact path and query.",
    response_class=FileResponse,
    responses=_MP4,
    openapi_extra=SIGNED_LINK_ROUTE,
)
async def export_range(request: Request, camera: str, start: str, end: str) -> FileResponse:
    recordings = _recordings(request)
    name = _checked(lambda: validate_camera(camera))
    first, last = _time(start, "start"), _time(end, "end")
    if last <= first:
        raise ApiError(422, "end must be after start", "end")
    if (last - first).total_seconds() > recordings.max_export_s:
        raise ApiError(
            422,
            f"a range of at most {recordings.max_export_s:g} s can be exported at once "
            "(recordings.max_export_s); ask for it in parts",
            "end",
        )
    return await _footage(recordings, name, first, last, f"{name}.mp4")


@router.get(
    "/objects/{object_id}/clip.mp4",
    summary="An object's clip: pre_s before it appeared to post_s after it left",
    description="Needs the API token, or a signed link to this exact path and query.",
    response_class=FileResponse,
    responses=_MP4,
    openapi_extra=SIGNED_LINK_ROUTE,
)
async def object_clip(request: Request, object_id: str) -> FileResponse:
    recordings = _recordings(request)
    if not is_object_id(object_id):
        raise ApiError(
            404, f"no object {object_id[:80]!r}: object ids look like {ID_FORM}", "object_id"
        )
    state: TrackingState = request.app.state.tracking
    found = await to_thread.run_sync(state.store.object, object_id)
    if found is None:
        raise ApiError(404, f"no events recorded for object {object_id}", "object_id")
    view = found[0]
    policy = recordings.policy(view.camera)
    first = view.first_seen - timedelta(seconds=policy.pre_s)
    last = (view.ended_at or view.last_seen) + timedelta(seconds=policy.post_s)
    if (last - first).total_seconds() > recordings.max_export_s:
        last = first + timedelta(seconds=recordings.max_export_s)
    filename = f"{object_id.replace(':', '-')}.mp4"
    return await _footage(recordings, view.camera, first, last, filename)


def object_clip_path(object_id: str) -> str:
    return f"/v1/objects/{quote(object_id, safe=':')}/clip.mp4"


async def _footage(
    recordings: Recordings, camera: str, start: datetime, end: datetime, filename: str
) -> FileResponse:
    segments = await to_thread.run_sync(recordings.index.overlapping, camera, start, end)
    if not segments:
        raise ApiError(404, f"nothing of {camera} is recorded between {start} and {end}")
    try:
        clip = await to_thread.run_sync(recordings.clips.clip, camera, start, end, segments)
    except NoFootage as exc:
        raise ApiError(404, f"no playable footage of {camera} in the range: {exc}") from None
    headers = {"Cache-Control": "private, max-age=60", "X-Clip-Start": format_timestamp(clip.start)}
    if clip.cut_short:
        headers["X-Clip-Cut-Short"] = clip.cut_short[:200]
    return FileResponse(
        clip.path,
        media_type="video/mp4",
        headers=headers,
        content_disposition_type="inline",
        filename=filename,
    )


def _checked(parse: Callable[[], str]) -> str:
    try:
        return parse()
    except ValidationError as exc:
        raise ApiError(422, exc.message, exc.field) from None


def _time(value: str, field: str) -> datetime:
    try:
        return parse_timestamp(value, field)
    except ValidationError as exc:
        raise ApiError(422, exc.message, exc.field) from None
