"""A real OTLP/HTTP trace receiver for tests: decodes ExportTraceServiceRequest bodies and
answers as the collector does (support.otlp_http, shared with support.jaeger_standin)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from support.otlp_http import any_value, export, read_body


@dataclass
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    service: str
    attributes: dict[str, object]
    links: list[tuple[str, str]] = field(default_factory=list)


class OtlpReceiver:
    """Listens on 127.0.0.1 and collects every span posted to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                reply = export(self.command, self.path, self.headers, read_body(self))
                if reply.request is not None:
                    receiver._collect(reply.request)
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _collect(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            self.requests += 1
            for rs in request.resource_spans:
                attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        self.spans.append(
                            ReceivedSpan(
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                name=span.name,
                                service=attrs.get("service.name", ""),
                                attributes={a.key: any_value(a.value) for a in span.attributes},
                                links=[(ln.trace_id.hex(), ln.span_id.hex()) for ln in span.links],
                            )
                        )

    def wait_for(self, predicate: object, timeout: float = 15.0) -> list[ReceivedSpan]:
        """Wait until ``predicate(spans)`` is true; return the spans seen by then."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if callable(predicate) and predicate(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({s.name for s in spans})
                raise AssertionError(f"OTLP receiver: condition not met; got spans {names}")
            time.sleep(0.1)
