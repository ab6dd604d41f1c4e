"""Small HTTP servers speaking the documented API shapes the verify checks use.

- Jaeger query API (the UI's HTTP JSON API): ``/api/services``, ``/api/traces`` and
  ``/api/traces/{id}``, with ``data`` arrays of traces holding ``traceID``, ``spans``
  (with ``references``) and ``processes`` (``serviceName``).
- Docker Engine API on a unix socket: ``/containers/json``, ``/containers/{id}/json``
  (``Name``, ``RestartCount``, ``State``) and ``/containers/{id}/logs`` in the multiplexed
  stream format (8-byte header: stream, 0, 0, 0, big-endian length).
- The tracking API's ``/v1/frames`` listing, for the canary frame's trace id.
"""

from __future__ import annotations

import json
import socketserver
import threading
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


def multiplexed(*frames: tuple[int, str]) -> bytes:
    """Docker's log stream: (1 stdout | 2 stderr, text) frames."""
    out = b""
    for stream, text in frames:
        payload = text.encode()
        out += bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload
    return out
