"""The web UI's pages, rendered by the tracking app over a real SQLite store: each page's
content for posted events, its headers (a strict CSP, nothing inline), the API's refusals
shown on the page for bad filters (never a 500), and the static files' confinement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient

from detektor.adapters.stores import open_recording_index
from detektor.domain.recordings import RecordingSpan, SpanKind
from detektor.services.objects.snapshot_upkeep import snapshot_store
from detektor.settings import Settings
from detektor.ui.rendering import CSP
from support.tracking_app import tracking_client
from support.ui_scene import person_frame, person_life, recent, skipped_frame

PAGES = ["/", "/ui/cameras/grid", "/review", "/frames", "/system", "/recordings"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with tracking_client(url, data_dir=tmp_path / "data") as client:
        yield client


def keep_picture(data_dir: Path, object_id: str) -> None:
    """The object's best picture, written as `serve objects` writes it."""
    store = snapshot_store(Settings(data_dir=data_dir))
    assert store is not None
    image = np.full((480, 640, 3), 90, dtype=np.uint8)
    store.keep_best(
        object_id, object_id.split(":")[0], image, (10.0, 10.0, 90.0, 200.0), "person", 0.9
    )


def post(client: TestClient, events: list[dict[str, object]]) -> None:
    reply = client.post("/v1/events", json={"events": events})
    assert reply.status_code == 200, reply.text
    assert all(r["status"] == "appended" for r in reply.json()["results"]), reply.text


@pytest.fixture
def scene(client: TestClient) -> dict[str, str]:
    at = recent()
    skipped, skip_events = skipped_frame("porch-cam", at, 1)
    person, person_events = person_frame("porch-cam", at + timedelta(seconds=1), 2)
    object_id, object_events = person_life("porch-cam", at)
    post(client, skip_events + person_events + object_events)
    return {"skipped": skipped, "person": person, "object": object_id}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_under_a_strict_csp_with_nothing_inline(
    client: TestClient, scene: dict[str, str], path: str
) -> None:
    reply = client.get(path)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert reply.headers["content-security-policy"] == CSP
    assert "script-src 'self';" in CSP
    assert "unsafe" not in CSP
    assert reply.headers["cache-control"] == "no-store"
    assert INLINE_SCRIPT.search(reply.text) is None
    assert INLINE_STYLE.search(reply.text) is None


def test_cameras_page_shows_each_camera_and_todays_objects(
    client: TestClient, scene: dict[str, str]
) -> None:
    page = client.get("/").text
    assert 'data-camera="porch-cam"' in page
    assert "no picture kept" in page  # no latest frame written here: no broken image
    assert "1 person" in page
    assert 'hx-trigger="every 3s"' in page


def test_review_lists_objects_and_filters_them(client: TestClient, scene: dict[str, str]) -> None:
    page = client.get("/review").text
    assert f'data-object="{scene["object"]}"' in page
    assert 'sse-connect="/ui/review/stream?"' in page
    assert scene["object"] in client.get("/review?camera=porch-cam&label=person&zone=porch").text
    assert scene["object"] not in client.get("/review?label=car").text
    assert scene["object"] not in client.get("/review?zone=drive").text
    later = (recent(-60)).isoformat().replace("+00:00", "Z")
    assert scene["object"] not in client.get(f"/review?after={quote(later)}").text


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("label=%00", "label"),
        ("zone=no%20spaces", "zone"),
        ("after=yesterday", "after"),
        ("camera=" + "x" * 300, "camera"),
        ("cursor=not-a-cursor", "invalid cursor"),
    ],
)
def test_bad_review_filters_show_the_apis_refusal(
    client: TestClient, scene: dict[str, str], query: str, shown: str
) -> None:
    reply = client.get(f"/review?{query}")
    assert reply.status_code == 200
    assert 'class="refused"' in reply.text
    assert shown in reply.text
    assert 'data-object="' not in reply.text


def test_object_page_has_its_timeline_zones_and_frames(
    client: TestClient, scene: dict[str, str]
) -> None:
    reply = client.get(f"/review/{scene['object']}")
    assert reply.status_code == 200
    page = reply.text
    for kind in ("object.started", "object.updated", "object.ended"):
        assert kind in page
    assert "porch" in page
    assert "/frames?frame_id=porch-cam%3A" in page
    assert "No recording of this object" in page  # no segments indexed: no <video>
    assert "<video" not in page


def test_an_object_shows_its_picture_only_once_one_is_kept(
    client: TestClient, scene: dict[str, str], tmp_path: Path
) -> None:
    object_id = scene["object"]
    before = client.get("/review").text
    assert '<span class="nopic">no picture</span>' in before
    assert "snapshot.jpg" not in before  # a link to a missing file would be a broken image
    best = client.get(f"/v1/objects/{object_id}").json()["best_frame_id"]
    assert 'class="kept"' not in client.get(f"/frames?frame_id={quote(best)}").text
    keep_picture(tmp_path / "data", object_id)
    assert f"/v1/objects/{object_id}/snapshot.jpg" in client.get("/review").text
    frame = client.get(f"/frames?frame_id={quote(best)}").text
    assert 'class="kept"' in frame  # the frame's pixels, kept as the object's best picture
    assert f"/v1/objects/{object_id}/snapshot.jpg" in frame
    assert client.get(f"/v1/objects/{object_id}/snapshot.jpg").status_code == 200


