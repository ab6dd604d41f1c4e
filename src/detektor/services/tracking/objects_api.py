"""The object API, under ``/v1``: the tracked objects the store projects from the object
events (ADR 18), listed newest first with filters and a cursor, and one object with its events.

Inputs are parsed by hand, as in `api`, so every bad value gets a 4xx naming its field; the
store refuses nothing these routes let through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Query, Request

from detektor.adapters.objectkit import decode_object_cursor, is_object_id
from detektor.domain.errors import ValidationError
from detektor.domain.fields import parse_timestamp
from detektor.domain.frames import validate_camera
from detektor.domain.object_events import ObjectState
from detektor.domain.object_projection import ObjectView
from detektor.domain.zones import ZONE_PATTERN, ZONE_RE
from detektor.kit.errors import ApiError
from detektor.ports import EventStore, ObjectQuery
from detektor.services.tracking.state import TrackingState

router = APIRouter(prefix="/v1", tags=["objects"])
T = TypeVar("T")
MAX_LABEL = 64
ID_FORM = "<camera>:<first sighting ms>:<track id>, e.g. front-door:1764230400123:7"


def _store(request: Request) -> EventStore:
    state: TrackingState = request.app.state.tracking
    return state.store


def _domain(parse: Callable[[], T]) -> T:
    """Run a domain parser, turning its ValidationError into a 422 naming the field."""
    try:
        return parse()
    except ValidationError as exc:
        raise ApiError(422, exc.message, exc.field) from None


def snapshot_link(request: Request, object_id: str) -> str | None:
    """The link to the object's snapshot: `app.state.link_for(path)` when the app has one
    (signed, absolute links), else the relative path."""
    path = f"/v1/objects/{quote(object_id, safe=':')}/snapshot.jpg"
    link_for: Callable[[str], str | None] | None = getattr(request.app.state, "link_for", None)
    return path if link_for is None else link_for(path)


def _shown(request: Request, view: ObjectView) -> dict[str, Any]:
    body = view.to_dict()
    # Only an object with a best frame has a snapshot to show.
    body["snapshot_url"] = snapshot_link(request, view.object_id) if view.best else None
    return body


@router.get("/objects", summary="Tracked objects, newest first, filtered, with cursor pagination")
async def list_objects(
    request: Request,
    camera: str | None = None,
    label: str | None = None,
    zone: Annotated[str | None, Query(description="objects that ever entered the zone")] = None,
    state: Annotated[str | None, Query(description="active, stationary or ended")] = None,
    after: Annotated[str | None, Query(description="started at or after (RFC 3339)")] = None,
    before: Annotated[str | None, Query(description="started before (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    query = ObjectQuery(
        camera=_domain(lambda: validate_camera(camera)) if camera is not None else None,
        label=_label(label) if label is not None else None,
        zone=_zone(zone) if zone is not None else None,
        state=_object_state(state) if state is not None else None,
        after=_domain(lambda: parse_timestamp(after, "after")) if after is not None else None,
        before=_domain(lambda: parse_timestamp(before, "before")) if before is not None else None,
        limit=limit,
        cursor=_cursor(cursor) if cursor else None,  # `?cursor=` means the first page
    )
    page = await to_thread.run_sync(_store(request).objects, query)
    return {
        "objects": [_shown(request, view) for view in page.objects],
        "next_cursor": page.next_cursor,
    }


@router.get("/objects/{object_id}", summary="One object: its view, frames and events")
async def get_object(request: Request, object_id: str) -> dict[str, Any]:
    if not is_object_id(object_id):
        # No stored object can have this id; 404 like any unknown one, saying the form.
        raise ApiError(
            404, f"no object {object_id[:80]!r}: object ids look like {ID_FORM}", "object_id"
        )
    found = await to_thread.run_sync(_store(request).object, object_id)
    if found is None:
        raise ApiError(404, f"no events recorded for object {object_id}", "object_id")
    view, events = found
    body = _shown(request, view)
    body["frame_ids"] = [str(frame_id) for frame_id in view.frame_ids]
    body["events"] = [envelope.to_dict() for envelope in events]
    return body


def _label(value: str) -> str:
    if not value or len(value) > MAX_LABEL or not value.isprintable():
        raise ApiError(
            422,
            f"label {value[:80]!r} must be 1 to {MAX_LABEL} printable characters, e.g. person",
            "label",
        )
    return value


def _zone(value: str) -> str:
    if ZONE_RE.fullmatch(value) is None:
        raise ApiError(422, f"zone {value[:80]!r} must match {ZONE_PATTERN}", "zone")
    return value


def _object_state(value: str) -> ObjectState:
    try:
        return ObjectState(value)
    except ValueError:
        known = ", ".join(s.value for s in ObjectState)
        raise ApiError(422, f"unknown state {value[:80]!r}; use one of {known}", "state") from None


def _cursor(cursor: str) -> str:
    try:
        decode_object_cursor(cursor)
    except ValueError as exc:  # a cursor that was not ours, or was tampered with
        raise ApiError(422, f"invalid cursor: {exc}", "cursor") from None
    return cursor
