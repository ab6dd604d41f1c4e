"""The UI's static files (CSS, vendored htmx, the small scripts), served from the package
under ``/ui/static/``, open to anyone (they hold nothing private) and cached by the browser."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from detektor.kit.access import OPEN_ROUTE
from detektor.kit.errors import ApiError
from detektor.ui.rendering import STATIC, UI_HEADERS

router = APIRouter(include_in_schema=False)
TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@router.get("/ui/static/{name:path}", openapi_extra=OPEN_ROUTE)
async def static_file(name: str) -> FileResponse:
    root = STATIC.resolve()
    path = (root / name).resolve()
    media = TYPES.get(path.suffix)
    # Only files of known types inside the folder: no `..`, no links out, no licence as HTML.
    if media is None or not path.is_relative_to(root) or not path.is_file():
        raise ApiError(404, f"no static file {name[:80]!r}", "name")
    headers = {**UI_HEADERS, "Cache-Control": "public, max-age=3600"}
    return FileResponse(path, media_type=media, headers=headers)
