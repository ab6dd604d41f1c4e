"""The Jaeger stand-in (support.jaeger_standin) fed by the OpenTelemetry SDK's own OTLP/HTTP
exporter: its answers have Jaeger's JSON model, verify's Traces check reads them, searches
take Jaeger's parameters and memory is bounded.

The expected shapes come from Jaeger 2.14's code (cited in the support modules): the exact
bytes of a raw trace follow its OTLP-to-Jaeger fixture
(cmd/jaeger/internal/extension/jaegerquery/internal/fixture/otlp2jaeger-out.json)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import context, trace
from opentelemetry.trace import Link

from detektor.verify import Status, VerifyOptions
from detektor.verify.traces import _service_names, joined, traces
from support.gofmt import go_duration
from support.jaeger_standin import JaegerStandin
from support.otel_export import FixedIds, hexid, spans_tracer
from support.verify_fakes import FakeHttp, json_reply

SPAN_KEYS = ["traceID", "spanID", "operationName", "references", "startTime", "duration"]
SPAN_KEYS += ["tags", "logs", "processID", "warnings"]


@pytest.fixture
def jaeger() -> Iterator[JaegerStandin]:
    with JaegerStandin("127.0.0.1", 0, 0, 0) as standin:
        yield standin


def get(standin: JaegerStandin, path: str, **params: Any) -> Any:
    reply = httpx.get(f"{standin.query_url}{path}", params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    return reply.json()


def tags_of(item: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [(t["key"], t["type"], t["value"]) for t in item["tags"]]


def test_exported_spans_answer_in_jaegers_json_model(jaeger: JaegerStandin) -> None:
    with spans_tracer(jaeger.otlp_endpoint, "capture") as tracer:
        attrs = {"detektor.camera": "yard", "frames": 3, "score": 0.5, "labels": ["a", "b"]}
        with tracer.start_as_current_span("create frames", attributes=attrs) as parent:
            kind = trace.SpanKind.PRODUCER
            with tracer.start_as_current_span("publish", kind=kind) as child:
                child.add_event("published", {"count": 2})
                child.set_status(trace.Status(trace.StatusCode.ERROR, "broker down"))
        late = tracer.start_span("notify", trace.set_span_in_context(parent))  # after its end
        late.end()
    with spans_tracer(jaeger.otlp_endpoint, "detector") as tracer:
        linked = tracer.start_span(
            "detect batch", context=context.Context(), links=[Link(parent.get_span_context())]
        )
        linked.end()
    assert jaeger.rejected == []
    capture_id, parent_id = hexid(parent)
    detector_id, _ = hexid(linked)

    reply = httpx.get(f"{jaeger.query_url}/api/services", timeout=10)
    assert reply.content == (
        b'{"data":["capture","detector"],"total":2,"limit":0,"offset":0,"errors":null}'
    )
    body = get(jaeger, f"/api/traces/{capture_id}")
    assert list(body) == ["data", "total", "limit", "offset", "errors"]
    assert (body["total"], body["limit"], body["offset"], body["errors"]) == (0, 0, 0, None)
    [found] = body["data"]
    assert list(found) == ["traceID", "spans", "processes", "warnings"]
    assert (found["traceID"], found["warnings"]) == (capture_id, None)
    spans = {s["operationName"]: s for s in found["spans"]}
    assert all(list(s) == SPAN_KEYS for s in spans.values())  # no "flags": never carried
    first, second = spans["create frames"], spans["publish"]
    assert (first["references"], first["warnings"]) == ([], None)
    assert second["references"] == [
        {"refType": "CHILD_OF", "traceID": capture_id, "spanID": parent_id}
    ]
    assert (first["startTime"], first["duration"]) == (
        parent.start_time // 1000,
        (parent.end_time - parent.start_time) // 1000,
    )
    scope = [("otel.scope.name", "string", "detektor.test"), ("otel.scope.version", "string", "1")]
    assert tags_of(first) == [
        ("detektor.camera", "string", "yard"),
        ("frames", "int64", 3),
        ("labels", "string", '["a","b"]'),
        *scope,
        ("score", "float64", 0.5),
        ("span.kind", "string", "internal"),
    ]
    assert tags_of(second) == [
        ("error", "bool", True),
        *scope,
        ("otel.status_code", "string", "ERROR"),
        ("otel.status_description", "string", "broker down"),
        ("span.kind", "string", "producer"),
    ]
    event = child.events[0]
    assert second["logs"] == [
        {
            "timestamp": event.timestamp // 1000,
            "fields": [
                {"key": "event", "type": "string", "value": "published"},
                {"key": "count", "type": "int64", "value": 2},
            ],
        }
    ]
    # Clock skew adjustment is off in Jaeger, but a child outside its parent is warned about.
    p_start, p_dur = parent.start_time, parent.end_time - parent.start_time
    delta = p_start + (p_dur - (late.end_time - late.start_time)) // 2 - late.start_time
    assert spans["notify"]["warnings"] == [
        f"clock skew adjustment disabled; not applying calculated delta of {go_duration(delta)}"
    ]
    assert second["warnings"] is None
    assert first["processID"] == second["processID"] == spans["notify"]["processID"] == "p1"
    assert list(found["processes"]) == ["p1"]
    process = found["processes"]["p1"]
    assert process["serviceName"] == "capture"
    assert ("telemetry.sdk.language", "string", "python") in tags_of(process)
    assert [t["key"] for t in process["tags"]] == sorted(t["key"] for t in process["tags"])

    [detector] = get(jaeger, f"/api/traces/{detector_id}")["data"]
    assert detector["spans"][0]["references"] == [
        {"refType": "FOLLOWS_FROM", "traceID": capture_id, "spanID": parent_id}
    ]
    assert _service_names(detector) == {"detector"}


def test_a_raw_trace_is_byte_for_byte_what_jaeger_writes(jaeger: JaegerStandin) -> None:
    """Two copies of one server span whose parent never arrived, sent as OTLP/JSON: raw, both
    copies in translator order; adjusted, one copy, sorted tags and the clock-skew warning."""
    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "parentSpanId": "0000000000000042",
        "name": "GET /v1/frames",
        "kind": 2,
        "startTimeUnixNano": "1764252187000100000",
        "endTimeUnixNano": "1764252187000350500",
        "attributes": [{"key": "net.peer.ip", "value": {"stringValue": "10.0.0.7"}}],
        "status": {},
    }
    request = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]
                },
                "scopeSpans": [{"scope": {"name": "http"}, "spans": [span, span]}],
            }
        ]
    }
    posted = httpx.post(f"{jaeger.otlp_endpoint}/v1/traces", json=request, timeout=10)
    assert (posted.status_code, posted.content) == (200, b"{}")
    one = (
        '{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"00f067aa0ba902b7",'
        '"operationName":"GET /v1/frames","references":[{"refType":"CHILD_OF",'
        '"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"0000000000000042"}],'
        '"startTime":1764252187000100,"duration":250,"tags":[%s],"logs":[],'
        '"processID":"p1","warnings":%s}'
    )
    scope = '{"key":"otel.scope.name","type":"string","value":"http"}'
    ip = '{"key":"net.peer.ip","type":"string","value":"10.0.0.7"}'
    kind = '{"key":"span.kind","type":"string","value":"server"}'
    tail = ',"processes":{"p1":{"serviceName":"api","tags":[]}},"warnings":null}],'
    tail += '"total":0,"limit":0,"offset":0,"errors":null}'
    head = '{"data":[{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spans":['
    raw = one % (f"{scope},{ip},{kind}", "null")
    url = f"{jaeger.query_url}/api/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    assert httpx.get(url, params={"raw": "true"}).text == head + f"{raw},{raw}]" + tail
    warning = '["invalid parent span IDs=0000000000000042; skipping clock skew adjustment"]'
    adjusted = one % (f"{ip},{scope},{kind}", warning)
    assert httpx.get(url).text == head + adjusted + "]" + tail


def test_trace_ids_print_as_jaeger_prints_them_and_verify_still_joins(
    jaeger: JaegerStandin,
) -> None:
    """A trace id whose high half is zero prints in 16 hex digits, as Jaeger (jaeger-idl
    TraceID.String) prints it; the tracking API holds all 32, and verify compares both."""
    short = 0x00F067AA0BA902B7
    with spans_tracer(jaeger.otlp_endpoint, "capture", FixedIds(short, 0x51)) as tracer:
        tracer.start_span("create frames").end()
    padded = (0xAB << 64) | 0x1
    with spans_tracer(jaeger.otlp_endpoint, "tracking", FixedIds(padded, 0x52)) as tracer:
        tracer.start_span("process").end()
    with spans_tracer(jaeger.otlp_endpoint, "detector") as tracer:
        ctx = trace.SpanContext(short, 0x51, is_remote=True)
        tracer.start_span("detect batch", context=context.Context(), links=[Link(ctx)]).end()

    [root] = get(jaeger, f"/api/traces/{short:032x}")["data"]
    assert root["traceID"] == "00f067aa0ba902b7"
    [other] = get(jaeger, f"/api/traces/{padded:x}")["data"]
    assert other["traceID"] == "00000000000000ab0000000000000001"
    pool = get(jaeger, "/api/traces", service="detector", limit=10)["data"]
    assert pool[0]["spans"][0]["references"][0]["traceID"] == "00f067aa0ba902b7"
    linked = joined(root, [*pool, other])
    assert [_service_names(t) for t in linked] == [{"detector"}]


def test_verify_traces_check_passes_on_the_pipelines_shape(jaeger: JaegerStandin) -> None:
    """capture's span and the notifier's child in the canary trace, the detector's batch trace
    linked to it and tracking's linked to the detector's: verify's whole Traces check."""
    with spans_tracer(jaeger.otlp_endpoint, "capture") as tracer:
        frame = tracer.start_span("create frames")
        frame.end()
    with spans_tracer(jaeger.otlp_endpoint, "notifier") as tracer:
        sent = frame.get_span_context()  # as it travels in a message: remote, sampled
        remote = trace.SpanContext(sent.trace_id, sent.span_id, True, sent.trace_flags)
        tracer.start_span(
            "publish", trace.set_span_in_context(trace.NonRecordingSpan(remote))
        ).end()
    with spans_tracer(jaeger.otlp_endpoint, "detector") as tracer:
        batch = tracer.start_span("detect batch", context.Context(), links=[Link(remote)])
        batch.end()
    with spans_tracer(jaeger.otlp_endpoint, "tracking") as tracer:
        tracer.start_span(
            "process", context.Context(), links=[Link(batch.get_span_context())]
        ).end()
    canary_id, _ = hexid(frame)
    frames = {"frames": [{"frame_id": "canary:1:000001", "trace_id": canary_id}]}

    def tracking(path: str, query: dict[str, list[str]]) -> Any:
        return json_reply(frames | {"next_cursor": None}) if path == "/v1/frames" else None

    with FakeHttp(tracking) as api:
        result = traces(VerifyOptions(jaeger=jaeger.query_url, tracking=api.url))
    assert result.status is Status.PASS, result
    assert f"canary frame canary:1:000001 trace {canary_id}: ['capture', 'notifier']" in (
        result.evidence
    )
    assert any(e.endswith(": ['tracking']") for e in result.evidence), result.evidence


