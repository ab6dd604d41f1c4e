"""What was produced against what was stored. Before the services start, the test opens a
consumer group of its own on the lifecycle-events stream; a thread reads every entry with it
(and acknowledges it, so that tracking's trimming goes on as in production and Redis does not
grow) and records each event id, through Redis restarts. At the end capture is stopped, the
pipeline drains, and:

- every event produced is in the store (``GET /v1/events``), exactly once, and the store
  holds no event that was not produced;
- each camera's accounting balances, with nothing stale and nothing left in flight."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import redis

from stacktest.cameras import CAMERAS
from stacktest.output import Findings, say, step
from stacktest.stack import Stack

EVENTS = "detektor:events"
AUDIT_GROUP = "stack-test-audit"
DRAIN_TIMEOUT_S = 120.0


class Audit:
    """Every event id written to the stream, read by a consumer group of the test's own."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.ids: list[str] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-audit", daemon=True)
        with redis.Redis.from_url(redis_url) as r:  # before any producer starts
            r.xgroup_create(EVENTS, AUDIT_GROUP, id="0", mkstream=True)

    def start(self) -> Audit:
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        """Read to the end of the stream, then stop; the ids read, in stream order."""
        self._stop.set()
        self._thread.join(60)
        return self.ids

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            try:
                with redis.Redis.from_url(self.redis_url, socket_timeout=10) as r:
                    # after a reconnect, what was delivered but not acknowledged comes first
                    while self._read(r, "0") or self._read(r, ">", block_ms=1000):
                        pass
                    if stopping:
                        return
            except redis.RedisError:
                self.errors += 1  # Redis restarting (chaos): its AOF keeps the stream
                time.sleep(1)

    def _read(self, r: redis.Redis, start: str, block_ms: int | None = None) -> int:
        reply = r.xreadgroup(AUDIT_GROUP, "auditor", {EVENTS: start}, count=1000, block=block_ms)
        entries = reply[0][1] if reply else []
        for _, fields in entries:
            self.ids.append(json.loads(fields[b"envelope"])["event_id"])
        if entries:
            r.xack(EVENTS, AUDIT_GROUP, *[entry_id for entry_id, _ in entries])
        return len(entries)


def stored(stack: Stack) -> list[str]:
    ids: list[str] = []
    after = 0
    with stack.api() as api:
        while True:
            page = api.get("/v1/events", params={"after": after, "limit": 1000}).json()
            ids += [e["event_id"] for e in page["events"]]
            if not page["events"]:
                return ids
            after = page["next"]


def accounting(stack: Stack) -> dict[str, dict[str, Any]]:
    with stack.api() as api:
        return {c: api.get(f"/v1/cameras/{c}/accounting").json() for c in CAMERAS}


def drain(stack: Stack) -> None:
    """Stop capture, then wait until tracking has every event and no frame is in flight."""
    stack.compose("stop", "capture")
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    started = time.monotonic()
    while True:
        with redis.Redis.from_url(stack.redis_url) as r:
            groups = {g["name"].decode(): g for g in r.xinfo_groups(EVENTS)}
            tracking = groups.get("tracking", {})
            last = tracking.get("last-delivered-id", b"0-0").decode()
            # counted: Redis's own `lag` can stay wrong after its restart (group_lag)
            undelivered = len(r.xrange(EVENTS, min=f"({last}", count=1000))
        left = {
            "undelivered to tracking": undelivered,
            "pending in tracking": tracking.get("pending"),
            "frames in flight": sum(int(a["in_flight"]) for a in accounting(stack).values()),
        }
        if tracking and not any(left.values()):
            say(f"    drained in {time.monotonic() - started:.0f} s")
            return
        if time.monotonic() > deadline:
            say(f"    not drained in {DRAIN_TIMEOUT_S:.0f} s ({left}); checking anyway")
            return
        time.sleep(2)


def check_ledger(stack: Stack, audit: Audit, findings: Findings) -> None:
    with step("ledger: capture stopped, pipeline drained; every event and every frame"):
        drain(stack)
        made = audit.stop()
        kept = stored(stack)
        made_set, kept_set = set(made), set(kept)
        missing = made_set - kept_set
        extra = kept_set - made_set
        twice = len(kept) - len(kept_set)
        findings.check(
            "ledger: every event stored exactly once",
            not missing and not extra and twice == 0 and bool(made),
            f"{len(made_set)} events produced ({len(made) - len(made_set)} repeated writes in the "
            f"stream), {len(kept)} stored; missing {len(missing)}, unexpected {len(extra)}, "
            f"stored twice {twice} (the audit reader reconnected {audit.errors} times)",
        )
        for camera, acc in accounting(stack).items():
            ok = bool(acc["balanced"]) and not acc["stale"] and not acc["in_flight"]
            findings.check(
                f"ledger: accounting of {camera}",
                ok and acc["captured"] > 0,
                f"captured {acc['captured']} = completed {acc['completed']} + skipped "
                f"{acc['skipped']} + dropped {acc['dropped']} {acc['dropped_by_reason']} + "
                f"failed {acc['failed']} + in flight {acc['in_flight']}; stale {acc['stale']}, "
                f"orphans {acc['orphans']}",
            )
