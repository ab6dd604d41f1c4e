"""The Traces check, against the Jaeger query API (the HTTP JSON API behind the Jaeger UI).

What it checks:

1. ``GET /api/services`` lists capture, detector and tracking;
2. ``GET /api/traces?service=<s>&lookback=<window>&limit=20`` returns at least one trace
   for each of them;
3. the canary frame's trace: the newest completed canary frame from the tracking API
   (``/v1/frames?camera=<canary>&state=completed&limit=1``) gives its ``trace_id``, and
   ``GET /api/traces/<trace_id>`` gives its spans. The detector processes a frame in a
   span of its own trace that is LINKED to the capture span (an OTLP link, which Jaeger
   shows as a ``FOLLOWS_FROM`` reference), not parented by it. So the detector's recent
   traces are searched for a span whose ``references`` name the canary trace. The service
   names (``processes[*].serviceName``) of the canary trace and the traces linked to it
   must include capture, detector and tracking.
"""

from __future__ import annotations

from typing import Any

import httpx

from detektor.verify.http import client, get_json
from detektor.verify.model import CORE_SERVICES, CheckResult, Status, VerifyOptions

NAME = "Traces"


def traces(options: VerifyOptions) -> CheckResult:
    """Recent traces for every core service, and the canary's trace spans them all."""
    jaeger = options.jaeger.rstrip("/")
    evidence: list[str] = []
    problems: list[str] = []
    fix = f"curl -s {jaeger}/api/services | jq .data  # and open {jaeger}/search"
    with client(options) as http:
        services = get_json(http, f"{jaeger}/api/services")["data"] or []
        evidence.append("Jaeger services: " + ", ".join(sorted(services)))
        recent: dict[str, list[dict[str, Any]]] = {}
        for service in CORE_SERVICES:
            if service not in services:
                problems.append(f"Jaeger knows no service {service}")
                continue
            recent[service] = _search(http, jaeger, service, options)
            evidence.append(f"{service}: {len(recent[service])} trace(s) in {options.window}")
            if not recent[service]:
                problems.append(f"no recent trace from {service}")
        problems += _canary(http, jaeger, options, recent.get("detector", []), evidence)
    if problems:
        return CheckResult(NAME, Status.FAIL, "; ".join(problems), evidence, fix)
    return CheckResult(NAME, Status.PASS, "the canary's trace spans every service", evidence)


def _search(
    http: httpx.Client, jaeger: str, service: str, options: VerifyOptions
) -> list[dict[str, Any]]:
    params = {"service": service, "lookback": options.window, "limit": 20}
    found: list[dict[str, Any]] = get_json(http, f"{jaeger}/api/traces", params)["data"] or []
    return found


def _canary(
    http: httpx.Client,
    jaeger: str,
    options: VerifyOptions,
    detector_traces: list[dict[str, Any]],
    evidence: list[str],
) -> list[str]:
    api = options.tracking.rstrip("/")
    params = {"camera": options.canary, "state": "completed", "limit": 1}
    page = get_json(http, f"{api}/v1/frames", params, headers=options.headers())
    if not page["frames"] or not page["frames"][0].get("trace_id"):
        return [f"no completed canary frame with a trace id in tracking ({api})"]
    frame = page["frames"][0]
    trace_id = frame["trace_id"]
    trace = get_json(http, f"{jaeger}/api/traces/{trace_id}")["data"]
    if not trace:
        return [f"Jaeger has no trace {trace_id} of canary frame {frame['frame_id']}"]
    found = _service_names(trace[0])
    evidence.append(f"canary frame {frame['frame_id']} trace {trace_id}: {sorted(found)}")
    for linked in detector_traces:
        if _links_to(linked, trace_id):
            names = _service_names(linked)
            evidence.append(f"linked trace {linked.get('traceID')}: {sorted(names)}")
            found |= names
    missing = [s for s in CORE_SERVICES if s not in found]
    return [f"the canary's traces have no spans from {', '.join(missing)}"] if missing else []


def _service_names(trace: dict[str, Any]) -> set[str]:
    return {str(p.get("serviceName")) for p in trace.get("processes", {}).values()}


def _links_to(trace: dict[str, Any], trace_id: str) -> bool:
    want = _norm(trace_id)
    return _norm(trace.get("traceID", "")) != want and any(
        _norm(ref.get("traceID", "")) == want
        for span in trace.get("spans", [])
        for ref in span.get("references", []) or []
    )


def _norm(trace_id: str) -> str:
    """Jaeger may print a trace id without its leading zeros; compare without them."""
    return trace_id.lower().lstrip("0")
