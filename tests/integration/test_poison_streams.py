"""Poison entries on each stream go to its dead-letter stream; the rest is processed.

One test per stream consumer, each a real ``detektor serve`` process on the real servers,
each fed one batch where poison sits between valid entries: the poison lands in
``<stream>:dead`` with a reason, the valid entries around it are stored, processed or
published, the service stays healthy and keeps consuming, and after a restart it does not
read the poison again (nothing stays pending).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from detektor.adapters.stores import open_event_store
from support.frames import message
from support.object_events import started_in
from support.process import ServiceProcess
from support.redis import redis_namespace
from support.services import require_port
from support.waiting import wait_for

pytestmark = pytest.mark.integration
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
# Recent, so that the service's retention (7 days by default) keeps them.
RECENT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
HUGE_INT = "9" * 5000  # beyond Python's 4,300-digit int conversion limit: json.loads raises


def dead_reasons(r: redis.Redis, stream: str) -> list[str]:
    return [f[b"dead_reason"].decode() for _, f in r.xrange(stream)]


def nothing_pending(r: redis.Redis, stream: str, group: str) -> bool:
    return int(r.xpending(stream, group)["pending"]) == 0


def healthy(service: ServiceProcess) -> bool:
    return httpx.get(f"{service.url}/healthz", timeout=5).status_code == 200


# --- the lifecycle-events stream, read by tracking ------------------------------------------


def captured(seq: int, **extra: object) -> dict[str, object]:
    at = RECENT + timedelta(seconds=seq)
    return {
        "event_id": str(uuid.uuid4()),
        "type": "frame.captured",
        "frame_id": f"cam:{int(at.timestamp() * 1000)}:{seq:06d}",
        "camera": "cam",
        "occurred_at": at.isoformat(),
        "schema_version": 1,
        "data": {"width": 640, "height": 480, "pts": seq, "source": "synthetic://", **extra},
    }


def stored_frames(db_url: str) -> set[str]:
    with psycopg.connect(db_url) as conn:
        return {row[0] for row in conn.execute("SELECT frame_id FROM detektor.events")}


def test_tracking_dead_letters_what_the_store_refuses_and_stores_the_rest_of_the_batch(
    tmp_path: Path, backends: dict[str, str]
) -> None:
    db_url = backends["DETEKTOR_DATABASE_URL"]
    store = open_event_store(db_url)
    store.migrate()
    store.close()
    # A refusal by the database that no validation at the door can foresee: a constraint.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE detektor.events ADD CONSTRAINT no_poison CHECK (NOT data ? 'poison')"
        )
    r = redis.Redis.from_url(backends["DETEKTOR_REDIS_URL"])
    stream = backends["DETEKTOR_TRACKING__STREAM"]
    dead = backends["DETEKTOR_TRACKING__DEAD_LETTER_STREAM"]
    good = [captured(n) for n in range(4)]
    surrogate = json.dumps(captured(10, note="\ud800"))  # valid JSON; jsonb refuses it
    huge = json.dumps(captured(11, note=0)).replace('"note": 0', f'"note": {HUGE_INT}')
    constrained = json.dumps(captured(12, poison=True))
    # All in the stream before the service starts: one batch, poison between valid events.
    ids = [
        r.xadd(stream, {"envelope": raw if isinstance(raw, str) else json.dumps(raw)})
        for raw in (good[0], surrogate, good[1], huge, good[2], constrained, good[3])
    ]

    with ServiceProcess("tracking", tmp_path, backends) as svc:
        wait_for(lambda: len(dead_reasons(r, dead)) >= 3, 30, "three dead letters")
        want = {str(e["frame_id"]) for e in good}
        wait_for(lambda: stored_frames(db_url) == want, 30, "the valid events around them")
        reasons = {f[b"dead_source_id"]: f[b"dead_reason"].decode() for _, f in r.xrange(dead)}
        assert reasons.keys() == {ids[1], ids[3], ids[5]}, reasons
        assert "4300 digits" in reasons[ids[3]]
        assert "no_poison" in reasons[ids[5]]
        assert reasons[ids[1]]  # refused by jsonb today, or at the door by stricter validation
        wait_for(lambda: nothing_pending(r, stream, "tracking"), 10, "everything acknowledged")
        # Still consuming.
        later = captured(20)
        r.xadd(stream, {"envelope": json.dumps(later)})
        wait_for(lambda: str(later["frame_id"]) in stored_frames(db_url), 30, "a later event")
        assert healthy(svc)

    with ServiceProcess("tracking", tmp_path, backends) as svc:
        after = captured(21)
        r.xadd(stream, {"envelope": json.dumps(after)})
        wait_for(lambda: str(after["frame_id"]) in stored_frames(db_url), 30, "after restart")
        assert len(dead_reasons(r, dead)) == 3  # the poison was not read again
        # Stored commits before the ack: wait for it rather than race it.
        wait_for(lambda: nothing_pending(r, stream, "tracking"), 10, "the later one acked")
        assert healthy(svc)
    r.close()


# --- the frames stream, read by the detector ------------------------------------------------


def lifecycle(r: redis.Redis, stream: str) -> list[dict[str, Any]]:
    return [json.loads(f[b"envelope"]) for _, f in r.xrange(stream)]


def types_of(events: list[dict[str, Any]], frame_id: str) -> list[str]:
    return [e["type"] for e in events if e["frame_id"] == frame_id]


def test_detector_dead_letters_poison_frames_and_processes_the_rest(tmp_path: Path) -> None:
    with redis_namespace() as (r_url, ns):
        env = {
            "DETEKTOR_REDIS_URL": r_url,
            "DETEKTOR_BUS__STREAM": f"{ns}:frames",
            "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
            "DETEKTOR_DETECTOR__DETECTIONS_STREAM": f"{ns}:detections",
            "DETEKTOR_PROCESSOR__CONSUMER": "detector-1",
            "DETEKTOR_PROCESSOR__MAX_WAIT_MS": "200",
            # The frames are published before the detector starts (seconds); this test is
            # about poison, not about shedding them by age (test_shedding_buses.py).
            "DETEKTOR_PROCESSOR__MAX_FRAME_AGE_MS": "0",
        }
        r = redis.Redis.from_url(r_url)
        frames, dead = f"{ns}:frames", f"{ns}:frames:dead"
        good = [message(seq=n) for n in (1, 3, 5)]
        far_future = {**message(seq=2).to_fields(), b"captured_ms": b"10000000000000000"}
        garbage_jpeg = message(seq=4, jpeg=b"\xff\xd8 this is no JPEG \xff\xd9").to_fields()
        batch = [good[0].to_fields(), far_future, good[1].to_fields(), garbage_jpeg]
        batch.append(good[2].to_fields())
        ids = [r.xadd(frames, fields) for fields in batch]  # type: ignore[arg-type]
        poison = {ids[1]: far_future, ids[3]: garbage_jpeg}

        with ServiceProcess(
            "detector",
            tmp_path,
            env,
        ) as svc:
            wait_for(lambda: r.xlen(dead) >= 2, 60, "two dead letters")
            for m in good:
                fid = str(m.frame_id)
                wait_for(
                    lambda f=fid: "frame.processed" in types_of(lifecycle(r, f"{ns}:events"), f),
                    60,
                    f"{fid} processed",
                )
            reasons = {f[b"dead_source_id"]: f[b"dead_reason"].decode() for _, f in r.xrange(dead)}
            assert reasons.keys() == poison.keys(), reasons
            assert "captured_ms" in reasons[ids[1]]
            assert "undecodable JPEG" in reasons[ids[3]]
            events = lifecycle(r, f"{ns}:events")
            for fields in poison.values():
                assert types_of(events, fields[b"frame_id"].decode()) == ["frame.failed"]
            detected = {f[b"frame_id"].decode() for _, f in r.xrange(f"{ns}:detections")}
            assert detected == {str(m.frame_id) for m in good}
            assert r.xlen(frames) == 0  # everything acknowledged (and deleted)
            # Still consuming.
            later = message(seq=6)
            r.xadd(frames, later.to_fields())  # type: ignore[arg-type]
            wait_for(
                lambda: (
                    "frame.processed" in types_of(lifecycle(r, f"{ns}:events"), str(later.frame_id))
                ),
                60,
                "a later frame",
            )
            assert healthy(svc)

        with ServiceProcess("detector", tmp_path, env) as svc:
            after = message(seq=7)
            r.xadd(frames, after.to_fields())  # type: ignore[arg-type]
            wait_for(
                lambda: (
                    "frame.processed" in types_of(lifecycle(r, f"{ns}:events"), str(after.frame_id))
                ),
                60,
                "after restart",
            )
            assert r.xlen(dead) == 2  # the poison was not read again
            assert healthy(svc)
        r.close()


# --- the detections stream, read by the notifier --------------------------------------------


def detection_entry(
    fid: str, detections: str, camera: str | None = None, objects: str | None = None
) -> dict[str, str]:
    entry = {
        "frame_id": fid,
        "camera": camera or fid.split(":")[0],
        "captured_ms": fid.split(":")[1],
        "detections": detections,
        "traceparent": TRACEPARENT,
    }
    if objects is not None:
        entry["objects"] = objects
    return entry


def person_entry(fid: str, track_id: int) -> dict[str, str]:
    """A frame whose person the objects stage has just confirmed: one object.started."""
    person = '[{"label": "person", "score": 0.9, "box": [10, 10, 50, 200]}]'
    started = started_in(fid, track_id).to_dict()
    return detection_entry(fid, person, objects=json.dumps([started]))


def recent_frame(camera: str, seq: int) -> str:
    ms = int((datetime.now(UTC) - timedelta(milliseconds=500)).timestamp() * 1000)
    return f"{camera}:{ms}:{seq:06d}"


class Subscriber:
    """Records what is published under one topic root, and clears what it left retained."""

    def __init__(self, root: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.root = root
        self.seen: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda _c, _u, m: self.seen.append((m.topic, m.payload, m.retain))
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()
        self.client.subscribe(f"{root}/#", qos=1)

    def frames(self) -> list[str]:
        """Frame ids of the object events published for the front door."""
        topic = f"{self.root}/detektor/front-door/events"
        return [
            json.loads(p)["after"]["frame_id"] for t, p, _ in list(self.seen) if t == topic and p
        ]

    def close(self) -> None:
        # Live deliveries do not carry the retain flag: clear every topic seen.
        for topic in {t for t, _, _ in list(self.seen)}:
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()


def notifier_batch() -> tuple[list[str], list[tuple[dict[str, Any], str]]]:
    """Valid front-door entries (each a new person), and poison between them with the reason
    expected."""
    person = '[{"label": "person", "score": 0.9, "box": [10, 10, 50, 200]}]'
    good = [recent_frame("front-door", n) for n in (1, 5, 9)]
    door = [recent_frame("front-door", n) for n in range(10)]
    ok = json.dumps([started_in(door[0], 99).to_dict()])
    other_camera = json.dumps([started_in(recent_frame("garage", 1)).to_dict()])
    lifecycle = json.dumps([{**json.loads(ok)[0], "type": "frame.completed", "data": {}}])
    no_data = json.dumps([{**json.loads(ok)[0], "data": {"object_id": "front-door:1:1"}}])
    return good, [
        (person_entry(good[0], 1), ""),
        (detection_entry(door[2], person, objects="{not json"), "objects is not valid JSON"),
        (detection_entry(door[2], person, objects="{}"), "objects must be a JSON list"),
        (detection_entry(door[3], person, objects=other_camera), "objects[0]: camera 'garage'"),
        (detection_entry(door[3], person, objects=lifecycle), "objects[0]: type 'frame.completed'"),
        (detection_entry(door[3], person, objects=no_data), "objects[0]: data."),
        (detection_entry(door[3], person, objects="[" * 50_000), "objects is not valid JSON"),
        (detection_entry(door[3], person, objects=ok.replace("person", "\\ud800")), "objects[0]"),
        (detection_entry(door[2], "{not json"), "not valid JSON"),
        (detection_entry(door[3], person.replace("0.9", "9" * 400)), "score"),
        (detection_entry(door[4], person.replace("0.9", HUGE_INT)), "not valid JSON"),
        (person_entry(good[1], 2), ""),
        (detection_entry(door[6], "[" * 50_000), "not valid JSON"),
        (detection_entry(door[7], person.replace("person", "\\ud800")), "label"),
        (detection_entry(recent_frame("garage", 8), person), "unknown camera 'garage'"),
        ({"frame_id": recent_frame("front-door", 10)}, "missing field"),
        ({"frame_id": b"\xff\xfe", "detections": b"\xed\xa0\x80"}, "not UTF-8"),
        (person_entry(good[2], 3), ""),
    ]


def test_notifier_dead_letters_unusable_detections_and_publishes_the_rest(
    tmp_path: Path,
) -> None:
    require_port("127.0.0.1", 1883, "Mosquitto")
    root = f"test-{uuid.uuid4().hex[:10]}"
    with redis_namespace() as (r_url, ns):
        env = {
            "DETEKTOR_MQTT_URL": "mqtt://127.0.0.1:1883",
            "DETEKTOR_REDIS_URL": r_url,
            "DETEKTOR_TRACKING__STREAM": f"{ns}:events",
            "DETEKTOR_NOTIFIER__DETECTIONS_STREAM": f"{ns}:detections",
            "DETEKTOR_NOTIFIER__DISCOVERY_PREFIX": f"{root}/homeassistant",
            "DETEKTOR_NOTIFIER__STATE_PREFIX": f"{root}/detektor",
            "DETEKTOR_NOTIFIER__CLIENT_ID": f"notifier-{root}",
            "DETEKTOR_NOTIFIER__CONSUMER": "notifier-1",
            "DETEKTOR_NOTIFIER__CAMERAS": json.dumps({"front-door": {"labels": ["person"]}}),
        }
        r = redis.Redis.from_url(r_url)
        stream, dead = f"{ns}:detections", f"{ns}:detections:dead"
        good, batch = notifier_batch()
        ids = [r.xadd(stream, fields) for fields, _ in batch]
        expected = {eid: reason for eid, (_, reason) in zip(ids, batch, strict=True) if reason}
        sub = Subscriber(root)
        try:
            with ServiceProcess("notifier", tmp_path, env) as svc:
                wait_for(lambda: r.xlen(dead) >= len(expected), 30, "the dead letters")
                wait_for(lambda: sorted(sub.frames()) == sorted(good), 30, "valid detections")
                reasons = {f[b"dead_source_id"]: f[b"dead_reason"] for _, f in r.xrange(dead)}
                assert reasons.keys() == expected.keys(), reasons
                for eid, reason in expected.items():
                    assert reason in reasons[eid].decode(), (reason, reasons[eid])
                wait_for(lambda: nothing_pending(r, stream, "notifier"), 10, "all acknowledged")
                # Still consuming.
                later = recent_frame("front-door", 11)
                r.xadd(stream, person_entry(later, 11))  # type: ignore[arg-type]
                wait_for(lambda: later in sub.frames(), 30, "a later detection")
                assert healthy(svc)

            with ServiceProcess("notifier", tmp_path, env) as svc:
                after = recent_frame("front-door", 12)
                r.xadd(stream, person_entry(after, 12))  # type: ignore[arg-type]
                wait_for(lambda: after in sub.frames(), 30, "after restart")
                assert r.xlen(dead) == len(expected)  # the poison was not read again
                # Published before the ack: wait for it rather than race it.
                wait_for(lambda: nothing_pending(r, stream, "notifier"), 10, "the later one acked")
                assert healthy(svc)
        finally:
            sub.close()
            r.close()
