"""The tracking service as a real process on the real PostgreSQL and Redis."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import redis

from support.process import ServiceProcess
from support.tracking import envelopes, stored_events
from support.waiting import wait_for


def test_sigkill_mid_stream_then_restart_stores_each_event_once(
    tmp_path: Path, backends: dict[str, str]
) -> None:
    events = envelopes(1667)[:10_000]
    client = redis.Redis.from_url(backends["DETEKTOR_REDIS_URL"])
    stream = backends["DETEKTOR_TRACKING__STREAM"]
    pipe = client.pipeline(transaction=False)
    for env in events:
        pipe.xadd(stream, {"envelope": json.dumps(env)})
    pipe.execute()
    db_url = backends["DETEKTOR_DATABASE_URL"]
    env = {**backends, "DETEKTOR_TRACKING__READ_COUNT": "100"}

    first = ServiceProcess("tracking", tmp_path, env).start()
    wait_for(lambda: stored_events(db_url)[0] >= 1500, 60, "the first events")
    first.stop(signal.SIGKILL)
    stored_at_kill = stored_events(db_url)[0]
    assert stored_at_kill < 10_000, "the kill should land mid-stream"

    with ServiceProcess("tracking", tmp_path, env) as second:
        wait_for(lambda: stored_events(db_url)[0] >= 10_000, 120, "every event")
        wait_for(
            lambda: client.xpending(stream, "tracking")["pending"] == 0, 30, "all acknowledged"
        )
        metrics = httpx.get(f"{second.url}/metrics", timeout=5).text
    total, distinct = stored_events(db_url)
    assert (total, distinct) == (10_000, 10_000)
    assert "detektor_tracking_events_appended_total" in metrics

    replay = subprocess.run(
        [sys.executable, "-m", "detektor.cli", "tracking", "replay", "--dry-run"],
        env={**first.env, "DETEKTOR_DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr
    assert "checked 1,667 frames" in replay.stdout
    assert ": 0 differ" in replay.stdout, replay.stdout
    client.close()


def test_unparsable_entries_are_dead_lettered_and_valid_ones_stored(
    tmp_path: Path, backends: dict[str, str]
) -> None:
    client = redis.Redis.from_url(backends["DETEKTOR_REDIS_URL"])
    stream = backends["DETEKTOR_TRACKING__STREAM"]
    good = envelopes(1)[0]
    bad_type = {**envelopes(1)[0], "type": "frame.exploded"}
    client.xadd(stream, {"envelope": json.dumps(good)})
    client.xadd(stream, {"envelope": b"{not json"})
    client.xadd(stream, {"something": "else"})
    client.xadd(stream, {"envelope": json.dumps(bad_type)})
    with ServiceProcess("tracking", tmp_path, backends) as svc:
        dead_stream = backends["DETEKTOR_TRACKING__DEAD_LETTER_STREAM"]
        wait_for(lambda: client.xlen(dead_stream) == 3, 30, "three dead letters")
        wait_for(lambda: stored_events(backends["DETEKTOR_DATABASE_URL"])[0] == 1, 30, "good")
        reasons = sorted(f[b"dead_reason"].decode() for _, f in client.xrange(dead_stream))
        assert any("not valid JSON" in r for r in reasons)
        assert any("missing field 'envelope'" in r for r in reasons)
        assert any("type" in r and "frame.exploded" in r for r in reasons)
        assert httpx.get(f"{svc.url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{svc.url}/readyz", timeout=5).json()["status"] == "ready"
        frame = httpx.get(f"{svc.url}/v1/frames/{good['frame_id']}", timeout=5).json()
        assert frame["state"] == "captured"
    client.close()


def test_readiness_names_redis_when_it_is_unreachable(
    tmp_path: Path, backends: dict[str, str]
) -> None:
    env = {**backends, "DETEKTOR_REDIS_URL": "redis://127.0.0.1:1/0"}
    with ServiceProcess("tracking", tmp_path, env) as svc:
        reply = httpx.get(f"{svc.url}/readyz", timeout=10)
        assert reply.status_code == 503
        body = reply.json()
        assert sorted(body["failing"]) == ["redis", "workers"]
        # The consumer waits for Redis with backoff: degraded, named, and still live.
        assert "events-consumer retrying after" in body["checks"]["workers"]["detail"]
        assert httpx.get(f"{svc.url}/healthz", timeout=5).status_code == 200
        # The HTTP API keeps serving from the store while Redis is away.
        assert httpx.get(f"{svc.url}/v1/events", timeout=5).status_code == 200
