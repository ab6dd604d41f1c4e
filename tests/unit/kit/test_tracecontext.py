from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from detektor.kit.tracecontext import inject_fields, span_context_of


def test_round_trip_through_message_fields() -> None:
    tracer = TracerProvider().get_tracer("t")
    fields: dict[str, str] = {}
    with tracer.start_as_current_span("produce") as span:
        inject_fields(fields)
        sent = span.get_span_context()
    assert fields["traceparent"].startswith("00-")
    as_bytes = {k.encode(): v.encode() for k, v in fields.items()}
    for carrier in (fields, as_bytes):
        got = span_context_of(carrier)
        assert got is not None
        assert got.trace_id == sent.trace_id
        assert got.span_id == sent.span_id
        assert got.is_remote


def test_malformed_or_missing_traceparent_gives_none() -> None:
    assert span_context_of({}) is None
    assert span_context_of({"traceparent": "garbage"}) is None
    assert span_context_of({"traceparent": "00-" + "0" * 32 + "-" + "1" * 16 + "-01"}) is None


def test_no_context_injects_nothing() -> None:
    fields: dict[str, str] = {}
    inject_fields(fields, trace.set_span_in_context(trace.INVALID_SPAN))
    assert "traceparent" not in fields
