"""W3C trace context carried in flat message fields (Redis stream entries, MQTT properties).

Uses only the OpenTelemetry API's globally configured propagator, so it works whether or
not the SDK is set up, and a malformed ``traceparent`` simply yields no parent.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from opentelemetry import context, propagate, trace

TRACEPARENT = "traceparent"


def inject_fields(fields: MutableMapping[str, str], ctx: context.Context | None = None) -> None:
    """Write ``traceparent`` (and ``tracestate`` when there is one) for ``ctx`` into fields."""
    propagate.inject(fields, context=ctx)


def extract_context(fields: Mapping[str, str | bytes]) -> context.Context:
    """The context carried by the fields; bytes values (as redis-py returns them) are decoded."""
    carrier = {
        k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
        for k, v in fields.items()
        if k in (TRACEPARENT, "tracestate", b"traceparent", b"tracestate")
    }
    return propagate.extract(carrier)


def span_context_of(fields: Mapping[str, str | bytes]) -> trace.SpanContext | None:
    """The remote span context in the fields, or None when it is absent or malformed."""
    span_ctx = trace.get_current_span(extract_context(fields)).get_span_context()
    return span_ctx if span_ctx.is_valid else None
