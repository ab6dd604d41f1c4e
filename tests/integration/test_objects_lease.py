"""Camera leases against the real Redis: one owner at a time, takeover after the ttl, only the
owner renews or releases, and a lease lost (taken over, or run out while Redis is away) is said;
the fenced write of a frame and its checkpoint, and dead letters written once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from detektor.services.objects.lease import CameraLeases
from detektor.services.objects.output import Checkpoint, ObjectsOutput
from support.redis import redis_namespace

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
TTL = 0.6


@pytest.fixture
async def redis_ns() -> AsyncIterator[tuple[Redis, str]]:
    with redis_namespace() as (url, ns):
        client = Redis.from_url(url)
        try:
            yield client, ns
        finally:
            await client.aclose()


async def test_only_one_owner_gets_a_camera(redis_ns: tuple[Redis, str]) -> None:
    redis, ns = redis_ns
    a, b = CameraLeases(redis, ns, "a", TTL), CameraLeases(redis, ns, "b", TTL)
    assert await a.acquire("yard")
    assert not await b.acquire("yard")
    assert await b.acquire("porch")
    assert a.owned() == {"yard"}
    assert b.owned() == {"porch"}
    assert await redis.get(f"{ns}:lease:yard") == b"a"
    assert await a.acquire("yard")  # ours already: still ours


async def test_the_other_takes_over_when_the_owner_stops_renewing(
    redis_ns: tuple[Redis, str],
) -> None:
    redis, ns = redis_ns
    a, b = CameraLeases(redis, ns, "a", TTL), CameraLeases(redis, ns, "b", TTL)
    assert await a.acquire("yard")
    for _ in range(4):  # renewing at ttl/3 keeps it well past the ttl
        await asyncio.sleep(a.renew_interval_s)
        assert await a.renew_all() == []
        assert not await b.acquire("yard")
    await asyncio.sleep(TTL + 0.1)  # a stopped renewing (it died)
    assert not a.holds("yard")  # its local deadline passed no later than Redis's expiry
    assert await b.acquire("yard")
    assert await a.renew_all() == ["yard"]  # a comes back: it hears that it lost the camera
    assert a.owned() == set()
    assert await redis.get(f"{ns}:lease:yard") == b"b"


async def test_a_non_owner_can_neither_renew_nor_release(redis_ns: tuple[Redis, str]) -> None:
    redis, ns = redis_ns
    a, b = CameraLeases(redis, ns, "a", 30), CameraLeases(redis, ns, "b", 30)
    assert await a.acquire("yard")
    b._deadlines["yard"] = b.clock() + 30  # b wrongly believes it owns the camera
    assert await b.renew_all() == ["yard"]
    b._deadlines["yard"] = b.clock() + 30
    await b.release_all()
    assert await redis.get(f"{ns}:lease:yard") == b"a"
    assert 0 < await redis.pttl(f"{ns}:lease:yard") <= 30_000
    await a.release_all()
    assert await redis.exists(f"{ns}:lease:yard") == 0
    assert await b.acquire("yard")  # released: free at once


async def test_a_lease_runs_out_locally_while_redis_is_away(redis_ns: tuple[Redis, str]) -> None:
    redis, ns = redis_ns
    gone = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens
    now = [100.0]
    a = CameraLeases(redis, ns, "a", TTL, clock=lambda: now[0])
    assert await a.acquire("yard")
    a.redis = gone
    a._renew = gone.register_script(a._renew.script)
    now[0] += TTL / 3
    assert await a.renew_all() == []  # Redis away, but the lease has time left: still ours
    assert a.holds("yard")
    now[0] += TTL
    assert await a.renew_all() == ["yard"]  # by now another may have it: stop processing
    assert not a.holds("yard")
    await gone.aclose()
    # Redis is back and the key expired: taking the camera again works.
    a.redis, a._renew = redis, redis.register_script(a._renew.script)
    await asyncio.sleep(TTL + 0.1)
    assert await a.acquire("yard")


async def test_a_frame_is_written_only_under_the_lease_and_moves_the_checkpoint(
    redis_ns: tuple[Redis, str],
) -> None:
    redis, ns = redis_ns
    a, b = CameraLeases(redis, ns, "a", 30), CameraLeases(redis, ns, "b", 30)
    out_a = ObjectsOutput(redis, ns, f"{ns}:dead", a.key, "a")
    out_b = ObjectsOutput(redis, ns, f"{ns}:dead", b.key, "b")
    assert await a.acquire("yard")
    first = await out_a.checkpoint("yard", "5-0")
    assert first == Checkpoint("5-0", None)
    fields = {"frame_id": "yard:1000:000001", "objects": "[]"}
    assert await out_a.write_frame("yard", b"6-0", fields, Checkpoint("7-0", (1000, 1)))
    # A retry whose first reply was lost adds nothing.
    assert await out_a.write_frame("yard", b"6-0", fields, Checkpoint("7-0", (1000, 1)))
    fenced = Checkpoint("9-0", (2000, 2))
    assert not await out_b.write_frame("yard", b"8-0", fields, fenced)
    entries = await redis.xrange(ns)
    assert [e[1] for e in entries] == [{b"frame_id": b"yard:1000:000001", b"objects": b"[]"}]
    assert await out_b.checkpoint("yard", "0-1") == Checkpoint("7-0", (1000, 1))
    # Every instance reads every entry: a dead letter is written by the first to claim it.
    bad = {b"camera": b"\xff"}
    assert await out_a.dead_letter(b"3-0", bad, "not UTF-8")
    assert not await out_b.dead_letter(b"3-0", bad, "not UTF-8")
    dead = await redis.xrange(f"{ns}:dead")
    assert len(dead) == 1
    assert dead[0][1][b"dead_reason"] == b"not UTF-8"


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b'{"from": 5, "key": null}', b'{"from": "1-0", "key": [1]}', b"{}"]
)
def test_an_unreadable_checkpoint_counts_as_none(raw: bytes) -> None:
    assert Checkpoint.parse(raw) is None
