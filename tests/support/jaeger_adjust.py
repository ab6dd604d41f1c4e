"""A stored trace as Jaeger 2.14's query API answers it: the query service's standard adjusters
(cmd/jaeger/internal/extension/jaegerquery/internal/querysvc/adjusters.go, each in
querysvc/internal/adjuster/), then the UI model (internal/uimodel/model.go) built by
internal/uimodel/converter/v1/json/from_domain.go.

Adjusters, unless the query says ``raw=true``: tags sorted by key, type and value (a log's
``event`` field first); identical spans deduped; clock skew, which is disabled by default
(``max_clock_skew_adjust`` 0), so a child span outside its parent only gets "clock skew
adjustment disabled; not applying calculated delta of …", and duplicate span ids and missing
parents are warned about; integer ``ip``/``peer.ipv4`` tags as dotted quads;
``telemetry.sdk.*``/``telemetry.distro.*`` span tags moved to the process; references with a
zero trace id removed with a warning; the first same-trace ``CHILD_OF`` reference first. The
Zipkin span-id uniquifier is left out: OTLP spans never share an id with their parent.

The UI model: a trace id prints as 32 hex digits, or 16 when its high half is zero
(jaeger-idl model/v1/ids.go); span ids as 16; processes are keyed ``p1``, ``p2``… by first
use, equal processes sharing a key (process_hashtable.go); int64 values beyond ±2^53-1 print
as strings, bytes as base64; ``warnings`` is null when empty; ``flags`` (omitempty) never
appears, as the translator does not carry it. Jaeger's deduper returns spans in Go map order,
which is random; here they keep their arrival order.
"""

from __future__ import annotations

import copy
import ipaddress
import math
from typing import Any

from support.gofmt import go_duration
from support.jaeger_model import (
    BINARY,
    BOOL,
    CHILD_OF,
    FLOAT64,
    INT64,
    REF_NAMES,
    STRING,
    Span,
    Tag,
    parent_of,
)

VTYPE_NAMES = ("string", "bool", "int64", "float64", "binary")
_LIBRARY_KEYS = {"telemetry.sdk.language", "telemetry.sdk.name", "telemetry.sdk.version"}
_LIBRARY_KEYS |= {"telemetry.distro.name", "telemetry.distro.version"}
_JS_SAFE = 2**53 - 1
# What model.HashCode covers: every field of the span, its process included.
_HASHED = "trace_id span_id name refs start_ns duration_ns tags logs warnings service process_tags"
_SKEW_OFF = "clock skew adjustment disabled; not applying calculated delta of "


def trace_hex(trace_id: int) -> str:
    return f"{trace_id:032x}" if trace_id >> 64 else f"{trace_id:016x}"


def adjust(stored: list[Span]) -> list[Span]:
    """Copies of a trace's spans after the standard adjusters."""
    spans, seen = [], set()
    for original in stored:
        span = copy.copy(original)
        span.tags = sorted(span.tags, key=_order)
        span.process_tags = sorted(span.process_tags, key=_order)
        span.logs = [(ts, _event_first(fields)) for ts, fields in span.logs]
        span.refs, span.warnings = list(span.refs), list(span.warnings)
        key = repr([getattr(span, name) for name in _HASHED.split()])
        if key not in seen:
            seen.add(key)
            spans.append(span)
    _clock_skew(spans)
    for span in spans:
        moved = [t for t in span.tags if t[0] in _LIBRARY_KEYS]
        span.tags = [_ip(t) for t in span.tags if t[0] not in _LIBRARY_KEYS]
        span.process_tags = sorted([_ip(t) for t in span.process_tags] + moved, key=_order)
        for kind, _, sid in [r for r in span.refs if r[1] == 0]:
            span.warnings.append(
                f"Invalid span reference removed {{TraceID:{trace_hex(0)} SpanID:{sid:016x} "
                f"RefType:{REF_NAMES[kind]} XXX_NoUnkeyedLiteral:{{}} XXX_unrecognized:[] "
                "XXX_sizecache:0}"
            )
        span.refs = [r for r in span.refs if r[1] != 0]
        same = [i for i, r in enumerate(span.refs) if r[1] == span.trace_id]
        first = next((i for i in same if span.refs[i][0] == CHILD_OF), same[0] if same else 0)
        if first:
            span.refs[0], span.refs[first] = span.refs[first], span.refs[0]
    return spans


def _order(t: Tag) -> tuple[str, int, Any]:
    # Go compares NaN as neither less nor greater; any fixed place keeps the sort total here.
    return (t[0], t[1], t[2] if t[1] != FLOAT64 or t[2] == t[2] else float("-inf"))