@pytest.mark.parametrize("object_id", ["nope", "porch-cam:1:1", "a" * 500, "%00"])
def test_unknown_objects_are_a_404_page(client: TestClient, object_id: str) -> None:
    reply = client.get(f"/review/{object_id}")
    assert reply.status_code == 404
    assert 'class="refused"' in reply.text
    assert reply.headers["content-security-policy"] == CSP


def test_frame_explorer_says_why_a_frame_was_skipped(
    client: TestClient, scene: dict[str, str]
) -> None:
    page = client.get(f"/frames?frame_id={quote(scene['skipped'])}").text
    assert '<p class="outcome">skipped: no_motion</p>' in page


def test_frame_explorer_shows_a_person_frames_detection_and_stages(
    client: TestClient, scene: dict[str, str]
) -> None:
    page = client.get(f"/frames?frame_id={quote(scene['person'])}").text
    assert "<td>person</td><td>0.87</td>" in page
    assert "<td>processing</td>" in page
    assert 'class="outcome"' not in page


def test_frame_explorer_finds_by_camera_and_time_and_draws_the_strip(
    client: TestClient, scene: dict[str, str]
) -> None:
    at = (recent() + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    since = recent(10).isoformat().replace("+00:00", "Z")
    page = client.get(f"/frames?camera=porch-cam&at={quote(at)}&since={quote(since)}").text
    assert scene["person"] in page  # the newest frame at or before `at`
    assert '<rect class="skipped"' in page
    assert '<rect class="completed"' in page
    assert '<span class="key completed">completed</span> 1' in page


@pytest.mark.parametrize(
    "query",
    [
        "frame_id=garbage",
        "frame_id=porch-cam:1:000001",
        "camera=porch-cam&at=not-a-time",
        "camera=bad%20camera&at=2026-01-01T00:00:00Z",
        "camera=porch-cam&since=2020-01-01T00:00:00Z",
        "camera=porch-cam&until=whenever",
        "camera=porch-cam&at=1999-01-01T00:00:00Z",
    ],
)
def test_bad_frame_queries_are_shown_not_raised(
    client: TestClient, scene: dict[str, str], query: str
) -> None:
    reply = client.get(f"/frames?{query}")
    assert reply.status_code == 200
    assert 'class="refused"' in reply.text


def test_system_page_shows_health_and_balanced_accounting(
    client: TestClient, scene: dict[str, str]
) -> None:
    page = client.get("/system").text
    assert "event_store" in page
    assert "<td>porch-cam</td><td>2</td><td>1</td><td>1</td>" in page
    assert "Nothing recorded yet" in page


@pytest.mark.parametrize("day", ["tomorrow", "2026-13-01", "x" * 100])
def test_recordings_page_refuses_a_bad_day(client: TestClient, day: str) -> None:
    reply = client.get(f"/recordings?day={quote(day)}")
    assert reply.status_code == 200
    assert "must be YYYY-MM-DD" in reply.text


def test_recordings_page_marks_the_days_gaps_and_motion(client: TestClient, tmp_path: Path) -> None:
    noon = datetime(2026, 11, 30, 12, tzinfo=UTC)
    index = open_recording_index(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        for start, seconds, reason in [
            (noon, 90, "reconnect"),
            (noon.replace(hour=23), 7200, "stalled"),
        ]:
            span = RecordingSpan(
                "porch-cam", SpanKind.GAP, start, start + timedelta(seconds=seconds), reason
            )
            assert index.add_span(span)
        moved = RecordingSpan("porch-cam", SpanKind.MOTION, noon.replace(hour=6), noon)
        assert index.add_span(moved)
    finally:
        index.close()
    page = client.get("/recordings?camera=porch-cam&day=2026-11-30").text
    assert '<rect class="motion" x="25.0" y="8" width="25.0"' in page  # 06:00 to noon
    assert '<span class="key motion">motion</span>' in page
    assert page.count('<rect class="lost"') == 2
    assert '<rect class="lost" x="50.0" y="0" width="0.104"' in page  # 90 s of the day at noon
    assert "(reconnect, 90.0 s)" in page
    assert '<rect class="lost" x="95.833" y="0" width="4.167"' in page  # cut at midnight
    assert '<span class="key lost">gap</span>' in page
    assert 'class="lost"' not in client.get("/recordings?camera=porch-cam&day=2026-11-29").text
    other = client.get("/recordings?camera=yard&day=2026-11-30").text
    assert '<rect class="lost"' not in other


@pytest.mark.parametrize(
    "path",
    [
        "/ui/static/../rendering.py",
        "/ui/static/%2e%2e/rendering.py",
        "/ui/static/vendor/htmx/LICENSE",
        "/ui/static/nothing.css",
        "/ui/static/",
    ],
)
def test_static_files_are_confined_to_their_folder(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_static_files_are_served_with_their_type(client: TestClient) -> None:
    css = client.get("/ui/static/detektor.css")
    assert css.headers["content-type"].startswith("text/css")
    js = client.get("/ui/static/vendor/htmx/htmx-2.0.11.min.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "htmx" in js.text
