"""Running a service's HTTP server until SIGTERM/SIGINT, then draining and exiting 0.

On a signal the server stops accepting connections, lets in-flight requests finish within
``shutdown_timeout_s`` (then cancels what is left), runs the app's lifespan shutdown (where
services stop their workers) and returns normally, so the process exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from detektor.settings import Settings

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _DrainingServer(uvicorn.Server):
    """uvicorn re-raises the captured signal after shutdown, so the process would die by
    SIGTERM (exit 143) even after a clean drain. A completed drain is a clean exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: object) -> None:
        if not self.should_exit:
            log.info(
                "%s received: draining in-flight work (up to %ss)",
                signal.Signals(sig).name,
                self.config.timeout_graceful_shutdown,
            )
        self.handle_exit(sig, None)


def serve_http(app: FastAPI, settings: Settings, duration_s: float | None = None) -> None:
    """Serve ``app`` on the configured host and port until a shutdown signal drains it, or
    until ``duration_s`` seconds have passed."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        timeout_graceful_shutdown=int(max(1, round(settings.shutdown_timeout_s))),
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    server = _DrainingServer(config)
    # Long-lived answers (the UI's event streams) poll this to end once a drain has begun,
    # instead of holding the shutdown for the whole grace period.
    app.state.stopping = lambda: server.should_exit
    timer = None
    if duration_s is not None:
        timer = threading.Timer(duration_s, lambda: setattr(server, "should_exit", True))
        timer.daemon = True
        timer.start()
    try:
        server.run()
    finally:
        if timer is not None:
            timer.cancel()
    if not server.started:
        raise SystemExit(
            f"could not start the HTTP server on {settings.http_host}:"
            f"{settings.http_port} (see the log above)"
        )
    log.info("stopped cleanly")
