"""The Traces check, against the Jaeger query API (the HTTP JSON API behind the Jaeger UI).

What the services emit, and so what is asked for:

- capture makes the frame's ``create frames`` span: the canary frame's trace id;
- the detector processes a batch in a span of its own trace, LINKED to each frame's capture
  span (an OTLP link, which Jaeger shows as a ``FOLLOWS_FROM`` reference);
- tracking stores a batch of lifecycle events in one ``process`` span: a child of the frame's
  span when the batch holds one frame, otherwise in its own trace linked to each frame's;
- the notifier publishes a frame's detections in a child span of the frame's span.

So the check:

1. ``GET /api/services`` lists capture, detector, tracking and notifier;
2. ``GET /api/traces?service=<s>&start=<µs>&end=<µs>&limit=<n>`` (Jaeger's own parameters:
   ``start``/``end`` in microseconds since the epoch; it ignores ``lookback``, which only
   its UI reads) returns at least one trace in the window for each of them;
3. the newest completed canary frame captured at least 15 s ago (its spans have left the
   services' export batches) from the tracking API
   (``/v1/frames?camera=<canary>&state=completed&until=<now-15s>&limit=1``) gives a trace id, and
   ``GET /api/traces/<trace_id>`` its spans; every service is searched again over the frame's
   time in flight (a busy service's newest traces may fill the window's search). The traces
   found that reference the
   canary trace, or a trace already joined to it, are joined too (both directions, until
   nothing more joins). The service names (``processes[*].serviceName``) of all of them must
   include every traced service.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from detektor.domain.fields import parse_timestamp
from detektor.verify.http import client, get_json
from detektor.verify.model import CheckResult, Status, VerifyOptions

NAME = "Traces"
TRACED_SERVICES = ("capture", "detector", "tracking", "notifier")
SEARCH_LIMIT = 100
IN_FLIGHT_SLACK_S = 5.0
EXPORT_GRACE_S = 15.0  # 3 x the OpenTelemetry SDK's batch export delay (OTEL_BSP_SCHEDULE_DELAY)


def traces(options: VerifyOptions) -> CheckResult:
    """Recent traces for every traced service, and the canary's traces span them all."""
    jaeger = options.jaeger.rstrip("/")
    evidence: list[str] = []
    problems: list[str] = []
    fix = f"curl -s {jaeger}/api/services | jq .data  # and open {jaeger}/search"
    end_us = int(time.time() * 1_000_000)
    start_us = end_us - int(options.window_s * 1_000_000)
    pool: list[dict[str, Any]] = []
    with client(options) as http:
        services = get_json(http, f"{jaeger}/api/services")["data"] or []
        evidence.append("Jaeger services: " + ", ".join(sorted(services)))
        for service in TRACED_SERVICES:
            if service not in services:
                problems.append(f"Jaeger knows no service {service}")
                continue
            params = {"service": service, "start": start_us, "end": end_us, "limit": SEARCH_LIMIT}
            found = get_json(http, f"{jaeger}/api/traces", params)["data"] or []
            more = "at least " if len(found) >= SEARCH_LIMIT else ""
            evidence.append(f"{service}: {more}{len(found)} trace(s) in the last {options.window}")
            if not found:
                problems.append(f"no trace from {service} in the last {options.window}")
            pool += found
        problems += _canary(http, jaeger, options, pool, evidence)
    if problems:
        return CheckResult(NAME, Status.FAIL, "; ".join(problems), evidence, fix)
    return CheckResult(NAME, Status.PASS, "the canary's traces span every service", evidence)


