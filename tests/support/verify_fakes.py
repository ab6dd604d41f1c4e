"""Small HTTP servers speaking the documented API shapes the verify checks use.

- Jaeger query API (the UI's HTTP JSON API, as jaeger-query v1/v2 serves it):
  ``/api/services``, ``/api/traces`` (``service`` required, ``start``/``end`` in µs since the
  epoch, ``limit``; no ``lookback``, which the API ignores) and ``/api/traces/{id}``, each
  answering ``{"data": [...], "total", "limit", "offset", "errors"}`` with traces holding
  ``traceID``, ``spans`` (``traceID``, ``spanID``, ``operationName``, ``references`` of
  ``refType``/``traceID``/``spanID``, ``startTime`` µs, ``duration``, ``processID``) and
  ``processes`` (``{"p1": {"serviceName", "tags"}}``): ``FakeJaeger``.
- Docker Engine API on a unix socket: ``/containers/json``, ``/containers/{id}/json``
  (``Name``, ``RestartCount``, ``State``) and ``/containers/{id}/logs`` in the multiplexed
  stream format (8-byte header: stream, 0, 0, 0, big-endian length).
- The tracking API's ``/v1/frames`` listing, for the canary frame's trace id.
"""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Route = Callable[[str, dict[str, list[str]]], tuple[int, bytes, str] | None]


def json_reply(body: Any) -> tuple[int, bytes, str]:
    return 200, json.dumps(body).encode(), "application/json"


def _handler(route: Route, seen: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            seen.append(self.path)
            answer = route(url.path, parse_qs(url.query))
            status, body, kind = answer or (404, b'{"message": "not found"}', "application/json")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class FakeHttp:
    """A TCP server answering GETs with ``route``; ``requests`` records the paths asked."""

    def __init__(self, route: Route) -> None:
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(route, self.requests))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeHttp:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _UnixHttpServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeUnixHttp:
    """The same on a unix socket, as the Docker Engine listens."""

    def __init__(self, path: Path, route: Route) -> None:
        self.requests: list[str] = []
        self.path = path
        handler = _handler(route, self.requests)

        class UnixHandler(handler):  # type: ignore[valid-type,misc]
            def address_string(self) -> str:
                return "unix"

        self.server = _UnixHttpServer(str(path), UnixHandler)

    def __enter__(self) -> FakeUnixHttp:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def jaeger_trace(
    trace_id: str, spans: list[tuple[str, list[tuple[str, str, str]]]], start_us: int
) -> dict[str, Any]:
    """A trace as Jaeger's API returns it; ``spans`` are (service, references), each
    reference (refType, traceID, spanID)."""
    services = sorted({service for service, _ in spans})
    pid = {s: f"p{i}" for i, s in enumerate(services, 1)}
    return {
        "traceID": trace_id,
        "spans": [
            {
                "traceID": trace_id,
                "spanID": f"{n + 1:016x}",
                "operationName": f"op {service}",
                "references": [
                    {"refType": kind, "traceID": tid, "spanID": sid} for kind, tid, sid in refs
                ],
                "startTime": start_us + n,
                "duration": 1000,
                "tags": [],
                "logs": [],
                "processID": pid[service],
                "warnings": None,
            }
            for n, (service, refs) in enumerate(spans)
        ],
        "processes": {pid[s]: {"serviceName": s, "tags": []} for s in services},
        "warnings": None,
    }


def jaeger_route(traces: list[dict[str, Any]], asked: list[dict[str, list[str]]]) -> Route:
    """Jaeger's query API over ``traces``; each /api/traces search's parameters go to ``asked``."""

    def answer(data: list[Any], status: int = 200, error: str | None = None) -> Any:
        errors = [{"code": status, "msg": error}] if error else None
        body = {"data": data, "total": len(data), "limit": 0, "offset": 0, "errors": errors}
        return status, json.dumps(body).encode(), "application/json"

    def services_of(trace: dict[str, Any]) -> set[str]:
        return {p["serviceName"] for p in trace["processes"].values()}

    def route(path: str, query: dict[str, list[str]]) -> Any:
        if path == "/api/services":
            return answer(sorted({s for t in traces for s in services_of(t)}))
        if path == "/api/traces":
            asked.append(query)
            if "service" not in query:
                return answer([], 400, "parameter 'service' is required")
            now = int(time.time() * 1e6)
            start = int(query.get("start", [now - 3600 * 1_000_000])[0])
            end = int(query.get("end", [now])[0])
            limit = int(query.get("limit", ["100"])[0])
            found = [
                t
                for t in traces
                if query["service"][0] in services_of(t)
                and any(start <= s["startTime"] <= end for s in t["spans"])
            ]
            # newest first, as Jaeger's search answers, cut at the limit
            found.sort(key=lambda t: max(s["startTime"] for s in t["spans"]), reverse=True)
            return answer(found[:limit])
        if path.startswith("/api/traces/"):
            wanted = path.rsplit("/", 1)[1].lower().lstrip("0")
            hit = [t for t in traces if t["traceID"].lstrip("0") == wanted]
            return answer(hit) if hit else answer([], 404, "trace not found")
        return None

    return route


def multiplexed(*frames: tuple[int, str]) -> bytes:
    """Docker's log stream: (1 stdout | 2 stderr, text) frames."""
    out = b""
    for stream, text in frames:
        payload = text.encode()
        out += bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload
    return out