def _event_first(fields: list[Tag]) -> list[Tag]:
    at = next((i for i, f in enumerate(fields) if f[0] == "event" and f[1] == STRING), None)
    if at is None:
        return sorted(fields, key=_order)
    rest = fields[:at] + fields[at + 1 :]
    return [fields[at], *sorted(rest, key=_order)]


def _ip(t: Tag) -> Tag:
    if t[0] not in ("ip", "peer.ipv4") or t[1] not in (INT64, FLOAT64) or not math.isfinite(t[2]):
        return t
    value = int(t[2]) & 0xFFFFFFFF
    return (t[0], STRING, ".".join(str(value >> s & 0xFF) for s in (24, 16, 8, 0)))


def _clock_skew(spans: list[Span]) -> None:
    """ClockSkew(0): the warnings it writes; it never moves a span when disabled."""
    nodes: dict[int, Span] = {}
    for span in spans:
        if span.span_id in nodes:
            span.warnings.append("duplicate span IDs; skipping clock skew adjustment")
        else:
            nodes[span.span_id] = span
    children: dict[int, list[Span]] = {}
    roots = []
    for span in nodes.values():
        parent_id = parent_of(span)
        if parent_id and parent_id in nodes:
            children.setdefault(parent_id, []).append(span)
            continue
        if parent_id:
            span.warnings.append(
                f"invalid parent span IDs={parent_id:016x}; skipping clock skew adjustment"
            )
        roots.append(span)
    stack: list[tuple[Span, Span | None, str, int]] = [(r, None, _host(r), 0) for r in roots]
    while stack:
        span, parent, host, delta = stack.pop()
        if parent is not None and (_host(span) != host or not _host(span)):
            host, delta = _host(span), _skew(span, parent)
        if delta:
            span.warnings.append(_SKEW_OFF + go_duration(delta))
        stack += [(child, span, host, delta) for child in children.get(span.span_id, [])]


def _host(span: Span) -> str:
    ip = next((t for t in span.process_tags if t[0] == "ip"), None)
    if ip is None:
        return ""
    if ip[1] == STRING:
        return str(ip[2])
    if ip[1] == INT64:
        return ".".join(str(ip[2] >> s & 0xFF) for s in (24, 16, 8, 0))
    return str(ipaddress.ip_address(ip[2])) if ip[1] == BINARY and len(ip[2]) in (4, 16) else ""


def _skew(child: Span, parent: Span) -> int:
    if child.duration_ns > parent.duration_ns:
        return max(parent.start_ns - child.start_ns, 0)
    child_end, parent_end = child.start_ns + child.duration_ns, parent.start_ns + parent.duration_ns
    if child.start_ns >= parent.start_ns and child_end <= parent_end:
        return 0
    latency = (parent.duration_ns - child.duration_ns) // 2  # both >= 0: Go's truncation
    return parent.start_ns + latency - child.start_ns


def render(spans: list[Span]) -> dict[str, Any]:
    """The trace in the UI model (FromDomain)."""
    keys: dict[tuple[Any, ...], str] = {}
    processes: dict[str, dict[str, Any]] = {}
    out = []
    for span in spans:
        process = (span.service, tuple(span.process_tags))
        if process not in keys:
            keys[process] = f"p{len(keys) + 1}"
            processes[keys[process]] = {
                "serviceName": span.service,
                "tags": _tags(span.process_tags),
            }
        out.append({
            "traceID": trace_hex(span.trace_id),
            "spanID": f"{span.span_id:016x}",
            "operationName": span.name,
            "references": [
                {"refType": REF_NAMES[kind], "traceID": trace_hex(tid), "spanID": f"{sid:016x}"}
                for kind, tid, sid in span.refs
            ],
            "startTime": _micros(span.start_ns),
            "duration": _micros(span.duration_ns),
            "tags": _tags(span.tags),
            "logs": [{"timestamp": _micros(ts), "fields": _tags(f)} for ts, f in span.logs],
            "processID": keys[process],
            "warnings": span.warnings or None,
        })  # fmt: skip
    return {
        "traceID": trace_hex(spans[0].trace_id) if spans else "",
        "spans": out,
        "processes": dict(sorted(processes.items())),  # Go writes map keys sorted
        "warnings": None,
    }


def _micros(ns: int) -> int:
    """uint64(ns / 1000), truncated toward zero as Go divides."""
    micros = abs(ns) // 1000
    return (micros if ns >= 0 else -micros) % 2**64


def _tags(tags: list[Tag]) -> list[dict[str, Any]]:
    out = []
    for key, vtype, value in tags:
        if vtype == INT64 and abs(value) > _JS_SAFE:
            value = str(value)
        elif vtype == BOOL:
            value = bool(value)
        out.append({"key": key, "type": VTYPE_NAMES[vtype], "value": value})
    return out
