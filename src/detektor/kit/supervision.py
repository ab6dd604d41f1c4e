"""The supervision rule for a service's long-running workers, written once.

A worker is an ``async`` function that runs until it is stopped. The supervisor runs it as a
task and decides what an exception means:

- **Transient** (a dependency is unreachable for now: a connection, operational or timeout
  error of psycopg, redis, sqlite or the network): the worker is restarted after a backoff
  with jitter, each retry is logged and counted, and ``/readyz`` reports the worker as
  degraded until it has run for ``settle_s`` again. ``/healthz`` stays 200: waiting for a
  database is not a reason to restart the process.
- **A bug** (anything else): the worker is restarted with backoff too. Only a restart loop,
  ``crash_limit`` crashes in a row each within ``stable_s`` of its start, turns ``/healthz``
  to 503, so an orchestrator restarts the process; the supervisor keeps trying meanwhile and
  clears the mark once a run lasts ``stable_s``.

A worker that returns has finished (a file played to its end); it is not restarted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from detektor.kit.backoff import Backoff
from detektor.kit.health import Liveness, Readiness
from detektor.kit.metrics import Metrics
from detektor.kit.transient import is_transient

log = logging.getLogger(__name__)
Worker = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Policy:
    initial_s: float = 0.5
    max_s: float = 30.0
    settle_s: float = 5.0  # a restarted worker that runs this long is no longer degraded
    stable_s: float = 60.0  # a run this long ends a crash streak
    crash_limit: int = 5


class Supervisor:
    """Starts workers under the supervision rule; one per service, owned by the kit."""

    def __init__(
        self, liveness: Liveness, readiness: Readiness, metrics: Metrics, policy: Policy
    ) -> None:
        self.liveness = liveness
        self.policy = policy
        self._restarts = metrics.counter(
            "detektor_worker_restarts_total",
            "Workers restarted by the supervisor, by cause (transient = a dependency was "
            "unreachable, crash = any other exception)",
            ["worker", "cause"],
        )
        self._degraded = metrics.gauge(
            "detektor_worker_degraded",
            "1 while a worker is retrying after a transient error or crash-looping",
            ["worker"],
        )
        readiness.add("workers", self._workers_ready)

    async def _workers_ready(self) -> None:
        degraded = self.liveness.degraded()
        if degraded:
            raise RuntimeError("; ".join(f"{w} {why}" for w, why in sorted(degraded.items())))

    def start(self, name: str, run: Worker) -> asyncio.Task[None]:
        """Run ``run`` as the task ``name`` until it returns or the task is cancelled."""
        return asyncio.create_task(self._guard(name, run), name=name)

    async def _guard(self, name: str, run: Worker) -> None:
        policy = self.policy
        backoff = Backoff(policy.initial_s, policy.max_s)
        crashes = 0  # in a row, each soon after its start
        self._degraded.labels(name).set(0)
        while True:
            task = asyncio.create_task(run(), name=f"{name}:run")
            try:
                done, _ = await asyncio.wait({task}, timeout=policy.settle_s)
                if not done:
                    backoff.reset()
                    self._settled(name)
                    rest = max(0.0, policy.stable_s - policy.settle_s)
                    done, _ = await asyncio.wait({task}, timeout=rest)
                if not done:
                    crashes = 0
                    self.liveness.revived(name)
                await task
                return
            except asyncio.CancelledError:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
                raise
            except Exception as exc:
                delay = backoff.next_delay()
                if is_transient(exc):
                    cause = "transient"
                    self.liveness.retrying(name, f"retrying after {_describe(exc)}")
                    log.warning(
                        "worker %s: %s (dependency unavailable); retry %d in %.1fs",
                        name,
                        _describe(exc),
                        backoff.attempts,
                        delay,
                    )
                else:
                    cause = "crash"
                    crashes += 1
                    log.exception(
                        "worker %s crashed (%d in a row); restarting in %.1fs",
                        name,
                        crashes,
                        delay,
                    )
                    self.liveness.retrying(name, f"restarting after {_describe(exc)}")
                    if crashes >= policy.crash_limit:
                        self.liveness.died(
                            name, f"restart loop, {crashes} crashes in a row: {_describe(exc)}"
                        )
                self._restarts.labels(name, cause).inc()
                self._degraded.labels(name).set(1)
            await asyncio.sleep(delay)

    def _settled(self, name: str) -> None:
        self.liveness.recovered(name)
        self._degraded.labels(name).set(0)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
