"""The supervision rule: transient errors retry (degraded, still live), bugs restart, and only
a restart loop makes the process unhealthy; which errors count as transient."""

from __future__ import annotations

import asyncio

import pytest
import redis
from fastapi.testclient import TestClient

from detektor.kit.app import ServiceKit, create_app
from detektor.kit.supervision import Policy
from detektor.settings import Settings

pytestmark = pytest.mark.anyio
FAST = Policy(initial_s=0.01, max_s=0.02, settle_s=0.2, stable_s=0.6, crash_limit=3)


def _kit() -> ServiceKit:
    return ServiceKit("unit", Settings(), policy=FAST)


def _restarts(kit: ServiceKit, worker: str, cause: str) -> float:
    value = kit.metrics.registry.get_sample_value(
        "detektor_worker_restarts_total", {"worker": worker, "cause": cause}
    )
    return value or 0.0


class Flaky:
    """Fails ``times`` times with ``error``, then works until stopped."""

    def __init__(self, times: int, error: Exception) -> None:
        self.left, self.error = times, error
        self.starts = 0
        self.stop = asyncio.Event()

    async def __call__(self) -> None:
        self.starts += 1
        if self.left > 0:
            self.left -= 1
            raise self.error
        await self.stop.wait()


async def _until(predicate: object, timeout_s: float = 5.0) -> None:
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_transient_errors_retry_with_degraded_readiness_and_healthy_liveness() -> None:
    kit = _kit()
    worker = Flaky(3, redis.ConnectionError("Connection refused"))
    kit.liveness.beat("w", max_silence_s=0.05)  # silence while retrying must not count
    task = kit.supervisor.start("w", worker)
    await _until(lambda: worker.starts == 4)
    await asyncio.sleep(0.1)
    assert kit.liveness.problems() == []
    checks = {r.name: r for r in await kit.readiness.run()}
    assert not checks["workers"].ok
    assert "w retrying after ConnectionError: Connection refused" in checks["workers"].detail
    assert _restarts(kit, "w", "transient") == 3
    await _until(lambda: not kit.liveness.degraded())  # settled: ready again
    checks = {r.name: r for r in await kit.readiness.run()}
    assert checks["workers"].ok
    worker.stop.set()
    await task


async def test_a_crash_restarts_the_worker_and_the_process_stays_live() -> None:
    kit = _kit()
    worker = Flaky(1, ValueError("a bug"))
    task = kit.supervisor.start("w", worker)
    await _until(lambda: worker.starts == 2)
    assert kit.liveness.problems() == []
    assert _restarts(kit, "w", "crash") == 1
    worker.stop.set()
    await task


async def test_only_a_restart_loop_turns_liveness_unhealthy_and_it_recovers() -> None:
    kit = _kit()
    worker = Flaky(4, KeyError("boom"))
    task = kit.supervisor.start("w", worker)
    await _until(lambda: any("restart loop" in p for p in kit.liveness.problems()))
    assert "w died: restart loop, 3 crashes in a row: KeyError: 'boom'" in (kit.liveness.problems())
    # The supervisor keeps trying; once a run lasts stable_s the process is live again.
    await _until(lambda: worker.starts == 5)
    await _until(lambda: kit.liveness.problems() == [], timeout_s=3.0)
    worker.stop.set()
    await task


async def test_a_worker_that_returns_is_not_restarted() -> None:
    kit = _kit()
    starts = 0

    async def once() -> None:
        nonlocal starts
        starts += 1

    await kit.supervisor.start("w", once)
    assert starts == 1


async def test_cancelling_the_supervisor_cancels_the_worker() -> None:
    kit = _kit()
    worker = Flaky(0, ValueError())
    task = kit.supervisor.start("w", worker)
    await _until(lambda: worker.starts == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_healthz_and_readyz_show_a_retrying_worker() -> None:
    kit = _kit()
    kit.liveness.retrying("events-consumer", "retrying after OperationalError: gone")
    client = TestClient(create_app(kit))
    assert client.get("/healthz").status_code == 200
    reply = client.get("/readyz")
    assert reply.status_code == 503
    assert (
        "events-consumer retrying after OperationalError"
        in (reply.json()["checks"]["workers"]["detail"])
    )


async def test_a_worker_that_stops_beating_after_its_start_is_found_silent() -> None:
    kit = _kit()
    stop = asyncio.Event()

    async def beats_once() -> None:
        kit.liveness.beat("w", max_silence_s=0.3)
        await stop.wait()  # hangs: no more progress

    task = kit.supervisor.start("w", beats_once)
    await asyncio.sleep(FAST.settle_s + 0.2)  # the supervisor has marked the run settled
    await _until(lambda: any(p.startswith("w silent for") for p in kit.liveness.problems()))
    stop.set()
    await task


async def test_after_a_retry_the_silence_limit_counts_from_the_recovery() -> None:
    kit = _kit()
    kit.liveness.beat("w", max_silence_s=0.3)
    kit.liveness.retrying("w", "retrying after ConnectionError")
    await asyncio.sleep(0.4)
    assert kit.liveness.problems() == []  # silence while retrying is expected
    kit.liveness.recovered("w")
    assert kit.liveness.problems() == []
    await asyncio.sleep(0.4)
    assert kit.liveness.problems() == ["w silent for 0s (limit 0s)"]
