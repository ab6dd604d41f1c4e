"""The tracking query and ingestion API, under ``/v1``.

Inputs are parsed by hand where the domain has the rules (frame ids, cameras, timestamps),
so every bad value gets a 4xx naming its field instead of a generic validation error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from anyio import to_thread
from fastapi import APIRouter, Query, Request

from detektor.adapters.redis_streams import safe_text
from detektor.adapters.storekit import decode_cursor
from detektor.domain.errors import ValidationError
from detektor.domain.fields import INT_MAX, MAX_DEPTH, parse_timestamp
from detektor.domain.frames import FrameId, validate_camera
from detektor.domain.lifecycle import FrameState
from detektor.kit.errors import ApiError
from detektor.ports import FrameQuery
from detektor.services.tracking.ingest import Ingestor
from detektor.services.tracking.settings import MAX_BATCH
from detektor.services.tracking.state import TrackingState

router = APIRouter(prefix="/v1", tags=["tracking"])
T = TypeVar("T")


def _state(request: Request) -> TrackingState:
    state: TrackingState = request.app.state.tracking
    return state


def _domain(parse: Callable[[], T]) -> T:
    """Run a domain parser, turning its ValidationError into a 422 naming the field."""
    try:
        return parse()
    except ValidationError as exc:
        raise ApiError(422, exc.message, exc.field) from None


_EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["events"],
                    "properties": {
                        "events": {
                            "type": "array",
                            "maxItems": MAX_BATCH,
                            "items": {"type": "object"},
                            "description": "lifecycle event envelopes (design §4)",
                        }
                    },
                },
                "example": {
                    "events": [
                        {
                            "event_id": "3f1c2a9e-7b4d-4c2e-9a51-2d8e6f0b1c3d",
                            "type": "frame.captured",
                            "frame_id": "front-door:1764252187000:000042",
                            "camera": "front-door",
                            "occurred_at": "2025-11-27T14:03:07.000Z",
                            "schema_version": 1,
                            "data": {"width": 640, "height": 480, "pts": 42, "source": "rtsp"},
                        }
                    ]
                },
            }
        },
    }
}


@router.post(
    "/events",
    summary="Append a batch of lifecycle events (at most 1000), idempotent by event_id",
    description="Each event is answered `appended`, `duplicate` or `rejected` (with `field` "
    "and `reason`); valid events are stored even when others are rejected. Only a body that "
    'is not `{"events": [...]}` JSON, a batch over 1000, or a body over the size limit '
    "gets a 4xx.",
    response_description='{"results": [{"event_id", "status", "reason"?, "field"?}]}',
    openapi_extra=_EVENTS_BODY,
)
async def post_events(request: Request) -> dict[str, Any]:
    body = _parse_body(await request.body())
    if not isinstance(body, dict) or "events" not in body:
        raise ApiError(422, 'the body must be an object: {"events": [envelope, ...]}', "events")
    events = body["events"]
    if not isinstance(events, list):
        raise ApiError(422, "events must be a list of event envelopes", "events")
    if len(events) > MAX_BATCH:
        raise ApiError(
            422, f"a batch holds at most {MAX_BATCH} events, got {len(events)}; split it", "events"
        )
    ingestor: Ingestor = _state(request).ingestor
    outcomes = await ingestor.ingest(events, source="http")
    return {"results": [_echoable(o.to_dict()) for o in outcomes]}


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number; send finite numbers only")


def _parse_body(raw: bytes) -> object:
    """The JSON body; a 400 naming `body` for anything Python's parser refuses, however it
    refuses it (syntax, encoding, a number past 4300 digits, nesting past the stack)."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ApiError(
            400,
            "the body is not valid JSON: it nests arrays or objects too deeply; event data "
            f"may nest at most {MAX_DEPTH} levels",
            "body",
        ) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors too
        raise ApiError(400, f"the body is not valid JSON: {exc}", "body") from None


def _echoable(result: dict[str, object]) -> dict[str, object]:
    # A rejected event's id is echoed as sent; a lone surrogate in it could not be encoded
    # in the UTF-8 answer, so it goes back as its escape.
    event_id = result.get("event_id")
    if isinstance(event_id, str) and not event_id.isascii():
        result["event_id"] = safe_text(event_id)
    return result


@router.get("/events", summary="Catch-up read of the global log, ascending by position")
async def get_events(
    request: Request,
    after: Annotated[int, Query(ge=0, le=INT_MAX, description="last position already read")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    store = _state(request).store
    rows = await to_thread.run_sync(store.read_log, after, limit)
    return {
        "events": [{"position": pos, **env.to_dict()} for pos, env in rows],
        "next": rows[-1][0] if rows else after,
    }


@router.get("/frames/{frame_id}", summary="One frame: state, timeline, stages, detections")
async def get_frame(request: Request, frame_id: str) -> dict[str, Any]:
    fid = _domain(lambda: FrameId.parse(frame_id))
    state = _state(request)
    view = await to_thread.run_sync(state.store.frame, fid)
    if view is None:
        raise ApiError(404, f"no events recorded for frame {fid}", "frame_id")
    body = view.to_dict()
    body["trace_url"] = state.trace_url(view.trace_id)
    return body


@router.get("/frames", summary="Frames, newest first, filtered, with cursor pagination")
async def list_frames(
    request: Request,
    camera: str | None = None,
    state: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    query = FrameQuery(
        camera=_domain(lambda: validate_camera(camera)) if camera is not None else None,
        state=_frame_state(state) if state is not None else None,
        since=_domain(lambda: parse_timestamp(since, "since")) if since is not None else None,
        until=_domain(lambda: parse_timestamp(until, "until")) if until is not None else None,
        limit=limit,
        cursor=_cursor(cursor) if cursor else None,  # `?cursor=` means the first page
    )
    store = _state(request).store
    page = await to_thread.run_sync(store.frames, query)
    return {"frames": [row.to_dict() for row in page.frames], "next_cursor": page.next_cursor}


@router.get("/cameras/{camera}/accounting", summary="The frame conservation check")
async def get_accounting(request: Request, camera: str) -> dict[str, Any]:
    name = _domain(lambda: validate_camera(camera))
    state = _state(request)
    stale_after = timedelta(seconds=state.settings.stale_after_s)
    acc = await to_thread.run_sync(state.store.accounting, name, datetime.now(UTC), stale_after)
    return acc.to_dict()


def _cursor(cursor: str) -> str:
    try:
        decode_cursor(cursor)
    except ValueError as exc:  # a cursor that was not ours, or was tampered with
        raise ApiError(422, f"invalid cursor: {exc}", "cursor") from None
    return cursor


def _frame_state(value: str) -> FrameState:
    try:
        return FrameState(value)
    except ValueError:
        known = ", ".join(s.value for s in FrameState)
        raise ApiError(422, f"unknown state {value!r}; use one of {known}", "state") from None
