"""OTLP/HTTP trace export requests, read and answered as the OpenTelemetry Collector's OTLP
receiver does (the collector inside Jaeger 2.14: receiver/otlpreceiver v0.142.0 otlphttp.go,
config/confighttp v0.142.0 compression.go, pdata v1.48.0 internal/traceid.go and spanid.go):

- ``Content-Encoding`` "", gzip, zlib or deflate (the collector also takes zstd, snappy and
  lz4, which the standard library cannot decode: those get 400 naming the stand-in);
- only ``POST`` (else 405, text) with ``Content-Type`` application/x-protobuf or
  application/json (else 415, text);
- a body that does not decode gets 400 with a ``google.rpc.Status`` (code 3,
  InvalidArgument) in the request's encoding; trace ids must be 0 or 16 bytes, span ids 0
  or 8, as pdata checks;
- success is 200 with an empty ``ExportTraceServiceResponse``.

Python's protobuf rejects strings that are not UTF-8, which the collector accepts (Jaeger
then sanitizes them): such a body gets 400 here. Bodies are capped at the collector's default
``max_request_body_size`` (20 MiB), before and after decompression.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

TRACES_PATH = "/v1/traces"
MAX_BODY = 20 * 1024 * 1024
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_KEYS = {"traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"}


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    request: ExportTraceServiceRequest | None = None


def read_body(handler: BaseHTTPRequestHandler, limit: int = MAX_BODY) -> bytes | None:
    """The request body (Content-Length or chunked); None, and the connection closed, when it
    is larger than ``limit`` or malformed."""
    if handler.headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line = handler.rfile.readline(100).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                size = -1
            if size < 0 or len(body) + size > limit:
                handler.close_connection = True
                return None
            if size == 0:
                while handler.rfile.readline(1000).strip():
                    pass  # trailers
                return body
            body += handler.rfile.read(size)
            handler.rfile.readline(10)
    try:
        length = int(handler.headers.get("content-length") or 0)
    except ValueError:
        length = -1
    if length < 0 or length > limit:
        handler.close_connection = True
        return None
    return handler.rfile.read(length)


def export(method: str, path: str, headers: Any, body: bytes | None) -> Reply:
    """The receiver's answer to one request; ``request`` is set when the export succeeded."""
    if path.split("?", 1)[0] != TRACES_PATH:
        return Reply(404, "text/plain; charset=utf-8", b"404 page not found\n")
    mime = str(headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    encoding = str(headers.get("content-encoding") or "").strip().lower()
    if encoding not in ("", "gzip", "zlib", "deflate"):
        supported = encoding in ("zstd", "snappy", "lz4")
        message = f"unsupported Content-Encoding: {encoding}"
        message += " (the collector takes it; this stand-in does not)" if supported else ""
        return _status(mime or JSON, 400, message)
    if method != "POST":
        return Reply(405, "text/plain", b"405 method not allowed, supported: [POST]")
    if mime not in (PROTOBUF, JSON):
        return Reply(
            415,
            "text/plain",
            f"415 unsupported media type, supported: [{JSON}, {PROTOBUF}]".encode(),
        )
    if body is None:
        return _status(mime, 400, "http: request body too large")
    try:
        request = parse(_decompress(body, encoding), mime)
    except ValueError as exc:
        return _status(mime, 400, str(exc))
    if mime == JSON:
        return Reply(200, JSON, b"{}", request)
    return Reply(200, PROTOBUF, ExportTraceServiceResponse().SerializeToString(), request)


def parse(body: bytes, mime: str = PROTOBUF) -> ExportTraceServiceRequest:
    """Decode an export request; ValueError says why it is not one."""
    request = ExportTraceServiceRequest()
    try:
        if mime == JSON:
            json_format.ParseDict(
                _hex_ids_to_base64(json.loads(body)), request, ignore_unknown_fields=True
            )
        else:
            request.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"proto: {exc}" if mime == PROTOBUF else f"json: {exc}") from exc
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                _check_ids(span.trace_id, span.span_id, span.parent_span_id)
                for link in span.links:
                    _check_ids(link.trace_id, link.span_id, b"")
    return request


def any_value(value: Any) -> object:
    """An AnyValue as a plain Python value (pcommon's AsRaw): kvlists become dicts."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def _check_ids(trace_id: bytes, span_id: bytes, parent: bytes) -> None:
    if len(trace_id) not in (0, 16):
        raise ValueError("unmarshal: invalid TraceID length")
    if len(span_id) not in (0, 8) or len(parent) not in (0, 8):
        raise ValueError("unmarshal: invalid SpanID length")


def _decompress(body: bytes, encoding: str) -> bytes:
    if not encoding:
        return body
    # gzip.NewReader and zlib.NewReader read the header at once; flate has none.
    if encoding == "gzip" and not body.startswith(b"\x1f\x8b"):
        raise ValueError("gzip: invalid header")
    if encoding == "zlib" and (
        len(body) < 2 or (body[0] & 0x0F) != 8 or int.from_bytes(body[:2], "big") % 31
    ):
        raise ValueError("zlib: invalid header")
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "zlib": zlib.MAX_WBITS, "deflate": -zlib.MAX_WBITS}
    inflater = zlib.decompressobj(wbits[encoding])
    try:
        out = inflater.decompress(body, MAX_BODY + 1)
    except zlib.error as exc:
        raise ValueError(f"{encoding}: {exc}") from exc
    if len(out) > MAX_BODY:
        raise ValueError("http: request body too large")
    if not inflater.eof:
        raise ValueError("unexpected EOF")
    return out


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids in hex where the protobuf JSON mapping expects base64."""
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, item in node.items():
        if key in _ID_KEYS and isinstance(item, str):
            try:
                item = base64.b64encode(bytes.fromhex(item)).decode()
            except ValueError as exc:
                raise json_format.ParseError(f"invalid {key} {item!r}: {exc}") from exc
        out[key] = _hex_ids_to_base64(item)
    return out


def _status(mime: str, code: int, message: str) -> Reply:
    status = Status(code=3 if code == 400 else 13, message=message)
    if mime == PROTOBUF:
        return Reply(code, PROTOBUF, status.SerializeToString())
    if mime == JSON:
        body = json.dumps({"code": status.code, "message": message}, separators=(",", ":"))
        return Reply(code, JSON, body.encode())
    # The collector's error handler speaks protobuf and JSON only; any other type gets this.
    return Reply(500, JSON, b'{"code": 13, "message": "failed to marshal error message"}')