def test_verify_names_a_canary_trace_that_jaeger_never_received(jaeger: JaegerStandin) -> None:
    """Jaeger answers 404 for an unknown trace id: a finding about the trace, not "a backend
    did not answer" (which the 404 used to become)."""
    for service in ("capture", "detector", "tracking", "notifier"):
        with spans_tracer(jaeger.otlp_endpoint, service) as tracer:
            tracer.start_span("work").end()
    lost = "0af7651916cd43dd8448eb211c80319c"
    frames = {"frames": [{"frame_id": "canary:1:000001", "trace_id": lost}], "next_cursor": None}

    def tracking(path: str, query: dict[str, list[str]]) -> Any:
        return json_reply(frames) if path == "/v1/frames" else None

    with FakeHttp(tracking) as api:
        result = traces(VerifyOptions(jaeger=jaeger.query_url, tracking=api.url))
    assert result.status is Status.FAIL
    assert result.summary == f"Jaeger has no trace {lost} of canary frame canary:1:000001"


def test_search_follows_jaegers_parameters(jaeger: JaegerStandin) -> None:
    with spans_tracer(jaeger.otlp_endpoint, "capture") as tracer:
        for camera in ("yard", "gate", "door"):
            attrs = {"camera": camera}
            tracer.start_span("create frames", context.Context(), attributes=attrs).end()
            time.sleep(0.002)
    now = time.time_ns() // 1000
    newest_first = [t["traceID"] for t in get(jaeger, "/api/traces", service="capture")["data"]]
    assert len(newest_first) == 3
    cameras = [
        get(jaeger, f"/api/traces/{tid}")["data"][0]["spans"][0]["tags"][0]["value"]
        for tid in newest_first
    ]
    assert cameras == ["door", "gate", "yard"]
    window = {"service": "capture", "start": now - 60_000_000, "end": now}
    assert len(get(jaeger, "/api/traces", **window, lookback="1s")["data"]) == 3
    assert get(jaeger, "/api/traces", **window | {"start": now + 1})["data"] == []
    assert [t["traceID"] for t in get(jaeger, "/api/traces", **window, limit=1)["data"]] == [
        newest_first[0]
    ]
    assert len(get(jaeger, "/api/traces", **window, tags='{"camera":"gate"}')["data"]) == 1
    assert get(jaeger, "/api/traces", **window, tag="camera:nowhere")["data"] == []
    assert get(jaeger, "/api/traces", **window, operation="other")["data"] == []
    assert get(jaeger, "/api/traces", service="nobody")["data"] == []


def test_memory_is_bounded_by_dropping_the_oldest_traces() -> None:
    with JaegerStandin("127.0.0.1", 0, 0, 0, max_spans=3) as standin:
        with spans_tracer(standin.otlp_endpoint, "capture") as tracer:
            started = [tracer.start_span(f"frame {n}", context.Context()) for n in range(5)]
            for span in started:
                span.end()
        assert standin.store.counts() == (3, 3)
        ids = [hexid(span)[0] for span in started]
        for gone in ids[:2]:
            reply = httpx.get(f"{standin.query_url}/api/traces/{gone}", timeout=10)
            assert reply.status_code == 404
        kept = get(standin, "/api/traces", service="capture")["data"]
        assert [t["traceID"] for t in kept] == ids[:1:-1]
        assert get(standin, "/api/services")["data"] == ["capture"]
