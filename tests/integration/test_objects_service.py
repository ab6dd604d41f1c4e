"""``detektor serve objects`` as two real processes against the real Redis: one owner per
camera, a takeover when the owner dies (no frame written twice, none lost), frames put back in
capture order, unusable entries dead-lettered once while both instances go on, and a Redis
outage longer than the lease waited out without losing a frame; frames skipped for no motion
followed on the events stream."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from support.private_redis import PrivateRedis
from support.process import ServiceProcess
from support.redis import redis_namespace
from support.services import require_binary
from support.waiting import wait_for

pytestmark = pytest.mark.integration
TTL_S = 2
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def ns() -> Iterator[tuple[str, str]]:
    with redis_namespace() as found:
        yield found


def env(url: str, ns: str, name: str) -> dict[str, str]:
    return {
        "DETEKTOR_REDIS_URL": url,
        "DETEKTOR_DETECTOR__DETECTIONS_STREAM": f"{ns}:detections",
        "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
        "DETEKTOR_OBJECTS__STREAM": f"{ns}:objects",
        "DETEKTOR_OBJECTS__LEASE_TTL_S": str(TTL_S),
        "DETEKTOR_OBJECTS__REORDER_WINDOW_MS": "300",
        "DETEKTOR_OBJECTS__CONSUMER": name,
    }


def start_two(url: str, ns: str, tmp: Path) -> list[ServiceProcess]:
    both = [ServiceProcess("objects", tmp, env(url, ns, n)).start() for n in ("obj-a", "obj-b")]
    time.sleep(1.5)  # each reads from the stream's end, fixed just after it starts
    return both


def publish(
    client: redis.Redis, ns: str, seq: int, ms: int, traceparent: str = TRACEPARENT
) -> None:
    x = 100 + 8 * seq
    dets = [{"label": "person", "score": 0.9, "box": [x, 150, x + 120, 460]}]
    client.xadd(
        f"{ns}:detections",
        {
            "frame_id": f"yard:{ms}:{seq:06d}",
            "camera": "yard",
            "captured_ms": str(ms),
            "detections": json.dumps(dets),
            "traceparent": traceparent,
        },
    )


def entries(client: redis.Redis, ns: str) -> list[dict[str, str]]:
    return [
        {k.decode(): v.decode() for k, v in fields.items()}
        for _, fields in client.xrange(f"{ns}:objects")
    ]


def objects(client: redis.Redis, ns: str) -> list[dict[str, str]]:
    """The frames' entries."""
    return [e for e in entries(client, ns) if e.get("kind") != "objects"]


def frameless(client: redis.Redis, ns: str) -> list[dict[str, Any]]:
    """The object events that came with no frame, as the notifier reads them."""
    return [
        event
        for e in entries(client, ns)
        if e.get("kind") == "objects"
        for event in json.loads(e["objects"])
    ]


def events(client: redis.Redis, ns: str) -> list[dict[str, Any]]:
    return [json.loads(f[b"envelope"]) for _, f in client.xrange(f"{ns}:events")]


def owner(client: redis.Redis, ns: str, camera: str = "yard") -> str | None:
    value = client.get(f"{ns}:objects:lease:{camera}")
    return value.decode().split("/")[0] if isinstance(value, bytes) else None


