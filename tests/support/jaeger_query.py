"""Jaeger 2.14's query HTTP API (the JSON API behind its UI), answered from a ``TraceStore``:
cmd/jaeger/internal/extension/jaegerquery/internal/http_handler.go, query_parser.go,
default_params.go and static_handler.go at v2.14.0.

- ``GET /api/services``, ``/api/services/{service}/operations``, ``/api/operations?service=``;
- ``GET /api/traces?service=&operation=&start=&end=&limit=&minDuration=&maxDuration=&tag=&tags=
  &traceID=&raw=``: ``start``/``end`` in µs since the epoch (defaults: two days ago, now),
  ``limit`` 100 by default; ``lookback`` is ignored, as Jaeger ignores it;
- ``GET /api/traces/{traceID}[?raw=true]``.

Every answer is ``{"data", "total", "limit", "offset", "errors"}`` (``total`` is only set
for the service and operation lists; a search's is 0). A bad parameter is 400, an unknown
trace 404, a search deeper than the store 500, all with Go's ``http.Error``: text/plain,
``{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":N,"msg":"…"}]}`` and a
newline. Another method on an API route is 405 with no body; any other path answers 200
with the UI's index page, as Jaeger's static handler does (``GET /`` is a health probe).
Jaeger's ``/api/v3`` gateway, dependencies and metrics routes are not served.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from support.gofmt import go_json
from support.jaeger_adjust import adjust, render, trace_hex
from support.jaeger_model import Span
from support.jaeger_store import Query, SearchDepthError, TraceStore

Answer = tuple[int, str, bytes]
INDEX = b"<!doctype html><title>Jaeger UI (stand-in)</title><p>Jaeger query API stand-in.</p>\n"
_LOOKBACK_US = 2 * 24 * 3600 * 1_000_000
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


class BadRequest(ValueError):
    pass


def answer(store: TraceStore, method: str, target: str) -> Answer:
    """The query API's answer to one request."""
    url = urlsplit(target)
    path = url.path
    form = parse_qs(url.query, keep_blank_values=True, errors="replace")
    api = re.fullmatch(
        r"/api/(services|operations|traces|services/[^/]+/operations|traces/[^/]+)", path
    )
    if not api:
        return 200, "text/html; charset=utf-8", INDEX
    if method != "GET":
        return 405, "", b""
    try:
        return _route(store, api.group(1), form)
    except BadRequest as exc:
        return _error(400, str(exc))
    except SearchDepthError as exc:
        return _error(500, str(exc))


def _route(store: TraceStore, route: str, form: dict[str, list[str]]) -> Answer:
    def value(name: str) -> str:
        return form.get(name, [""])[0]

    if route == "services":
        services = store.services()
        return _ok(services or None, total=len(services))
    if route.startswith("services/"):
        names = sorted({name for name, _ in store.operations(unquote_plus(route.split("/")[1]))})
        return _ok(names or None, total=len(names))
    if route == "operations":
        if not value("service"):
            raise BadRequest("parameter 'service' is required")
        ops = store.operations(value("service"), value("spanKind"))
        return _ok([{"name": n, "spanKind": k} for n, k in ops], total=len(ops))
    if route.startswith("traces/"):
        trace_id = parse_trace_id(route.split("/", 1)[1])
        for name in ("start", "end"):
            if value(name):
                _int(value(name), name, 64)
        raw = _bool(value("raw"))
        spans = store.get(trace_id)
        if spans is None:
            return _error(404, "trace not found")
        return _traces([spans], raw)
    return _search(store, form, value)


