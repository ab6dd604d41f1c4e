"""The tracking app in process, over a real store, for tests of its HTTP answers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from detektor.services.tracking.service import build
from detektor.settings import Settings
from support.postgres import temporary_database

STORES = ["sqlite", "postgres"]


@contextmanager
def store_url(kind: str, tmp: Path) -> Iterator[str]:
    """A database URL of `kind`: a fresh SQLite file or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'events.db'}"
    elif kind == "postgres":
        with temporary_database("detektor_http") as url:
            yield url
    else:
        raise ValueError(f"unknown store kind {kind!r}")


# Set, so that building the tracking app writes no link-secret file anywhere.
TEST_LINK_SECRET = "a-test-link-secret-long-enough-to-be-accepted"


@contextmanager
def tracking_client(url: str, **overrides: Any) -> Iterator[TestClient]:
    """The tracking app on `url`, its lifespan running, stream consumer off; `overrides` are
    more settings (recordings, data_dir, api_token, ...)."""
    settings = Settings(
        database_url=url,
        tracking={"consume": False},
        link_secret=TEST_LINK_SECRET,
        **overrides,
    )
    with TestClient(build(settings), raise_server_exceptions=False) as client:
        yield client


# Recent, so that the service's retention (7 days by default) keeps them while a test runs.
RECENT_MS = int(time.time() * 1000) - 3_600_000


def captured(seq: int, **data: Any) -> dict[str, Any]:
    """A valid frame.captured envelope for camera `cam`, with extra `data` fields."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "frame.captured",
        "frame_id": f"cam:{RECENT_MS}:{seq:06d}",
        "camera": "cam",
        "occurred_at": datetime.fromtimestamp(RECENT_MS / 1000, UTC).isoformat(),
        "schema_version": 1,
        "data": {"width": 640, "height": 480, "source": "synthetic://", **data},
    }


def error_of(reply: Any) -> dict[str, Any]:
    """The `error` object of a 4xx/5xx answer, asserting the kit's shape."""
    body = reply.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), dict), body
    assert isinstance(body["error"].get("message"), str), body
    error: dict[str, Any] = body["error"]
    return error
