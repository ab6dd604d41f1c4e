"""Tracking against a PostgreSQL that drops it: every connection terminated mid-stream, and
the database refusing connections for a while (as during a server restart). The service must
ride it out with nothing lost and nothing stored twice (issue 11)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import psycopg
import redis

from support.postgres import ADMIN_URL
from support.process import ServiceProcess
from support.tracking import envelopes, stored_events
from support.waiting import wait_for


def _terminate(db_url: str) -> int:
    """pg_terminate_backend on every connection to the test's database; how many."""
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return sum(1 for (done,) in rows if done)


def _allow_connections(db_url: str, allowed: bool) -> None:
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')


def _metric(url: str, name: str, **labels: str) -> float | None:
    """The value of the first sample of ``name`` carrying ``labels``, from /metrics."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith((f"{name} ", f"{name}{{")) and all(w in line for w in wanted):
            return float(line.rsplit(" ", 1)[1])
    return None


def _feed(client: redis.Redis, stream: str, events: list[dict[str, object]], pace: int) -> None:
    for start in range(0, len(events), pace):
        pipe = client.pipeline(transaction=False)
        for env in events[start : start + pace]:
            pipe.xadd(stream, {"envelope": json.dumps(env)})
        pipe.execute()
        time.sleep(0.05)


def test_every_connection_terminated_mid_stream_loses_and_repeats_nothing(
    tmp_path: Path, backends: dict[str, str]
) -> None:
    db_url = backends["DETEKTOR_DATABASE_URL"]
    stream = backends["DETEKTOR_TRACKING__STREAM"]
    client = redis.Redis.from_url(backends["DETEKTOR_REDIS_URL"])
    events = envelopes(1000, camera="pgkill")  # 6,000 events
    env = {**backends, "DETEKTOR_TRACKING__READ_COUNT": "50"}
    with ServiceProcess("tracking", tmp_path, env) as svc:
        feeder = threading.Thread(target=_feed, args=(client, stream, events, 60))
        feeder.start()
        terminated = 0
        for threshold in (600, 2400, 4200):
            wait_for(lambda t=threshold: stored_events(db_url)[0] >= t, 60, f"{threshold}")
            terminated += _terminate(db_url)
        feeder.join()
        assert terminated >= 3, "the service held no connection to terminate"
        wait_for(lambda: stored_events(db_url)[0] >= 6000, 90, "every event after the kills")
        wait_for(lambda: client.xpending(stream, "tracking")["pending"] == 0, 30, "all acked")
        assert stored_events(db_url) == (6000, 6000)
        health = httpx.get(f"{svc.url}/healthz", timeout=5).json()
        assert health["problems"] == [], health
        # The jobs loop outlived the kills: its accounting gauge counts every frame.
        captured = {"camera": "pgkill", "outcome": "captured"}
        wait_for(
            lambda: _metric(svc.url, "detektor_accounting_frames", **captured) == 1000.0,
            20,
            "the accounting gauge refreshed after the kills",
        )
    client.close()


def test_a_database_refusing_connections_degrades_then_recovers_with_nothing_lost(
    tmp_path: Path, backends: dict[str, str]
) -> None:
    db_url = backends["DETEKTOR_DATABASE_URL"]
    stream = backends["DETEKTOR_TRACKING__STREAM"]
    client = redis.Redis.from_url(backends["DETEKTOR_REDIS_URL"])
    events = envelopes(200, camera="pgdown")
    first, second = events[:600], events[600:]
    with ServiceProcess("tracking", tmp_path, backends) as svc:
        _feed(client, stream, first, 100)
        wait_for(lambda: stored_events(db_url)[0] >= 600, 60, "the first events")
        try:
            _allow_connections(db_url, False)
            _terminate(db_url)
            _feed(client, stream, second, 100)

            def degraded() -> dict[str, object] | None:
                reply = httpx.get(f"{svc.url}/readyz", timeout=10)
                body: dict[str, object] = reply.json()
                return body if reply.status_code == 503 else None

            body = wait_for(degraded, 30, "/readyz to report the outage", every=0.5)
            assert "event_store" in body["failing"]  # type: ignore[operator]
            # Waiting for the database is not a reason to restart the process.
            for _ in range(6):
                assert httpx.get(f"{svc.url}/healthz", timeout=5).status_code == 200
                time.sleep(0.5)
            # The lag gauge keeps its own worker: it shows the backlog during the outage.
            wait_for(
                lambda: (
                    (_metric(svc.url, "detektor_tracking_consumer_pending_entries") or 0)
                    + (_metric(svc.url, "detektor_tracking_consumer_lag_entries") or 0)
                    > 0
                ),
                20,
                "the lag gauges to show the backlog",
            )
            # Each failed append is logged and counted as a retry, not a crash.
            wait_for(
                lambda: _metric(
                    svc.url,
                    "detektor_worker_restarts_total",
                    cause="transient",
                    worker="events-consumer",
                ),
                60,
                "a counted retry of the events consumer",
                every=0.5,
            )
        finally:
            _allow_connections(db_url, True)
        wait_for(lambda: stored_events(db_url)[0] >= 1200, 90, "the events held back")
        wait_for(
            lambda: httpx.get(f"{svc.url}/readyz", timeout=10).status_code == 200,
            60,
            "ready again",
            every=0.5,
        )
        assert stored_events(db_url) == (1200, 1200)
        assert httpx.get(f"{svc.url}/healthz", timeout=5).status_code == 200
    client.close()
