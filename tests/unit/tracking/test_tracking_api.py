"""The tracking HTTP API over the in-memory store: shapes, pagination and bad input."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from detektor.services.tracking.service import build
from detektor.settings import Settings
from support.tracking_app import TEST_LINK_SECRET

# An hour ago, whole seconds: a fixed date falls out of the service's 7-day retention one day,
# and the retention job, which runs when the service starts, then purges the test's frames.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def event(
    type_: str,
    frame: str,
    at: datetime,
    data: dict[str, Any] | None = None,
    **over: Any,
) -> dict[str, Any]:
    camera = frame.split(":")[0]
    defaults: dict[str, dict[str, Any]] = {
        "frame.captured": {"width": 640, "height": 480, "pts": 1, "source": "synthetic://"},
        "frame.skipped": {"reason": "no_motion"},
        "frame.queued": {"stream": "detektor:frames"},
        "frame.processing": {"processor": "detector", "batch_id": "b1"},
        "frame.processed": {
            "processor": "detector",
            "duration_ms": 12.5,
            "detections": [{"label": "person", "score": 0.91, "box": [10, 20, 110, 220]}],
        },
        "frame.published": {"target": "mqtt"},
        "frame.completed": {},
        "frame.dropped": {"reason": "bus_full"},
        "frame.failed": {"stage": "detector", "error": "boom"},
    }
    body = {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "frame_id": frame,
        "camera": camera,
        "occurred_at": at.isoformat(),
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "schema_version": 1,
        "data": defaults.get(type_, {}) if data is None else data,
    }
    body.update(over)
    return body


def frame_id(camera: str, seq: int, at: datetime = T0) -> str:
    return f"{camera}:{int(at.timestamp() * 1000)}:{seq:06d}"


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(
        database_url="memory://",
        link_secret=TEST_LINK_SECRET,
        jaeger_ui_url="http://jaeger:16686",
        tracking={"consume": False, "stale_after_s": 30, "max_body_bytes": 64 * 1024},
    )
    with TestClient(build(settings), raise_server_exceptions=False) as c:
        yield c


def full_life(camera: str, seq: int) -> list[dict[str, Any]]:
    fid = frame_id(camera, seq)
    types = ["captured", "queued", "processing", "processed", "published", "completed"]
    return [
        event(f"frame.{t}", fid, T0 + timedelta(milliseconds=10 * i)) for i, t in enumerate(types)
    ]


def test_append_then_read_a_frame(client: TestClient) -> None:
    events = full_life("front-door", 42)
    reply = client.post("/v1/events", json={"events": events})
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["appended"] * 6
    assert [r["event_id"] for r in results] == [e["event_id"] for e in events]

    again = client.post("/v1/events", json={"events": events[:2]}).json()["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]

    fid = events[0]["frame_id"]
    frame = client.get(f"/v1/frames/{fid}").json()
    assert frame["state"] == "completed"
    assert frame["camera"] == "front-door"
    assert frame["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert frame["trace_url"] == "http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"
    assert [e["type"] for e in frame["events"]] == [e["type"] for e in events]
    assert [s["name"] for s in frame["stages"]] == [
        "captured",
        "queued",
        "processing",
        "processed",
        "published",
    ]
    assert all(s["duration_ms"] == 10.0 for s in frame["stages"])
    assert frame["detections"][0]["label"] == "person"
    assert frame["detections"][0]["box"] == [10, 20, 110, 220]
    assert frame["anomalies"] == []


def test_mixed_batch_stores_the_valid_events_and_names_bad_fields(client: TestClient) -> None:
    good = event("frame.captured", frame_id("cam", 1), T0)
    bad_type = event("frame.exploded", frame_id("cam", 2), T0)
    bad_version = event("frame.captured", frame_id("cam", 3), T0, schema_version=99)
    bad_frame = event("frame.captured", "cam:notanumber:000001", T0)
    bad_camera = event("frame.captured", frame_id("cam", 5), T0, camera="Front Door")
    bad_time = event("frame.captured", frame_id("cam", 4), T0, occurred_at="yesterday")
    reply = client.post(
        "/v1/events",
        json={"events": [good, bad_type, bad_version, bad_frame, bad_camera, bad_time, 7]},
    )
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert results[0]["status"] == "appended"
    fields = [r.get("field") for r in results[1:]]
    assert fields == ["type", "schema_version", "frame_id", "camera", "occurred_at", "envelope"]
    assert all(r["status"] == "rejected" and r["reason"] for r in results[1:])
    assert client.get(f"/v1/frames/{good['frame_id']}").status_code == 200
    assert client.get(f"/v1/frames/{frame_id('cam', 4)}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        (b'{"events": 3}', 422, "events"),
        (b"[1, 2]", 422, "events"),
        (b'{"evnts": []}', 422, "events"),
        (json.dumps({"events": [{}] * 1001}).encode(), 422, "events"),
        (b"\xff\xfe", 400, "body"),
    ],
)
def test_batch_level_bad_input(client: TestClient, body: bytes, status: int, field: str) -> None:
    reply = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == status
    assert reply.json()["error"]["field"] == field
    assert reply.json()["error"]["message"]


def test_body_over_the_size_limit(client: TestClient) -> None:
    padding = "x" * (70 * 1024)
    reply = client.post("/v1/events", json={"events": [], "padding": padding})
    assert reply.status_code == 413
    assert reply.json()["error"]["field"] == "body"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/frames/not-a-frame-id", "frame_id"),
        ("/v1/frames?camera=Bad%20Cam", "camera"),
        ("/v1/frames?state=exploded", "state"),
        ("/v1/frames?since=yesterday", "since"),
        ("/v1/frames?limit=0", "limit"),
        ("/v1/frames?cursor=garbage", "cursor"),
        ("/v1/cameras/BAD!/accounting", "camera"),
        ("/v1/events?after=-1", "after"),
    ],
)
def test_bad_queries_name_the_field(client: TestClient, path: str, field: str) -> None:
    reply = client.get(path)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["error"]["field"] == field


def test_frame_list_filters_and_paginates(client: TestClient) -> None:
    events = []
    for seq in range(7):
        at = T0 + timedelta(seconds=seq)
        events.append(event("frame.captured", frame_id("a", seq, at), at))
    events.append(event("frame.captured", frame_id("b", 0), T0))
    events.append(event("frame.skipped", frame_id("a", 0), T0 + timedelta(milliseconds=5)))
    client.post("/v1/events", json={"events": events}).raise_for_status()

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"camera": "a", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/frames", params=params).json()
        seen += [f["frame_id"] for f in page["frames"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7
    assert len(set(seen)) == 7
    assert seen[0] == frame_id("a", 6, T0 + timedelta(seconds=6))  # newest first
    skipped = client.get("/v1/frames", params={"state": "skipped"}).json()["frames"]
    assert [f["frame_id"] for f in skipped] == [frame_id("a", 0)]
    window = client.get(
        "/v1/frames",
        params={
            "camera": "a",
            "since": (T0 + timedelta(seconds=2)).isoformat(),
            "until": (T0 + timedelta(seconds=4)).isoformat(),
        },
    ).json()["frames"]
    assert len(window) == 2


def test_accounting_and_catch_up(client: TestClient) -> None:
    fid = frame_id("porch", 1)
    batch = [
        *full_life("porch", 2),
        event("frame.captured", fid, T0),
        event("frame.dropped", fid, T0 + timedelta(milliseconds=1)),
    ]
    client.post("/v1/events", json={"events": batch}).raise_for_status()
    acc = client.get("/v1/cameras/porch/accounting").json()
    assert acc["captured"] == 2
    assert acc["completed"] == 1
    assert acc["dropped"] == 1
    assert acc["dropped_by_reason"] == {"bus_full": 1}
    assert acc["balanced"] is True

    first = client.get("/v1/events", params={"after": 0, "limit": 5}).json()
    assert [e["position"] for e in first["events"]] == sorted(
        e["position"] for e in first["events"]
    )
    rest = client.get("/v1/events", params={"after": first["next"], "limit": 100}).json()
    assert len(first["events"]) + len(rest["events"]) == len(batch)
    assert rest["next"] == rest["events"][-1]["position"]


def test_illegal_transition_is_stored_as_an_anomaly(client: TestClient) -> None:
    fid = frame_id("yard", 1)
    batch = [
        event("frame.captured", fid, T0),
        event("frame.completed", fid, T0 + timedelta(milliseconds=1)),
        event("frame.queued", fid, T0 + timedelta(milliseconds=2)),
    ]
    results = client.post("/v1/events", json={"events": batch}).json()["results"]
    assert [r["status"] for r in results] == ["appended"] * 3
    frame = client.get(f"/v1/frames/{fid}").json()
    assert len(frame["anomalies"]) == 2
    assert len(frame["events"]) == 3