def _canary(
    http: httpx.Client,
    jaeger: str,
    options: VerifyOptions,
    pool: list[dict[str, Any]],
    evidence: list[str],
) -> list[str]:
    api = options.tracking.rstrip("/")
    # A frame that has just completed may still have spans in the services' export batches
    # (the SDK sends every 5 s): take the newest one captured before that grace.
    until = datetime.now(UTC) - timedelta(seconds=EXPORT_GRACE_S)
    params = {
        "camera": options.canary,
        "state": "completed",
        "limit": 1,
        "until": until.isoformat(timespec="milliseconds"),
    }
    page = get_json(http, f"{api}/v1/frames", params, headers=options.headers())
    if not page["frames"] or not page["frames"][0].get("trace_id"):
        return [f"no completed canary frame with a trace id in tracking ({api})"]
    frame = page["frames"][0]
    trace_id = frame["trace_id"]
    trace = _trace(http, jaeger, trace_id)
    if not trace:
        return [f"Jaeger has no trace {trace_id} of canary frame {frame['frame_id']}"]
    found = _service_names(trace[0])
    evidence.append(f"canary frame {frame['frame_id']} trace {trace_id}: {sorted(found)}")
    # The traces linked to it start while the frame is in the pipeline: searched in that
    # span of time, they are all within the search limit however busy the services are (the
    # window's newest SEARCH_LIMIT traces may all be newer than the canary frame).
    for start_us, end_us in _in_flight(frame):
        for service in TRACED_SERVICES:
            params = {"service": service, "start": start_us, "end": end_us, "limit": SEARCH_LIMIT}
            pool = pool + (get_json(http, f"{jaeger}/api/traces", params)["data"] or [])
    for linked in joined(trace[0], pool):
        names = _service_names(linked)
        evidence.append(f"linked trace {linked.get('traceID')}: {sorted(names)}")
        found |= names
    missing = [s for s in TRACED_SERVICES if s not in found]
    return [f"the canary's traces have no spans from {', '.join(missing)}"] if missing else []


def _in_flight(frame: dict[str, Any]) -> list[tuple[int, int]]:
    """µs since the epoch: a second before the frame's capture to IN_FLIGHT_SLACK_S after it
    completed (the consumers' spans start when they take its events or detections); none
    when the frame does not say when it was captured."""
    if not frame.get("captured_at"):
        return []
    captured = parse_timestamp(str(frame["captured_at"]), "captured_at")
    done_text = frame.get("terminal_at")
    done = parse_timestamp(str(done_text), "terminal_at") if done_text else captured
    start = captured - timedelta(seconds=1)
    end = done + timedelta(seconds=IN_FLIGHT_SLACK_S)
    return [(int(start.timestamp() * 1_000_000), int(end.timestamp() * 1_000_000))]


def _trace(http: httpx.Client, jaeger: str, trace_id: str) -> list[dict[str, Any]]:
    """One trace's spans; none when Jaeger answers 404 ``trace not found`` (a trace never
    received, or evicted), which is a finding, not an unreachable backend."""
    answer = get_json(http, f"{jaeger}/api/traces/{trace_id}", missing_ok=True)
    data: list[dict[str, Any]] = (answer or {}).get("data") or []
    return data


def joined(root: dict[str, Any], pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The traces of ``pool`` joined to ``root`` by references, directly or through others."""
    ids = {_norm(root.get("traceID", ""))}
    others = {_norm(t.get("traceID", "")): t for t in pool}
    others.pop(next(iter(ids)), None)
    out: list[dict[str, Any]] = []
    grew = True
    while grew:
        grew = False
        for tid, candidate in list(others.items()):
            if _refs(candidate) & ids or any(tid in _refs(t) for t in [root, *out]):
                out.append(others.pop(tid))
                ids.add(tid)
                grew = True
    return out


def _service_names(trace: dict[str, Any]) -> set[str]:
    return {str(p.get("serviceName")) for p in (trace.get("processes") or {}).values()}


def _refs(trace: dict[str, Any]) -> set[str]:
    return {
        _norm(ref.get("traceID", ""))
        for span in trace.get("spans") or []
        for ref in span.get("references") or []
    }


def _norm(trace_id: str) -> str:
    """Jaeger may print a trace id without its leading zeros; compare without them."""
    return trace_id.lower().lstrip("0")
