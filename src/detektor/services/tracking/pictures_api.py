"""The picture routes: an object's best snapshot and a camera's latest frame, as JPEG.

They read the ``SnapshotStore`` in ``app.state.snapshots`` (absent: snapshots are off, 404)
and, beside the API token, open to a signed link of their exact path and query (ADR 19), so
Home Assistant can fetch a picture by the URL an MQTT message carries. ``snapshot_path`` and
``latest_path`` build the paths that ``kit.signing.signed_url`` turns into such links.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Query, Request, Response

from detektor.domain.errors import ValidationError
from detektor.domain.frames import validate_camera
from detektor.domain.object_events import validate_object_id
from detektor.kit.access import SIGNED_LINK_ROUTE
from detektor.kit.errors import ApiError
from detektor.kit.signing import LinkSigner
from detektor.objects.snapshots import SnapshotStore

router = APIRouter(prefix="/v1", tags=["pictures"])

# A better sighting replaces an object's picture now and then; the latest frame changes
# every second. Private: a signed link must not fill a shared cache.
SNAPSHOT_CACHE = "private, max-age=10"
LATEST_CACHE = "private, no-cache"
_JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "the picture"}
}


def snapshot_path(object_id: str, *, crop: bool = False, box: bool = True) -> str:
    """The app path of an object's picture, with only the parameters that differ from the
    defaults (a signed link covers them, so one picture has one link)."""
    params = [("crop", "1")] if crop else [("box", "0")] if not box else []
    query = f"?{urlencode(params)}" if params else ""
    return f"/v1/objects/{validate_object_id(object_id)}/snapshot.jpg{query}"


def latest_path(camera: str, *, boxes: bool = False) -> str:
    return f"/v1/cameras/{validate_camera(camera)}/latest.jpg{'?boxes=1' if boxes else ''}"


def serve_pictures(
    app: FastAPI, snapshots: SnapshotStore | None, signer: LinkSigner, ttl_s: float
) -> None:
    """Give ``app`` what these routes and ``objects_api.snapshot_link`` read: the store (None:
    snapshots are off), the signer that checks links, and ``link_for`` that makes them."""
    app.state.snapshots, app.state.signer = snapshots, signer
    app.state.link_for = lambda path: signer.sign(path, ttl_s)


def _store(request: Request) -> SnapshotStore:
    store = getattr(request.app.state, "snapshots", None)
    if not isinstance(store, SnapshotStore):
        raise ApiError(404, "snapshots are off")
    return store


@router.get(
    "/objects/{object_id}/snapshot.jpg",
    summary="An object's best picture (?crop=1: the object only; ?box=0: without its box)",
    description="Needs the API token, or a signed link (`exp` and `sig`) to this exact path "
    "and query.",
    response_class=Response,
    responses=_JPEG,
    openapi_extra=SIGNED_LINK_ROUTE,
)
async def object_snapshot(
    request: Request,
    object_id: str,
    crop: Annotated[bool, Query(description="the box with a margin")] = False,
    box: Annotated[bool, Query(description="draw the box and label (full frame)")] = True,
) -> Response:
    _valid(lambda: validate_object_id(object_id))
    store = _store(request)
    data = await to_thread.run_sync(lambda: store.read_best(object_id, crop=crop, box=box))
    if data is None:
        raise ApiError(404, f"no snapshot of object {object_id}", "object_id")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": SNAPSHOT_CACHE})


@router.get(
    "/cameras/{camera}/latest.jpg",
    summary="A camera's latest frame (?boxes=1: with the detections drawn)",
    description="Needs the API token, or a signed link (`exp` and `sig`) to this exact path "
    "and query.",
    response_class=Response,
    responses=_JPEG,
    openapi_extra=SIGNED_LINK_ROUTE,
)
async def latest_frame(
    request: Request,
    camera: str,
    boxes: Annotated[bool, Query(description="draw the detections")] = False,
) -> Response:
    _valid(lambda: validate_camera(camera))
    store = _store(request)
    data = await to_thread.run_sync(lambda: store.read_latest(camera, boxes=boxes))
    if data is None:
        raise ApiError(404, f"no latest frame of camera {camera}", "camera")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": LATEST_CACHE})


def _valid(check: Callable[[], object]) -> None:
    try:
        check()
    except ValidationError as exc:
        raise ApiError(422, exc.message, exc.field) from None
