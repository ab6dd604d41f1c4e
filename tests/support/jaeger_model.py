"""OTLP spans in Jaeger's span model, as Jaeger 2.14 stores and translates them (with the
opentelemetry-collector-contrib ``pkg/translator/jaeger`` v0.142 it links):

- on write, ``internal/jptrace/sanitizer``: a resource without a string ``service.name`` gets
  ``missing-service-name``/``service-name-wrong-type``/``empty-service-name``; a span whose
  end is not after its start ends 1 ns after it, with a warning;
- ``pkg/translator/jaeger/traces_to_jaegerproto.go``: the process is the resource
  (``service.name`` apart, the other attributes as tags); the span's tags are
  ``otel.scope.name``/``otel.scope.version``, the attributes, ``span.kind``,
  ``otel.status_code`` (+ ``error``=true), ``otel.status_description`` and
  ``w3c.tracestate``; the parent is the first reference, ``CHILD_OF``; each link is a
  ``FOLLOWS_FROM`` reference (``CHILD_OF`` when its ``opentracing.ref_type`` is ``child_of``;
  a link to the parent retypes it); events are logs with their name as field ``event``;
  maps and lists become JSON strings; the span's flags are not carried (the sampled bit
  only came later, in contrib PR #49568), so ``flags`` is never printed;
- ``internal/storage/v2/v1adapter/translator.go``: ``@jaeger@warnings`` becomes the span's
  warnings.

What a query does with them is ``support.jaeger_adjust``'s.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from support.gofmt import go_float, go_json, go_time
from support.otlp_http import any_value

STRING, BOOL, INT64, FLOAT64, BINARY = range(5)
CHILD_OF, FOLLOWS_FROM = 0, 1
REF_NAMES = ("CHILD_OF", "FOLLOWS_FROM")
Tag = tuple[str, int, Any]
_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_WARNINGS = "@jaeger@warnings"


@dataclass(slots=True)
class Span:
    trace_id: int
    span_id: int
    name: str
    refs: list[tuple[int, int, int]]  # (CHILD_OF | FOLLOWS_FROM, trace id, span id)
    start_ns: int
    duration_ns: int
    tags: list[Tag]
    logs: list[tuple[int, list[Tag]]]
    warnings: list[str]
    service: str
    process_tags: list[Tag]
    # What a search by tag compares: the OTLP kind and status code, the scope (name, version,
    # attributes) and where the span's own attributes lie in ``tags``.
    kind: int
    status: int
    scope: tuple[str, str, tuple[Tag, ...]]
    attrs: tuple[int, int]


def spans_of(request: ExportTraceServiceRequest) -> list[Span]:
    """The request's spans, sanitized and translated as Jaeger stores them."""
    out: list[Span] = []
    for rs in request.resource_spans:
        attrs = list(rs.resource.attributes)
        named = next((kv for kv in attrs if kv.key == "service.name"), None)
        if named is None:
            service = "missing-service-name"
        elif named.value.WhichOneof("value") != "string_value":
            service = "service-name-wrong-type"
        else:
            service = named.value.string_value or "empty-service-name"
        process = [tag(kv.key, kv.value) for kv in attrs if kv.key != "service.name"]
        for ss in rs.scope_spans:
            scope_tags = [
                (f"otel.scope.{k}", STRING, v)
                for k in ("name", "version")
                if (v := getattr(ss.scope, k))
            ]
            scope = (
                ss.scope.name,
                ss.scope.version,
                tuple(tag(a.key, a.value) for a in ss.scope.attributes),
            )
            for span in ss.spans:
                out.append(_span(span, service, process, scope, scope_tags))
    return out


