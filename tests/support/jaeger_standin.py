"""A stand-in for Jaeger 2.14 all-in-one (deploy/compose.yml's ``jaeger`` service) where no
image can be pulled: it receives real OTLP/HTTP traces and answers Jaeger's query API with
the JSON Jaeger's own code would write for them.

Run it in a container of the Detektor image, with ``tests/`` on the path::

    PYTHONPATH=/path/to/tests python -m support.jaeger_standin

or in-process: ``with JaegerStandin(host="127.0.0.1", otlp_port=0, ...) as jaeger:``.

Ports (environment variables of ``-m``, constructor arguments in-process):

- ``JAEGER_STANDIN_HOST`` (0.0.0.0): the address all three listen on;
- ``JAEGER_STANDIN_OTLP_PORT`` (4318): OTLP/HTTP, ``POST /v1/traces`` (support.otlp_http);
- ``JAEGER_STANDIN_QUERY_PORT`` (16686): the query API and a placeholder UI page
  (support.jaeger_query);
- ``JAEGER_STANDIN_HEALTH_PORT`` (13133): ``GET /status``, healthcheckv2's answer
  ``{"start_time", "healthy": true, "status": "StatusOK", "status_time"}`` with 200 — the
  health check to use (``python -c "import urllib.request;
  urllib.request.urlopen('http://127.0.0.1:13133/status')"``); ``GET /`` on 16686 answers
  200 as well;
- ``JAEGER_STANDIN_MAX_SPANS`` (200000) and ``JAEGER_STANDIN_MAX_TRACES`` (100000, Jaeger's
  own ``max_traces``): beyond either the oldest traces are dropped.

What is reproduced, and from which Jaeger source, is in the docstrings of support.otlp_http
(the receiver), support.jaeger_model (OTLP to Jaeger spans), support.jaeger_store (storage
and search), support.jaeger_adjust (adjusters and JSON model) and support.jaeger_query (the
HTTP API). Every request is answered; none can stop the server.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support import jaeger_query, otlp_http
from support.gofmt import go_rfc3339
from support.jaeger_model import spans_of
from support.jaeger_store import TraceStore

Responder = Callable[[BaseHTTPRequestHandler, str, bytes | None], tuple[int, str, bytes]]


class JaegerStandin:
    """The three listeners over one store; ``with`` starts and stops them."""

    def __init__(
        self,
        host: str = "0.0.0.0",
        otlp_port: int = 4318,
        query_port: int = 16686,
        health_port: int = 13133,
        max_spans: int = 200_000,
        max_traces: int = 100_000,
    ) -> None:
        self.store = TraceStore(max_spans, max_traces)
        self.started_ns = time.time_ns()
        self.rejected: list[str] = []
        self._servers = [
            _server(host, otlp_port, self._otlp),
            _server(host, query_port, self._query),
            _server(host, health_port, self._health),
        ]
        self.otlp_port, self.query_port, self.health_port = (
            s.server_address[1] for s in self._servers
        )
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.otlp_endpoint = f"http://{shown}:{self.otlp_port}"
        self.query_url = f"http://{shown}:{self.query_port}"
        self.health_url = f"http://{shown}:{self.health_port}/status"

    def __enter__(self) -> JaegerStandin:
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def _otlp(
        self, handler: BaseHTTPRequestHandler, method: str, body: bytes | None
    ) -> tuple[int, str, bytes]:
        reply = otlp_http.export(method, handler.path, handler.headers, body)
        if reply.request is not None:
            self.store.add(spans_of(reply.request))
        elif reply.status >= 400:
            note = f"{method} {handler.path} -> {reply.status}: {reply.body[:200]!r}"
            self.rejected.append(note)
            del self.rejected[:-100]  # the latest only: a client may keep sending garbage
            print(f"jaeger-standin: rejected {note}", file=sys.stderr, flush=True)
        return reply.status, reply.content_type, reply.body

    def _query(
        self, handler: BaseHTTPRequestHandler, method: str, body: bytes | None
    ) -> tuple[int, str, bytes]:
        return jaeger_query.answer(self.store, method, handler.path)

    def _health(
        self, handler: BaseHTTPRequestHandler, method: str, body: bytes | None
    ) -> tuple[int, str, bytes]:
        if handler.path.split("?", 1)[0] != "/status":
            return 404, "text/plain; charset=utf-8", b"404 page not found\n"
        now = go_rfc3339(time.time_ns())
        status = {
            "start_time": go_rfc3339(self.started_ns),
            "healthy": True,
            "status": "StatusOK",
            "status_time": now,
        }
        return 200, "application/json", json.dumps(status, separators=(",", ":")).encode()


def _server(host: str, port: int, respond: Responder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60  # a client that stops sending mid-request does not hold a thread forever

        def _any(self) -> None:
            try:
                body = otlp_http.read_body(self)
                status, kind, payload = respond(self, self.command, body)
            except Exception as exc:  # a request must never take the server down
                print(
                    f"jaeger-standin: {self.command} {self.path}: {exc!r}",
                    file=sys.stderr,
                    flush=True,
                )
                status, kind, payload = 500, "text/plain; charset=utf-8", f"{exc!r}\n".encode()
            self.send_response(status)
            if kind:
                self.send_header("Content-Type", kind)
            if kind == "text/plain; charset=utf-8":  # Go's http.Error adds it
                self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    env = os.environ.get
    standin = JaegerStandin(
        host=env("JAEGER_STANDIN_HOST", "0.0.0.0"),
        otlp_port=int(env("JAEGER_STANDIN_OTLP_PORT", "4318")),
        query_port=int(env("JAEGER_STANDIN_QUERY_PORT", "16686")),
        health_port=int(env("JAEGER_STANDIN_HEALTH_PORT", "13133")),
        max_spans=int(env("JAEGER_STANDIN_MAX_SPANS", "200000")),
        max_traces=int(env("JAEGER_STANDIN_MAX_TRACES", "100000")),
    )
    stop = threading.Event()
    # As PID 1 in a container, a process that sets no handler ignores SIGTERM.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with standin:
        print(
            f"jaeger-standin: OTLP/HTTP on :{standin.otlp_port}, query API on "
            f":{standin.query_port}, health on :{standin.health_port}/status",
            file=sys.stderr,
            flush=True,
        )
        stop.wait()
    traces, spans = standin.store.counts()
    print(
        f"jaeger-standin: stopped holding {traces} traces, {spans} spans",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    main()
