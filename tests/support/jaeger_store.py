"""The stand-in's trace store, searched as Jaeger 2.14's in-memory storage searches
(internal/storage/v2/memory/tenant.go and memory.go):

- traces keep the order in which their first span arrived; a search walks them newest first
  and stops after ``limit`` matches (``limit`` must be 1 … max traces, else an error);
- a trace matches when one of its spans matches everything asked: the service (its
  resource's ``service.name``), the operation (span name), a start time within
  [start, end], a duration within [minDuration, maxDuration] where given, and every tag;
- tags compare as strings (pcommon ``AsString``) against the span's attributes, its scope's,
  its resource's and its events'; ``resource.<key>`` only against the resource;
  ``span.kind``, ``span.status``, ``scope.name`` and ``scope.version`` against those fields;
  and ``error`` — any value, since Jaeger reads the query's string with ``Value.Bool()``,
  which is false — only matches spans whose status is OK, exactly as Jaeger 2.14 does;
- services and operations are remembered even after their traces are gone.

Memory is bounded: beyond ``max_spans`` spans or ``max_traces`` traces (Jaeger's own limit,
100 000 in its all-in-one configuration) the oldest traces go. An event's name is kept as
its log field ``event``, so a tag ``event=<name>`` matches here, which Jaeger's does not.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from support.jaeger_model import STRING, Span, Tag, value_string

_KIND_NAMES = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_KIND_CODES = {v.upper(): k for k, v in _KIND_NAMES.items()}
_STATUS_CODES = {"OK": 1, "ERROR": 2}


class SearchDepthError(ValueError):
    """Jaeger answers this one with 500: it is its storage's error, not the parser's."""


@dataclass
class Query:
    service: str
    start_ns: int
    end_ns: int
    limit: int = 100
    operation: str = ""
    min_duration_ns: int = 0
    max_duration_ns: int = 0
    tags: dict[str, str] = field(default_factory=dict)


class TraceStore:
    def __init__(self, max_spans: int = 200_000, max_traces: int = 100_000) -> None:
        self.max_spans, self.max_traces = max_spans, max_traces
        self._traces: OrderedDict[int, list[Span]] = OrderedDict()
        self._spans = 0
        self._operations: dict[str, set[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def add(self, spans: list[Span]) -> None:
        with self._lock:
            for span in spans:
                kind = _KIND_NAMES.get(span.kind, "")
                self._operations.setdefault(span.service, set()).add((span.name, kind))
                self._traces.setdefault(span.trace_id, []).append(span)
                self._spans += 1
            while self._traces and (
                self._spans > self.max_spans or len(self._traces) > self.max_traces
            ):
                self._spans -= len(self._traces.popitem(last=False)[1])

    def counts(self) -> tuple[int, int]:
        """(traces, spans) held now."""
        with self._lock:
            return len(self._traces), self._spans

    def services(self) -> list[str]:
        with self._lock:
            return sorted(self._operations)

    def operations(self, service: str, kind: str = "") -> list[tuple[str, str]]:
        with self._lock:
            ops = self._operations.get(service, set())
            return sorted(op for op in ops if not kind or op[1] == kind)

    def get(self, trace_id: int) -> list[Span] | None:
        with self._lock:
            spans = self._traces.get(trace_id)
            return list(spans) if spans is not None else None

    def find(self, query: Query) -> list[list[Span]]:
        if query.limit <= 0 or query.limit > self.max_traces:
            raise SearchDepthError("search depth must be greater than 0 and less than max traces")
        found: list[list[Span]] = []
        with self._lock:
            for spans in reversed(self._traces.values()):
                if any(_matches(span, query) for span in spans):
                    found.append(list(spans))
                    if len(found) == query.limit:
                        break
        return found


def _matches(span: Span, q: Query) -> bool:
    if (q.service and span.service != q.service) or (q.operation and span.name != q.operation):
        return False
    if not q.start_ns <= span.start_ns <= q.end_ns:
        return False
    if q.min_duration_ns and span.duration_ns < q.min_duration_ns:
        return False
    if q.max_duration_ns and span.duration_ns > q.max_duration_ns:
        return False
    resource = [("service.name", STRING, span.service), *span.process_tags]
    for key, wanted in q.tags.items():
        if key == "error":
            ok = span.status == 1
        elif key == "span.status":
            ok = span.status == _STATUS_CODES.get(wanted.upper(), 0)
        elif key == "span.kind":
            ok = span.kind == _KIND_CODES.get(wanted.upper(), 0)
        elif key in ("scope.name", "scope.version"):
            ok = wanted == span.scope[0 if key == "scope.name" else 1]
        elif key.startswith("resource."):
            ok = _has(resource, key.removeprefix("resource."), wanted)
        else:
            attrs = span.tags[span.attrs[0] : span.attrs[1]]
            events = [t for _, fields in span.logs for t in fields]
            ok = any(_has(tags, key, wanted) for tags in (attrs, span.scope[2], resource, events))
        if not ok:
            return False
    return True


def _has(tags: list[Tag] | tuple[Tag, ...], key: str, wanted: str) -> bool:
    """pcommon's ``Map.Get`` takes the first entry of a key."""
    first = next((t for t in tags if t[0] == key), None)
    return first is not None and value_string(first) == wanted
