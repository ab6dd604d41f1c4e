"""Chaos inside the running stack: PostgreSQL, Redis and Mosquitto restarted one at a time,
the detector and tracking SIGKILLed (Docker's restart policy brings them back). After each
step every container must be healthy again, and a canary frame captured after the step must
complete, within ``RECOVERY_S``; the time each took is printed. Whether anything was lost is
the ledger's question, asked once at the end (stacktest.ledger).

Then a crash loop: the detector SIGKILLed every ``LOOP_PERIOD_S`` until Prometheus fires
ContainerRestarting for it (the services' own ``process_start_time_seconds`` changes)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx

from stacktest.engine import EngineError
from stacktest.output import Findings, say, step
from stacktest.stack import Stack

RECOVERY_S = 180.0
STEPS = (
    ("restart PostgreSQL", ("restart", "postgres")),
    ("restart Redis", ("restart", "redis")),
    ("restart Mosquitto", ("restart", "mosquitto")),
    ("SIGKILL the detector", ("crash", "detector")),
    ("SIGKILL tracking", ("crash", "tracking")),
)
LOOP_PERIOD_S = 30.0
LOOP_KILLS = 3
LOOP_TIMEOUT_S = 300.0


def chaos(stack: Stack, findings: Findings) -> None:
    for title, command in STEPS:
        with step(f"chaos: {title}"):
            at = datetime.now(UTC)
            started = time.monotonic()
            if command[0] == "crash":
                stack.crash(command[1])
            else:
                stack.compose(*command)
            try:
                stack.wait_healthy(RECOVERY_S)
                healthy = time.monotonic() - started
                _canary_completed_after(stack, at, RECOVERY_S)
                took = time.monotonic() - started
                findings.check(
                    f"chaos: {title}",
                    took <= RECOVERY_S,
                    f"from the fault on: every container healthy after {healthy:.0f} s; a canary "
                    f"frame captured after the fault had completed by {took:.0f} s "
                    f"(limit {RECOVERY_S:.0f} s)",
                )
            except (TimeoutError, EngineError) as exc:
                findings.check(f"chaos: {title}", False, str(exc))
                say(stack.logs(command[-1]))


def _canary_completed_after(stack: Stack, at: datetime, timeout_s: float) -> float:
    started = time.monotonic()
    params = {"camera": "canary", "state": "completed", "limit": 1}
    with stack.api() as api:
        while time.monotonic() - started < timeout_s:
            try:
                frames = api.get("/v1/frames", params=params).json()["frames"]
            except (httpx.HTTPError, ValueError, KeyError):
                frames = []
            if frames and datetime.fromisoformat(frames[0]["captured_at"]) > at:
                return time.monotonic() - started
            time.sleep(1)
    raise TimeoutError(f"no canary frame captured after {at:%H:%M:%S} completed in {timeout_s} s")


def crash_loop(stack: Stack, service: str, findings: Findings) -> None:
    """Crash ``service`` each time it is back (LOOP_KILLS times at least, one every
    LOOP_PERIOD_S) until its restart alert fires in Prometheus."""
    title = f"crash loop: SIGKILL {service} every {LOOP_PERIOD_S:.0f} s until its alert fires"
    with step(title):
        started = time.monotonic()
        kills = 0
        firing: list[str] = []
        while time.monotonic() - started < LOOP_TIMEOUT_S:
            stack.crash(service)
            kills += 1
            until = time.monotonic() + LOOP_PERIOD_S
            while time.monotonic() < until and not (firing and kills >= LOOP_KILLS):
                firing = _firing(stack, "ContainerRestarting", service)
                time.sleep(3)
            if firing and kills >= LOOP_KILLS:
                break
        findings.check(
            f"crash loop: ContainerRestarting fires for {service}",
            bool(firing),
            f"{kills} crashes in {time.monotonic() - started:.0f} s: {firing or 'not firing'}",
        )


def _firing(stack: Stack, alertname: str, job: str) -> list[str]:
    alerts = httpx.get(f"{stack.prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return [
        f"{a['labels']['alertname']}{{job={a['labels'].get('job')}}} {a['state']}"
        for a in alerts
        if a["labels"].get("alertname") == alertname
        and a["labels"].get("job") == job
        and a["state"] == "firing"
    ]
