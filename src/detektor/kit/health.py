"""Liveness and readiness: what ``/healthz`` and ``/readyz`` actually check.

Liveness means the process loop is alive: the event loop answered, and every registered
worker has beaten its heartbeat recently and has not died. Readiness runs the service's
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

    def beat(self, worker: str, max_silence_s: float = 30.0) -> None:
        """Record that ``worker`` made progress; silence longer than the limit is unhealthy."""
        self._beats[worker] = (time.monotonic(), max_silence_s)

    def died(self, worker: str, reason: str) -> None:
        """Mark a worker as crashed: the process is no longer live."""
        self._dead[worker] = reason

    def problems(self) -> list[str]:
        now = time.monotonic()
        found = [f"{w} died: {reason}" for w, reason in self._dead.items()]
        for worker, (at, limit) in self._beats.items():
            if now - at > limit:
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
