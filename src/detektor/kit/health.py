"""Liveness and readiness: what ``/healthz`` and ``/readyz`` actually check.

Liveness means the process is making progress: the event loop answered, every registered
worker has beaten its heartbeat recently (a worker beats per unit of work, a camera per
frame), and none is in a restart loop. A worker waiting to retry a dependency is degraded,
which ``/readyz`` reports, not dead. Readiness runs the service's
named checks (a ping to Redis, a query to PostgreSQL, ...) concurrently, each with a
timeout, and reports every failing one by name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

ReadinessCheck = Callable[[], Awaitable[None]]


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    duration_ms: float


@dataclass
class Liveness:
    """Heartbeats of the service's long-running workers."""

    started_at: float = field(default_factory=time.monotonic)
    _beats: dict[str, tuple[float, float]] = field(default_factory=dict)
    _dead: dict[str, str] = field(default_factory=dict)
    _retrying: dict[str, str] = field(default_factory=dict)

    def beat(self, worker: str, max_silence_s: float = 30.0) -> None:
        """Record that ``worker`` made progress; silence longer than the limit is unhealthy."""
        self._beats[worker] = (time.monotonic(), max_silence_s)

    def last_beat(self, worker: str) -> float | None:
        """When ``worker`` last made progress (``time.monotonic()``), if ever."""
        beat = self._beats.get(worker)
        return beat[0] if beat else None

    def retrying(self, worker: str, reason: str) -> None:
        """``worker`` is waiting to be restarted: degraded, and its silence is expected."""
        self._retrying[worker] = reason

    def recovered(self, worker: str) -> None:
        """``worker`` runs again after a retry: its silence counts again, from now."""
        if self._retrying.pop(worker, None) is not None and worker in self._beats:
            self._beats[worker] = (time.monotonic(), self._beats[worker][1])

    def died(self, worker: str, reason: str) -> None:
        """Mark a worker as crash-looping: the process is no longer live."""
        self._dead[worker] = reason

    def revived(self, worker: str) -> None:
        """``worker`` has run long enough without crashing: the process is live again."""
        self._dead.pop(worker, None)

    def degraded(self) -> dict[str, str]:
        """Workers retrying after an error, with the reason (for ``/readyz``)."""
        return dict(self._retrying)

    def problems(self) -> list[str]:
        now = time.monotonic()
        found = [f"{w} died: {reason}" for w, reason in self._dead.items()]
        for worker, (at, limit) in self._beats.items():
            if worker not in self._retrying and now - at > limit:
                found.append(f"{worker} silent for {now - at:.0f}s (limit {limit:.0f}s)")
        return found

    def uptime_s(self) -> float:
        return time.monotonic() - self.started_at


@dataclass
class Readiness:
    """Named readiness checks; a check passes by returning and fails by raising."""

    timeout_s: float = 2.0
    checks: dict[str, ReadinessCheck] = field(default_factory=dict)

    def add(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check

    async def run(self) -> list[CheckResult]:
        return list(await asyncio.gather(*(self._one(n, c) for n, c in self.checks.items())))

    async def _one(self, name: str, check: ReadinessCheck) -> CheckResult:
        start = time.perf_counter()
        try:
            await asyncio.wait_for(check(), self.timeout_s)
            ok, detail = True, "ok"
        except TimeoutError:
            ok, detail = False, f"no answer within {self.timeout_s:g}s"
        except Exception as exc:  # a failing dependency is a result, not a crash
            ok, detail = False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return CheckResult(name, ok, detail, round((time.perf_counter() - start) * 1000, 2))
