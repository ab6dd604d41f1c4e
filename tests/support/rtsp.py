"""A real RTSP server on loopback for tests: gst-rtsp-server run by Debian's Python.

``RtspServer(port)`` starts ``tests/support/rtsp_server.py`` under ``/usr/bin/python3`` (pip's
Python cannot import ``gi``) and waits for its ``ready`` line. ``kill()`` simulates a crash
(SIGKILL); ``start()`` again brings it back on the same port, as a rebooted camera would.
``require_rtsp_server()`` skips loudly locally, and fails under CI=true, when it cannot run.
"""

from __future__ import annotations

import selectors
import subprocess
import tempfile
import time
from pathlib import Path

from support.services import free_port, missing

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("rtsp_server.py")
_CHECK = (
    "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
)


def require_rtsp_server() -> None:
    try:
        result = subprocess.run(
            [SYSTEM_PYTHON, "-c", _CHECK], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        missing("gst-rtsp-server for Debian's Python", f"{SYSTEM_PYTHON}: {exc}")
        return
    if result.returncode != 0:
        missing(
            "gst-rtsp-server for Debian's Python",
            "apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-"
            "{base,good,bad,ugly}; .ci/run does: " + result.stderr.strip().splitlines()[-1],
        )


class RtspServer:
    """H.264 640x480@30 from ``videotestsrc`` at ``rtsp://HOST:PORT/test`` (HOST: loopback,
    or another address of this machine that containers reach), with ``audio`` if asked."""

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", audio: str = "none"
    ) -> None:
        self.port = port or free_port()
        self.host = host
        self.audio = audio  # none, aac or pcmu
        self.url = f"rtsp://{host}:{self.port}/test"
        self.proc: subprocess.Popen[str] | None = None
        self._stderr: tempfile._TemporaryFileWrapper[bytes] | None = None

    def start(self, timeout: float = 20.0) -> RtspServer:
        assert self.proc is None, "already running"
        self._stderr = tempfile.NamedTemporaryFile(prefix="rtsp-server-", suffix=".log")  # noqa: SIM115
        proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SCRIPT), str(self.port), "/test", self.host, self.audio],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.proc = proc
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    line = proc.stdout.readline()
                    if line.strip() == "ready":
                        return self
                    if not line:  # it exited
                        break
        error = self._reap()
        raise AssertionError(f"the RTSP server did not start on port {self.port}: {error}")

    def kill(self) -> None:
        """SIGKILL, as a crashed camera: no RTSP TEARDOWN, sockets just close."""
        if self.proc is not None:
            self.proc.kill()
            self._reap()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self._reap()

    def _reap(self) -> str:
        proc, self.proc = self.proc, None
        if proc is None:
            return ""
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
        err = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            err = self._stderr.read().decode(errors="replace").strip()[-2000:]
            self._stderr.close()
            self._stderr = None
        return err

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
