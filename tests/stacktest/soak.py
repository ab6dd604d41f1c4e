"""The soak: the stack running normally for ``soak_s`` (600 in CI), every container sampled
every 10 s through the Engine API (health, RestartCount, memory, CPU time) and the cameras'
accounting through the tracking API; then the verdicts the issue asks for and a table.

RSS is the cgroup's anonymous memory (``rss`` under cgroup v1, ``anon`` under v2): page cache
is not the process's, and a leak shows in anonymous memory. The leak check compares each
container's RSS at the end with its RSS at minute 2 of the soak (the services' caches, the
model and the connection pools are in place by then)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from stacktest.cameras import CAMERAS
from stacktest.output import Findings, say, step, table
from stacktest.stack import Stack

INTERVAL_S = 10.0
RSS_BASE_S = 120.0
RSS_GROWTH_MAX = 1.25
FPS_TOLERANCE = 0.2  # each minute's frame rate within ±20 % of the median minute


@dataclass
class Series:
    """One container's samples."""

    health: list[str] = field(default_factory=list)
    restarts: int = 0
    rss_base: int | None = None
    rss_end: int = 0
    cpu_first: tuple[float, int] | None = None  # (monotonic s, cpu ns)
    cpu_last: tuple[float, int] | None = None

    @property
    def cpu_percent(self) -> float:
        if not self.cpu_first or not self.cpu_last or self.cpu_last[0] <= self.cpu_first[0]:
            return 0.0
        seconds = self.cpu_last[0] - self.cpu_first[0]
        return 100 * (self.cpu_last[1] - self.cpu_first[1]) / 1e9 / seconds


def rss_of(stats: dict[str, Any]) -> int:
    memory = stats.get("memory_stats", {}).get("stats", {})
    return int(memory.get("rss", memory.get("anon", 0)))


# The test's own trace store: its memory grows with the spans it keeps (as Jaeger's in-memory
# storage does, up to its cap); not a service of the stack.
KEEPS_DATA = {"otlp": "the trace stand-in keeps every span it receives"}
CAPTURE_RATE = 'sum(rate(detektor_frames_total{job="capture",outcome="captured"}[1m]))'


def captured(stack: Stack) -> int:
    """Frames captured so far, as the store has them (the accounting of every camera)."""
    with stack.api() as api:
        return sum(int(api.get(f"/v1/cameras/{c}/accounting").json()["captured"]) for c in CAMERAS)


def capture_rate(stack: Stack) -> float:
    """Frames per second capture produced over the last minute, from its own counter."""
    reply = httpx.get(
        f"{stack.prometheus}/api/v1/query", params={"query": CAPTURE_RATE}, timeout=10
    )
    result = reply.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def soak(stack: Stack, soak_s: float, findings: Findings) -> None:
    series: dict[str, Series] = {}
    rates: list[float] = []  # capture's frames per second, each minute after the first
    started = time.monotonic()
    with step(f"soak: {soak_s / 60:.0f} min of normal running, every container sampled every 10 s"):
        next_minute = started
        while (now := time.monotonic()) - started < soak_s:
            _sample(stack, series, now, base=now - started >= RSS_BASE_S)
            if now >= next_minute:
                frames = captured(stack)
                if now - started >= 60:
                    rates.append(capture_rate(stack))
                next_minute += 60
                shown = f", {rates[-1]:.1f}/s over the last minute" if rates else ""
                say(f"    {int(now - started) // 60} min: {frames} frames stored{shown}")
            time.sleep(max(0.0, INTERVAL_S - (time.monotonic() - now)))
        _sample(stack, series, time.monotonic(), base=False)
    _verdicts(series, rates, findings)


def _sample(stack: Stack, series: dict[str, Series], now: float, *, base: bool) -> None:
    for service, summary in stack.containers().items():
        s = series.setdefault(service, Series())
        detail = stack.engine.inspect(summary["Id"])
        state = detail["State"]
        s.health.append(state["Health"]["Status"] if state.get("Health") else state["Status"])
        s.restarts = int(detail.get("RestartCount", 0))
        if state.get("Running"):
            stats = stack.engine.stats(summary["Id"])
            s.rss_end = rss_of(stats)
            if base and s.rss_base is None:
                s.rss_base = s.rss_end
            cpu = (now, int(stats["cpu_stats"]["cpu_usage"]["total_usage"]))
            s.cpu_first = s.cpu_first or cpu
            s.cpu_last = cpu


def _verdicts(series: dict[str, Series], rates: list[float], findings: Findings) -> None:
    rows = []
    for service, s in sorted(series.items()):
        healthy = sum(1 for h in s.health if h in ("healthy", "running"))
        base = s.rss_base or s.rss_end
        ratio = s.rss_end / base if base else 0.0
        rows.append(
            [
                service,
                f"{healthy}/{len(s.health)}",
                str(s.restarts),
                f"{base / 2**20:.1f}",
                f"{s.rss_end / 2**20:.1f}",
                f"{ratio:.2f}",
                f"{s.cpu_percent:.1f}",
            ]
        )
    headers = ["container", "healthy", "restarts", "RSS@2m MiB", "RSS end MiB", "end/2m", "CPU %"]
    print(table(headers, rows), flush=True)
    unhealthy = [r[0] for r in rows if r[1].split("/")[0] != r[1].split("/")[1]]
    findings.check(
        "soak: every health sample healthy",
        not unhealthy,
        "100 % of samples" if not unhealthy else "unhealthy samples in " + ", ".join(unhealthy),
    )
    restarted = [f"{r[0]} ({r[2]})" for r in rows if r[2] != "0"]
    findings.check(
        "soak: RestartCount 0 everywhere",
        not restarted,
        "0 restarts" if not restarted else "restarted: " + ", ".join(restarted),
    )
    watched = [r for r in rows if r[0] not in KEEPS_DATA]
    grew = [f"{r[0]} x{r[5]}" for r in watched if float(r[5]) > RSS_GROWTH_MAX]
    largest = max(watched, key=lambda r: float(r[5]))
    kept = "; ".join(f"{name}: {why}" for name, why in KEEPS_DATA.items())
    findings.check(
        f"soak: RSS at the end <= {RSS_GROWTH_MAX} x RSS at minute 2",
        not grew,
        (f"largest {largest[0]} x{largest[5]}" if not grew else "grew: " + ", ".join(grew))
        + f" (not a leak, not checked: {kept})",
    )
    median = statistics.median(rates) if rates else 0.0
    steady = bool(rates) and all(abs(r - median) <= FPS_TOLERANCE * median for r in rates)
    shown = ", ".join(f"{r:.1f}" for r in rates)
    findings.check(
        "soak: frames per second steady",
        steady and median > 0,
        f"capture's frames/s, minute by minute: {shown} (median {median:.1f}, "
        f"each within {FPS_TOLERANCE:.0%})",
    )
