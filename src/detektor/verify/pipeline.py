"""The Pipeline check: the canary frame crossed capture, detector and tracking within the
latency budget, and every camera delivers frames and balances its accounting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from detektor.verify.http import Unreachable, client, get_json, prom_query
from detektor.verify.model import CheckResult, Status, VerifyOptions


def pipeline(options: VerifyOptions) -> CheckResult:
    """The latest completed canary frame (tracking API) is recent, its stages and total time
    fit the budget; every camera (``detektor_camera_up`` series, else the canary) is up and
    its accounting (``/v1/cameras/<camera>/accounting``) balances."""
    name = "Pipeline"
    api = options.tracking.rstrip("/")
    evidence: list[str] = []
    problems: list[str] = []
    with client(options, headers=options.headers()) as http:
        problems += _canary(http, api, options, evidence)
        cameras = prom_query(
            http, options.prometheus, f"last_over_time(detektor_camera_up[{options.recent}])"
        )
        up = {c["metric"].get("camera", "?"): float(c["value"][1]) for c in cameras}
        for camera in sorted(up or {options.canary: 1.0}):
            if camera in up:
                evidence.append(f"camera {camera}: detektor_camera_up={up[camera]:g}")
                if up[camera] != 1:
                    problems.append(f"camera {camera} delivers no frames")
            problems += _accounting(http, api, camera, evidence)
    fix = (
        f"curl -s {_auth(options)}'{api}/v1/frames?camera={options.canary}&limit=5' | jq; "
        f"curl -s {_auth(options)}{api}/v1/cameras/<camera>/accounting | jq"
    )
    if problems:
        return CheckResult(name, Status.FAIL, "; ".join(problems), evidence, fix)
    return CheckResult(
        name,
        Status.PASS,
        "the canary crossed the pipeline in budget; accounting balances",
        evidence,
    )


def _auth(options: VerifyOptions) -> str:
    return '-H "Authorization: Bearer $DETEKTOR_API_TOKEN" ' if options.api_token else ""


def _canary(http: httpx.Client, api: str, options: VerifyOptions, evidence: list[str]) -> list[str]:
    params = {"camera": options.canary, "state": "completed", "limit": 1}
    page = get_json(http, f"{api}/v1/frames", params)
    if not page["frames"]:
        return [f"no completed frame of the canary camera {options.canary!r} in tracking"]
    frame: dict[str, Any] = get_json(http, f"{api}/v1/frames/{page['frames'][0]['frame_id']}")
    age = (datetime.now(UTC) - datetime.fromisoformat(frame["terminal_at"])).total_seconds()
    total_s = (frame.get("total_ms") or 0) / 1000
    stages = ", ".join(f"{s['name']} {s['duration_ms']:.0f} ms" for s in frame["stages"])
    kinds = [e["type"] for e in frame["events"]]
    evidence.append(
        f"canary frame {frame['frame_id']}: {frame['state']} {age:.0f} s ago, "
        f"total {total_s * 1000:.0f} ms (budget {options.latency_budget_s:g} s)"
    )
    evidence.append(f"events: {' → '.join(kinds)}")
    evidence.append(f"stages: {stages or 'none'}")
    problems = []
    if age > options.window_s:
        problems.append(f"the newest completed canary frame is {age:.0f} s old")
    if total_s > options.latency_budget_s:
        problems.append(f"the canary took {total_s:.2f} s > {options.latency_budget_s:g} s")
    if not any(k == "frame.captured" for k in kinds):
        problems.append("the canary frame has no frame.captured event")
    return problems


def _accounting(http: httpx.Client, api: str, camera: str, evidence: list[str]) -> list[str]:
    try:
        acc = get_json(http, f"{api}/v1/cameras/{camera}/accounting")
    except Unreachable as exc:
        evidence.append(f"camera {camera}: accounting unavailable: {exc}")
        return [f"no accounting for camera {camera}"]
    evidence.append(
        f"camera {camera}: captured {acc['captured']} = completed {acc['completed']} + "
        f"skipped {acc['skipped']} + dropped {acc['dropped']} + failed {acc['failed']} + "
        f"in_flight {acc['in_flight']} (stale {acc['stale']}, imbalance {acc['imbalance']})"
    )
    problems = []
    if acc["imbalance"]:  # stale frames alone make balanced false too; they are named below
        problems.append(f"camera {camera}'s accounting is off by {acc['imbalance']}")
    if acc["stale"]:
        problems.append(f"camera {camera} has {acc['stale']} stale frames")
    return problems