def _search(store: TraceStore, form: dict[str, list[str]], value: Any) -> Answer:
    now_us = time.time_ns() // 1000
    start = _int(value("start"), "start", 64) if value("start") else now_us - _LOOKBACK_US
    end = _int(value("end"), "end", 64) if value("end") else now_us
    tags = _tags(form.get("tag", []), form.get("tags", []))
    limit = _int(value("limit"), "", 32) if value("limit") else 100
    min_d, max_d = (
        _duration(value("minDuration"), "minDuration"),
        _duration(value("maxDuration"), "maxDuration"),
    )
    try:
        ids = [parse_trace_id(v) for v in form.get("traceID", [])]
    except BadRequest as exc:
        raise BadRequest(f"cannot parse traceID param: {exc}") from exc
    raw = _bool(value("raw"))
    if not ids and not value("service"):
        raise BadRequest("parameter 'service' is required")
    if min_d and max_d and max_d < min_d:
        raise BadRequest("'maxDuration' should be greater than 'minDuration'")
    if ids:
        found = [(tid, store.get(tid)) for tid in ids]
        errors = [
            {"msg": "trace not found", "traceID": trace_hex(tid)} for tid, s in found if s is None
        ]
        return _traces([s for _, s in found if s is not None], raw, errors or None)
    query = Query(
        value("service"), start * 1000, end * 1000, limit, value("operation"), min_d, max_d, tags
    )
    return _traces(store.find(query), raw)


def parse_trace_id(text: str) -> int:
    """jaeger-idl's TraceIDFromString: up to 32 hex digits, each half parsed as a uint64."""
    if len(text) > 32:
        raise BadRequest(f"TraceID cannot be longer than 32 hex characters: {text}")
    if len(text) > 16:
        return (_hex(text[:-16]) << 64) | _hex(text[-16:])
    return _hex(text)


def _hex(text: str) -> int:
    if not re.fullmatch(r"[0-9a-fA-F]+", text):
        raise BadRequest(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    return int(text, 16)


def _int(text: str, name: str, bits: int) -> int:
    """strconv.ParseInt(text, 10, bits), the error wrapped with the parameter's name."""
    problem = "invalid syntax" if not re.fullmatch(r"[+-]?[0-9]+", text) else None
    if problem is None and not -(2 ** (bits - 1)) <= int(text) < 2 ** (bits - 1):
        problem = "value out of range"
    if problem is None:
        return int(text)
    message = f'strconv.ParseInt: parsing "{text}": {problem}'
    raise BadRequest(f"unable to parse param '{name}': {message}" if name else message)


def _bool(text: str) -> bool:
    if text and text not in _TRUE + _FALSE:
        raise BadRequest(
            f"unable to parse param 'raw': strconv.ParseBool: parsing \"{text}\": invalid syntax"
        )
    return text in _TRUE


def _duration(text: str, name: str) -> int:
    """time.ParseDuration, in nanoseconds (0 when absent)."""
    if not text or text in ("0", "+0", "-0"):
        return 0
    sign, body = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
    parts = _DURATION.findall(body)
    if (
        not parts
        or "".join(n + u for n, u in parts) != body
        or any(n in ("", ".") for n, _ in parts)
    ):
        problem = (
            "missing unit in duration" if re.fullmatch(r"[0-9.]+", body) else "invalid duration"
        )
        raise BadRequest(f"unable to parse param '{name}': time: {problem} \"{text}\"")
    return sign * int(sum(float(n) * _UNITS[u] for n, u in parts))


def _tags(simple: list[str], as_json: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in simple:
        key, sep, rest = item.partition(":")
        if not sep:
            raise BadRequest(f"malformed 'tag' parameter, expecting key:value, received: {item}")
        out[key] = rest
    for item in as_json:
        try:
            parsed = json.loads(item)
        except ValueError as exc:
            raise BadRequest(f"malformed 'tags' parameter, cannot unmarshal JSON: {exc}") from exc
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise BadRequest(
                "malformed 'tags' parameter, cannot unmarshal JSON: not an object of strings"
            )
        out.update(parsed)
    return out


def _traces(traces: list[list[Span]], raw: bool, errors: list[Any] | None = None) -> Answer:
    data = [render(spans if raw else adjust(spans)) for spans in traces]
    return _ok(data, errors=errors)


def _ok(data: Any, total: int = 0, errors: Any = None) -> Answer:
    body = {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}
    try:
        return 200, "application/json", go_json(body)
    except ValueError as exc:
        return _error(500, f"failed marshalling HTTP response to JSON: {exc}")


def _error(code: int, message: str) -> Answer:
    body = {
        "data": None,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{"code": code, "msg": message}],
    }
    return code, "text/plain; charset=utf-8", go_json(body) + b"\n"