def test_one_owner_per_camera_and_a_takeover_loses_no_frame(
    ns: tuple[str, str], tmp_path: Path
) -> None:
    url, prefix = ns
    client = redis.Redis.from_url(url)
    procs = start_two(url, prefix, tmp_path)
    try:
        t0 = int(time.time() * 1000)
        for seq in range(1, 11):  # a person walks for 2 s
            publish(client, prefix, seq, t0 + 200 * seq)
            time.sleep(0.05)
        wait_for(lambda: len(objects(client, prefix)) == 10, 10, "10 objects entries")
        first = owner(client, prefix)
        assert first in ("obj-a", "obj-b")
        got = objects(client, prefix)
        assert [int(e["frame_id"].split(":")[2]) for e in got] == list(range(1, 11))
        assert all(e["traceparent"] == TRACEPARENT and "late" not in e for e in got)
        with_objects = [json.loads(e["objects"]) for e in got if e["objects"] != "[]"]
        assert [o["type"] for batch in with_objects for o in batch] == ["object.started"]
        started = [e for e in events(client, prefix) if e["type"] == "object.started"]
        assert len(started) == 1
        assert started[0]["trace_id"] == TRACEPARENT.split("-")[1]

        dead, alive = procs if first == "obj-a" else procs[::-1]
        dead.stop(signal.SIGKILL)  # no release: the lease has to run out
        killed = time.monotonic()
        for seq in range(11, 41):  # 6 s more of the walk, at 5 frames a second
            publish(client, prefix, seq, t0 + 200 * seq)
            time.sleep(0.2)
        wait_for(lambda: len(objects(client, prefix)) == 40, 10, "40 objects entries")
        assert owner(client, prefix) != first
        frames = [int(e["frame_id"].split(":")[2]) for e in objects(client, prefix)]
        assert frames == list(range(1, 41))  # none twice, none lost, in capture order
        assert time.monotonic() - killed >= TTL_S
        # The new owner's tracker starts afresh: the walk goes on as a second object, and
        # the dead owner's object is ended by the new one (stored, and announced).
        started = [e for e in events(client, prefix) if e["type"] == "object.started"]
        assert len(started) == 2
        first_id, second_id = (e["data"]["object_id"] for e in started)
        assert first_id != second_id
        ended = [e for e in events(client, prefix) if e["type"] == "object.ended"]
        assert [e["data"]["object_id"] for e in ended] == [first_id]
        assert ended[0]["trace_id"] == TRACEPARENT.split("-")[1]
        assert ended[0]["occurred_at"] <= started[1]["occurred_at"]
        assert [(e["type"], e["data"]["object_id"]) for e in frameless(client, prefix)] == [
            ("object.ended", first_id)
        ]
        page = httpx.get(f"{alive.url}/metrics", timeout=5).text
        assert "detektor_objects_camera_takeovers_total 1.0" in page
        # A clean stop ends the objects it tracks and gives the lease back at once.
        assert alive.stop() == 0
        ended = [e for e in events(client, prefix) if e["type"] == "object.ended"]
        assert [e["data"]["object_id"] for e in ended] == [first_id, second_id]
        assert frameless(client, prefix)[-1]["data"]["object_id"] == second_id
        assert client.hlen(f"{prefix}:objects:open:yard") == 0  # nothing left open
        assert owner(client, prefix) is None
    finally:
        for proc in procs:
            proc.__exit__()
        client.close()


def test_out_of_order_frames_are_tracked_in_capture_order_and_bad_entries_dead_lettered(
    ns: tuple[str, str], tmp_path: Path
) -> None:
    url, prefix = ns
    client = redis.Redis.from_url(url)
    procs = start_two(url, prefix, tmp_path)
    try:
        t0 = int(time.time() * 1000)
        order = [1, 3, 2, 4, 6, 5, 7, 9, 8, 10]  # two detectors, one a frame behind
        bad: list[dict[str, str]] = [
            {"camera": "yard", "captured_ms": "1"},  # no frame id, no detections
            {"frame_id": f"yard:{t0}:000099", "camera": "yard", "detections": "[{"},
            {"frame_id": "x", "camera": "no such/camera", "detections": "[]"},
            {"frame_id": f"yard:{t0}:000098", "camera": "yard", "detections": '[{"box": 1}]'},
        ]
        not_hex = "00-" + "Z" * 32 + "-" + "0" * 16 + "-01"  # used as it is, never checked
        for i, seq in enumerate(order):
            publish(client, prefix, seq, t0 + 100 * seq, not_hex)
            if i < len(bad):
                client.xadd(f"{prefix}:detections", bad[i])  # type: ignore[arg-type]
        wait_for(lambda: len(objects(client, prefix)) == 10, 10, "10 objects entries")
        got = objects(client, prefix)
        assert [int(e["frame_id"].split(":")[2]) for e in got] == list(range(1, 11))
        assert not any("late" in e for e in got)
        started = [e for e in events(client, prefix) if e["type"] == "object.started"]
        assert len(started) == 1
        assert started[0]["trace_id"] is None
        dead = client.xrange(f"{prefix}:detections:objects-dead")
        assert len(dead) == 4  # once each, though both instances read every entry
        reasons = [f[b"dead_reason"].decode() for _, f in dead]
        assert any("missing field" in r for r in reasons)
        assert any("not valid JSON" in r for r in reasons)
        assert all(b"dead_source_id" in f for _, f in dead)
        for proc in procs:
            assert httpx.get(f"{proc.url}/healthz", timeout=5).status_code == 200
            assert httpx.get(f"{proc.url}/readyz", timeout=5).status_code == 200
            page = httpx.get(f"{proc.url}/metrics", timeout=5).text
            assert 'detektor_objects_late_frames_total{camera="yard"}' not in page
        # And they go on: the next frame is tracked.
        publish(client, prefix, 11, t0 + 1100)
        wait_for(lambda: len(objects(client, prefix)) == 11, 10, "the 11th objects entry")
    finally:
        for proc in procs:
            proc.__exit__()
        client.close()


