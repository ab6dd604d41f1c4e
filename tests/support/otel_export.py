"""Spans exported for real in tests: an OpenTelemetry SDK tracer provider whose OTLP/HTTP
exporter (gzip, as the services send) posts each span to ``endpoint`` when it ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator


class FixedIds(IdGenerator):
    """Chosen ids for a one-span trace."""

    def __init__(self, trace_id: int, span_id: int) -> None:
        self.trace_id, self.span_id = trace_id, span_id

    def generate_trace_id(self) -> int:
        return self.trace_id

    def generate_span_id(self) -> int:
        return self.span_id


@contextmanager
def spans_tracer(
    endpoint: str, service: str, ids: IdGenerator | None = None
) -> Iterator[trace.Tracer]:
    """A tracer of ``service`` (scope ``detektor.test`` version 1); leaving flushes it."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        id_generator=ids or RandomIdGenerator(),
    )
    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", compression=Compression.Gzip)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider.get_tracer("detektor.test", "1")
    finally:
        provider.shutdown()


def hexid(span: trace.Span) -> tuple[str, str]:
    """The span's trace and span id in hex, as OpenTelemetry (and the tracking API) write them."""
    ctx = span.get_span_context()
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