def _span(span: Any, service: str, process: list[Tag], scope: Any, scope_tags: list[Tag]) -> Span:
    trace_id = int.from_bytes(span.trace_id, "big")
    parent = int.from_bytes(span.parent_span_id, "big")
    refs = [(CHILD_OF, trace_id, parent)] if parent else []
    for link in span.links:
        ref_type = next((a.value for a in link.attributes if a.key == "opentracing.ref_type"), None)
        kind = (
            CHILD_OF
            if ref_type is not None and ref_type.string_value == "child_of"
            else FOLLOWS_FROM
        )
        ids = (int.from_bytes(link.trace_id, "big"), int.from_bytes(link.span_id, "big"))
        if parent and ids == (trace_id, parent):
            refs[0] = (kind, trace_id, parent)
        else:
            refs.append((kind, *ids))
    attrs = [tag(a.key, a.value) for a in span.attributes]
    warnings = _warnings(next((a.value for a in span.attributes if a.key == _WARNINGS), None))
    if warnings:
        attrs = [t for t in attrs if t[0] != _WARNINGS]
    start, end = _int64(span.start_time_unix_nano), _int64(span.end_time_unix_nano)
    if end <= start:
        warnings.append(
            "Negative duration detected, sanitizing end timestamp. Original end timestamp: "
            f"{go_time(end)}, adjusted to: {go_time(start + 1)}"
        )
        end = start + 1
    tags = scope_tags + attrs
    if span.kind in _KINDS:
        tags.append(("span.kind", STRING, _KINDS[span.kind]))
    if span.status.code in (1, 2):
        tags.append(("otel.status_code", STRING, "OK" if span.status.code == 1 else "ERROR"))
    if span.status.code == 2:
        tags.append(("error", BOOL, True))
    if span.status.message:
        tags.append(("otel.status_description", STRING, span.status.message))
    if span.trace_state:
        tags.append(("w3c.tracestate", STRING, span.trace_state))
    logs = []
    for event in span.events:
        named = event.name and not any(a.key == "event" for a in event.attributes)
        fields = [("event", STRING, event.name)] if named else []
        logs.append(
            (_int64(event.time_unix_nano), fields + [tag(a.key, a.value) for a in event.attributes])
        )
    return Span(
        trace_id, int.from_bytes(span.span_id, "big"), span.name, refs, start,
        min(end - start, 2**63 - 1), tags, logs, warnings, service, process, span.kind,
        span.status.code, scope,
        (len(scope_tags), len(scope_tags) + len(attrs)),
    )  # fmt: skip


def tag(key: str, value: Any) -> Tag:
    """An attribute as a Jaeger tag (attributeToJaegerProtoTag)."""
    kind = value.WhichOneof("value")
    simple = {
        "string_value": STRING,
        "bool_value": BOOL,
        "int_value": INT64,
        "double_value": FLOAT64,
    }
    if kind in simple:
        return (key, simple[kind], getattr(value, kind))
    if kind == "bytes_value":
        return (key, BINARY, value.bytes_value)
    return (key, STRING, as_string(any_value(value)) if kind else "")


def as_string(raw: object) -> str:
    """pcommon ``Value.AsString`` of a map or list: its JSON, or "" when Go cannot write it."""
    try:
        return go_json(_sorted(raw)).decode()
    except ValueError:
        return ""


def _sorted(raw: object) -> object:
    if isinstance(raw, dict):
        return {k: _sorted(raw[k]) for k in sorted(raw)}
    return [_sorted(v) for v in raw] if isinstance(raw, list) else raw


def _warnings(value: Any) -> list[str]:
    """jptrace.GetWarnings: each string of a list (Str() of anything else is ""), else the
    value as a string."""
    if value is None:
        return []
    if value.WhichOneof("value") == "array_value":
        return [v.string_value for v in value.array_value.values]
    return [value_string(tag("", value))]


def value_string(t: Tag) -> str:
    """pcommon ``Value.AsString`` of the attribute a tag came from."""
    if t[1] == BOOL:
        return "true" if t[2] else "false"
    if t[1] == FLOAT64:
        try:
            return go_float(t[2])
        except ValueError as exc:
            return str(exc)
    return base64.b64encode(t[2]).decode() if t[1] == BINARY else str(t[2])


def _int64(ns: int) -> int:
    """OTLP's unsigned nanoseconds as Go's ``time.Unix(0, int64(ns))`` reads them."""
    return ns - 2**64 if ns >= 2**63 else ns


def parent_of(span: Span) -> int:
    """model.Span.ParentSpanID: the first same-trace CHILD_OF reference, else FOLLOWS_FROM."""
    same = [(kind, sid) for kind, tid, sid in span.refs if tid == span.trace_id]
    return next((sid for kind, sid in same if kind == CHILD_OF), next((s for _, s in same), 0))