def test_a_redis_outage_longer_than_the_lease_loses_no_frame(tmp_path: Path) -> None:
    """The owner stops processing when its lease could have run out, and once Redis is back
    takes the camera again from its checkpoint."""
    server = PrivateRedis(require_binary("redis-server", "redis-server"), tmp_path, aof=True)
    server.start()
    url = f"redis://127.0.0.1:{server.port}/0"
    client = redis.Redis.from_url(url)
    proc = ServiceProcess("objects", tmp_path, env(url, "t", "obj-a")).start()
    try:
        time.sleep(1.5)
        t0 = int(time.time() * 1000)
        for seq in range(1, 6):
            publish(client, "t", seq, t0 + 200 * seq)
        wait_for(lambda: len(objects(client, "t")) == 5, 10, "5 objects entries")
        server.stop()
        time.sleep(TTL_S + 1)
        answer = httpx.get(f"{proc.url}/readyz", timeout=5)
        assert answer.status_code == 503
        assert answer.json()["failing"] == ["redis"]
        server.start()
        for seq in range(6, 16):
            publish(client, "t", seq, t0 + 200 * seq)
            time.sleep(0.1)
        wait_for(lambda: len(objects(client, "t")) == 15, 20, "15 objects entries")
        frames = [int(e["frame_id"].split(":")[2]) for e in objects(client, "t")]
        assert frames == list(range(1, 16))
        assert httpx.get(f"{proc.url}/healthz", timeout=5).status_code == 200
        assert "lost the lease" in proc.output() or "ran out" in proc.output()
    finally:
        proc.__exit__()
        client.close()
        server.stop()


def test_frames_skipped_for_no_motion_keep_a_still_person_an_object(
    ns: tuple[str, str], tmp_path: Path
) -> None:
    """Capture's ``frame.skipped`` events, read from the events stream, reach the owner's
    stage: the person stays and becomes stationary instead of ending for lack of frames."""
    url, prefix = ns
    settings = {"DETEKTOR_OBJECTS__STATIONARY_AFTER_S": "1"}  # and max_disappeared_s 2
    proc = ServiceProcess("objects", tmp_path, {**env(url, prefix, "obj-a"), **settings}).start()
    client = redis.Redis.from_url(url)
    try:
        time.sleep(1.5)
        t0 = int(time.time() * 1000)
        for seq in range(1, 6):
            publish(client, prefix, seq, t0 + 200 * seq)
        wait_for(lambda: len(objects(client, prefix)) == 5, 10, "5 objects entries")
        for seq in range(6, 26):  # 4 s in which nothing moves
            frame_id = FrameId.make("yard", t0 + 200 * seq, seq)
            skipped = Envelope.new(
                EventType.SKIPPED, frame_id, {"reason": "no_motion"}, frame_id.captured_at
            )
            client.xadd(f"{prefix}:events", {"envelope": json.dumps(skipped.to_dict())})
            time.sleep(0.2)
        time.sleep(1.5)

        def kinds() -> list[str]:
            return [e["type"] for e in events(client, prefix) if e["type"].startswith("object.")]

        wait_for(lambda: "object.updated" in kinds(), 10, "object.updated")
        assert kinds() == ["object.started", "object.updated"]
        updated = next(e for e in events(client, prefix) if e["type"] == "object.updated")
        assert [c["kind"] for c in updated["data"]["changes"]] == ["stationary"]
    finally:
        proc.__exit__()
        client.close()
