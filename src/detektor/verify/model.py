"""The data every check shares: its options in, its result out."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum

APP_JOBS = ("capture", "detector", "tracking", "objects", "notifier")
CORE_SERVICES = ("capture", "detector", "tracking")


class Status(StrEnum):
    """PASS and SKIP do not fail the run; FAIL does (exit code 1)."""

    PASS = "PASS"  # noqa: S105 - a status, not a password
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    """What one check found: a one-line summary, the evidence behind it, and for a failure
    a concrete command that shows the operator more (``fix``)."""

    name: str
    status: Status
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: str | None = None

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass(frozen=True)
class VerifyOptions:
    """Where the backends are and what counts as healthy (defaults match deploy/compose.yml)."""

    prometheus: str = "http://localhost:9090"
    jaeger: str = "http://localhost:16686"
    tracking: str = "http://localhost:8000"
    docker: bool = False
    docker_socket: str = "/var/run/docker.sock"
    window: str = "15m"
    min_services: int = 3
    canary: str = "canary"
    latency_budget_s: float = 5.0
    api_token: str | None = None
    timeout_s: float = 5.0
    skip: frozenset[str] = frozenset()
    service_urls: tuple[str, ...] = ()  # given by URL instead of discovered in Prometheus
    require_gpu: bool = False  # a host without a GPU fails the GPU check instead of skipping

    @property
    def window_s(self) -> float:
        return parse_duration(self.window)

    @property
    def recent(self) -> str:
        """The range for "is this series there now": min(window, 1m). Read with
        ``last_over_time``, one failed scrape (a stale marker) does not hide a series."""
        return f"{int(min(self.window_s, 60))}s"

    def headers(self) -> dict[str, str]:
        """The bearer token for the services' /v1 and /info routes, when one is given."""
        return {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """A Prometheus-style duration (``90s``, ``15m``, ``1h30m``) in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h)")
    return sum(int(number) * _UNITS[unit] for number, unit in parts)
