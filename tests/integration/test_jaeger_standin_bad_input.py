"""The Jaeger stand-in given bad input: each request gets the answer the collector's OTLP
receiver or Jaeger's query API gives it (status, content type, error body, as cited in
support.otlp_http and support.jaeger_query), and the server goes on serving."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry import context
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from support.jaeger_standin import JaegerStandin
from support.otel_export import hexid, spans_tracer

PB = {"content-type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def jaeger() -> Iterator[JaegerStandin]:
    with JaegerStandin("127.0.0.1", 0, 0, 0) as standin:
        yield standin


def one_span_request(trace_id: bytes = b"\x01" * 16, name: str = "frame") -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = trace_id, b"\x02" * 8, name
    span.start_time_unix_nano, span.end_time_unix_nano = 1_000, 2_000
    return request.SerializeToString()


def status_of(reply: httpx.Response) -> tuple[int, str]:
    assert reply.headers["content-type"] == "application/x-protobuf"
    status = Status()
    status.ParseFromString(reply.content)
    return status.code, status.message


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"\xff\xfe not protobuf", PB, "proto: "),
        (one_span_request()[:-7], PB, "proto: "),
        (b"not gzip", PB | {"content-encoding": "gzip"}, "gzip: invalid header"),
        (
            gzip.compress(one_span_request())[:-4],
            PB | {"content-encoding": "gzip"},
            "unexpected EOF",
        ),
        (one_span_request(b"\x01" * 5), PB, "unmarshal: invalid TraceID length"),
        (one_span_request() + b"\x0a\x05ab", PB, "proto: "),
        (
            one_span_request(),
            PB | {"content-encoding": "zstd"},
            "unsupported Content-Encoding: zstd",
        ),
        (one_span_request(), PB | {"content-encoding": "br"}, "unsupported Content-Encoding: br"),
    ],
)
def test_undecodable_exports_get_400_with_a_grpc_status(
    jaeger: JaegerStandin, body: bytes, headers: dict[str, str], message: str
) -> None:
    reply = httpx.post(f"{jaeger.otlp_endpoint}/v1/traces", content=body, headers=headers)
    assert reply.status_code == 400
    code, text = status_of(reply)
    assert code == 3  # InvalidArgument
    assert text.startswith(message), text


def test_a_string_that_is_not_utf8_is_refused_not_stored(jaeger: JaegerStandin) -> None:
    good = one_span_request(name="frame")
    bad = good.replace(b"frame", b"fr\xffme")
    reply = httpx.post(f"{jaeger.otlp_endpoint}/v1/traces", content=bad, headers=PB)
    assert reply.status_code == 400
    assert status_of(reply)[1].startswith("proto: ")


def test_other_paths_methods_and_types_are_refused_as_the_collector_does(
    jaeger: JaegerStandin,
) -> None:
    url = f"{jaeger.otlp_endpoint}/v1/traces"
    wrong_path = httpx.post(f"{jaeger.otlp_endpoint}/v1/trace", content=b"", headers=PB)
    assert (wrong_path.status_code, wrong_path.text) == (404, "404 page not found\n")
    assert httpx.post(f"{jaeger.otlp_endpoint}/v1/metrics", headers=PB).status_code == 404
    wrong_method = httpx.get(url)
    assert (wrong_method.status_code, wrong_method.text) == (
        405,
        "405 method not allowed, supported: [POST]",
    )
    text = httpx.post(url, content=b"{}", headers={"content-type": "text/plain"})
    assert text.status_code == 415
    assert text.text.startswith("415 unsupported media type")
    as_json = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert as_json.status_code == 400
    assert as_json.json()["code"] == 3
    bad_hex = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}
    assert httpx.post(url, json=bad_hex).status_code == 400


QUERY_ERRORS = [
    ("/api/traces?service=c&start=abc", 400, "unable to parse param 'start': strconv.ParseInt: "
     'parsing "abc": invalid syntax'),
    ("/api/traces?service=c&end=1e9", 400, "unable to parse param 'end': strconv.ParseInt: "
     'parsing "1e9": invalid syntax'),
    ("/api/traces?service=c&end=99999999999999999999", 400, "unable to parse param 'end': "
     'strconv.ParseInt: parsing "99999999999999999999": value out of range'),
    ("/api/traces?service=c&limit=x", 400, 'strconv.ParseInt: parsing "x": invalid syntax'),
    ("/api/traces?start=1", 400, "parameter 'service' is required"),
    ("/api/traces?service=c&limit=0", 500, "search depth must be greater than 0 and less "
     "than max traces"),
    ("/api/traces?service=c&minDuration=5", 400, "unable to parse param 'minDuration': time: "
     'missing unit in duration "5"'),
    ("/api/traces?service=c&minDuration=2s&maxDuration=1s", 400, "'maxDuration' should be "
     "greater than 'minDuration'"),
    ("/api/traces?service=c&tag=camera", 400, "malformed 'tag' parameter, expecting key:value, "
     "received: camera"),
    ("/api/traces?service=c&raw=maybe", 400, "unable to parse param 'raw': strconv.ParseBool: "
     'parsing "maybe": invalid syntax'),
    ("/api/traces?traceID=zz", 400, 'cannot parse traceID param: strconv.ParseUint: parsing '
     '"zz": invalid syntax'),
    ("/api/traces/zz", 400, 'strconv.ParseUint: parsing "zz": invalid syntax'),
    ("/api/traces/" + "1" * 33, 400, "TraceID cannot be longer than 32 hex characters: "
     + "1" * 33),
    ("/api/traces/0af7651916cd43dd8448eb211c80319c", 404, "trace not found"),
    ("/api/operations", 400, "parameter 'service' is required"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "code", "message"), QUERY_ERRORS)
def test_bad_queries_get_jaegers_error_answer(
    jaeger: JaegerStandin, path: str, code: int, message: str
) -> None:
    reply = httpx.get(f"{jaeger.query_url}{path}")
    assert reply.status_code == code
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.text.endswith("}\n")
    assert json.loads(reply.text) == {
        "data": None,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{"code": code, "msg": message}],
    }


def test_a_search_by_unknown_trace_ids_lists_them_as_errors(jaeger: JaegerStandin) -> None:
    reply = httpx.get(f"{jaeger.query_url}/api/traces", params={"traceID": "0af76519"})
    assert reply.status_code == 200
    assert reply.json()["data"] == []
    assert reply.json()["errors"] == [{"msg": "trace not found", "traceID": "000000000af76519"}]


def test_other_paths_get_the_ui_page_and_other_methods_405(jaeger: JaegerStandin) -> None:
    for path in ("/", "/search", "/api/nothing", "/api/traces/"):
        page = httpx.get(f"{jaeger.query_url}{path}")
        assert page.status_code == 200, path
        assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert httpx.post(f"{jaeger.query_url}/api/traces", content=b"x").status_code == 405
    assert httpx.delete(f"{jaeger.query_url}/api/services").status_code == 405


def test_broken_http_is_answered_and_the_server_keeps_serving(jaeger: JaegerStandin) -> None:
    for port in (jaeger.otlp_port, jaeger.query_port, jaeger.health_port):
        for garbage in (b"this is not HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(garbage)
                assert b"400" in sock.recv(1000)
    chunked = (
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"
    )
    with socket.create_connection(("127.0.0.1", jaeger.otlp_port), timeout=5) as sock:
        sock.sendall(chunked)
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    assert any("-> 400" in note for note in jaeger.rejected)

    with spans_tracer(jaeger.otlp_endpoint, "capture") as tracer:
        span = tracer.start_span("after the bad input", context.Context())
        span.end()
    trace_id, _ = hexid(span)
    reply = httpx.get(f"{jaeger.query_url}/api/traces/{trace_id}")
    assert reply.status_code == 200
    assert reply.json()["data"][0]["spans"][0]["operationName"] == "after the bad input"
    assert httpx.get(jaeger.health_url).json()["healthy"] is True


def test_odd_but_decodable_spans_are_kept_with_jaegers_repairs(jaeger: JaegerStandin) -> None:
    """No service.name: "missing-service-name"; an end before the start: moved to 1 ns after
    it, with the sanitizer's warning (internal/jptrace/sanitizer)."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(one_span_request(b"\x07" * 16, name="backwards"))
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.start_time_unix_nano, span.end_time_unix_nano = 1_706_678_909_209_712_000, 5
    body = request.SerializeToString()
    assert httpx.post(f"{jaeger.otlp_endpoint}/v1/traces", content=body, headers=PB).is_success
    [found] = httpx.get(f"{jaeger.query_url}/api/traces/{'07' * 16}").json()["data"]
    assert found["processes"] == {"p1": {"serviceName": "missing-service-name", "tags": []}}
    assert found["spans"][0]["duration"] == 0
    assert found["spans"][0]["warnings"] == [
        "Negative duration detected, sanitizing end timestamp. Original end timestamp: "
        "1970-01-01 00:00:00.000000005 +0000 UTC, adjusted to: "
        "2024-01-31 05:28:29.209712001 +0000 UTC"
    ]
    services = httpx.get(f"{jaeger.query_url}/api/services").json()["data"]
    assert "missing-service-name" in services
