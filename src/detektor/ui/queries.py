"""What the pages read: the JSON API's own route functions, called in process, so a page
shows exactly what the API answers (same validation, same cursors, same links) and a bad
filter is the API's 4xx message, shown on the page instead of a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from anyio import to_thread
from fastapi import Request

from detektor.kit.errors import ApiError
from detektor.objects.snapshots import SnapshotStore
from detektor.services.tracking import api, objects_api, recordings_api
from detektor.services.tracking.state import TrackingState

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Refused:
    """An API refusal, to show on the page: its status, message and the field at fault."""

    status: int
    message: str
    field: str | None = None


async def ask(call: Awaitable[T]) -> T | Refused:
    try:
        return await call
    except ApiError as exc:
        return Refused(exc.status_code, exc.message, exc.field)


def tracking(request: Request) -> TrackingState | None:
    state: TrackingState | None = getattr(request.app.state, "tracking", None)
    return state


async def cameras(request: Request) -> list[str]:
    state = tracking(request)
    return [] if state is None else await to_thread.run_sync(state.store.cameras)


async def objects(request: Request, **filters: Any) -> dict[str, Any] | Refused:
    listed = await ask(objects_api.list_objects(request, **filters))
    if not isinstance(listed, Refused):
        await to_thread.run_sync(_drop_missing_pictures, request, listed["objects"])
    return listed


async def one_object(request: Request, object_id: str) -> dict[str, Any] | Refused:
    found = await ask(objects_api.get_object(request, object_id))
    if not isinstance(found, Refused):
        await to_thread.run_sync(_drop_missing_pictures, request, [found])
    return found


def _drop_missing_pictures(request: Request, objects: list[dict[str, Any]]) -> None:
    """No ``snapshot_url`` where no picture is kept (snapshots off, not written yet, swept),
    so a page shows "no picture" instead of a broken image; a stat per object."""
    store = getattr(request.app.state, "snapshots", None)
    for obj in objects:
        if obj["snapshot_url"] and (
            not isinstance(store, SnapshotStore) or store.object_snapshot(obj["object_id"]) is None
        ):
            obj["snapshot_url"] = None


async def frame(request: Request, frame_id: str) -> dict[str, Any] | Refused:
    return await ask(api.get_frame(request, frame_id))


async def frames(request: Request, **filters: Any) -> dict[str, Any] | Refused:
    return await ask(api.list_frames(request, **filters))


async def accounting(request: Request, camera: str) -> dict[str, Any] | Refused:
    return await ask(api.get_accounting(request, camera))


async def recordings(request: Request, **filters: Any) -> dict[str, Any] | Refused:
    return await ask(recordings_api.list_recordings(request, **filters))


async def gaps(request: Request, **filters: Any) -> dict[str, Any] | Refused:
    return await ask(recordings_api.list_gaps(request, **filters))


async def motion(request: Request, **filters: Any) -> dict[str, Any] | Refused:
    return await ask(recordings_api.list_motion(request, **filters))


async def has_latest(request: Request, camera: str) -> bool:
    """Whether the camera's latest frame is kept, so a page shows a picture, not a 404."""
    store = getattr(request.app.state, "snapshots", None)
    if not isinstance(store, SnapshotStore):
        return False
    return await to_thread.run_sync(lambda: store.latest(camera, boxes=True) is not None)


def recording_on(request: Request) -> bool:
    return getattr(request.app.state, "recordings", None) is not None


async def has_footage(request: Request, camera: str, start: str, end: str) -> bool:
    """Whether any recorded segment of ``camera`` overlaps the range (RFC 3339 ends), so a
    page offers a clip only where the clip route has footage to cut."""
    recordings = getattr(request.app.state, "recordings", None)
    if recordings is None:
        return False
    first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    found = await to_thread.run_sync(recordings.index.overlapping, camera, first, last)
    return bool(found)


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def today(now: datetime | None = None) -> datetime:
    """Midnight UTC of ``now``'s day."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def day_range(day: datetime) -> tuple[str, str]:
    return stamp(day), stamp(day + timedelta(days=1))
