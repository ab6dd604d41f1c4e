"""RTSP sources against a real server: Debian's gst-rtsp-server on loopback (tests/support/rtsp.py).

Frames arrive over TCP and UDP; a killed server ends the stream at once, a frozen one within
the read timeout; a dead or silent server never hangs ``open_source``; and after a restart a
new ``open_source`` on the same URL works, as after a camera reboot.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from detektor.services.capture.sources import DecodedFrame, SourceError, open_source
from support.rtsp import RtspServer, require_rtsp_server
from support.services import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[RtspServer]:
    require_rtsp_server()
    with RtspServer() as running:
        yield running


def drain(frames: Iterator[DecodedFrame], limit_s: float) -> tuple[float, BaseException | None]:
    """Read until the iterator ends or raises; (seconds it took, what it raised)."""
    start = time.monotonic()
    try:
        for _ in frames:
            if time.monotonic() - start > limit_s:
                raise AssertionError(f"frames still coming after {limit_s}s")
    except SourceError as exc:
        return time.monotonic() - start, exc
    return time.monotonic() - start, None


def check_live_frames(frames: list[DecodedFrame]) -> None:
    assert all((f.width, f.height) == (640, 480) for f in frames)
    assert frames[0].time_s == 0.0
    times = [f.time_s for f in frames]
    assert times == sorted(times)
    assert times[-1] == pytest.approx((len(frames) - 1) / 30, abs=0.05)
    assert frames[-1].image.shape == (480, 640, 3)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_frames_arrive_live(server: RtspServer, transport: str) -> None:
    with open_source(server.url, rtsp_transport=transport, open_timeout_s=10) as source:  # type: ignore[arg-type]
        assert source.nominal_fps == 30
        frames = source.frames()
        first = list(itertools.islice(frames, 30))  # FFmpeg's probing buffers about a second
        start = time.monotonic()
        later = list(itertools.islice(frames, 60))
        elapsed = time.monotonic() - start
    check_live_frames(first + later)
    assert 1.2 < elapsed < 4  # a live camera: 60 frames take about 2 s


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_killed_server_ends_the_stream_and_a_restart_reconnects(
    server: RtspServer, transport: str
) -> None:
    source = open_source(server.url, rtsp_transport=transport, read_timeout_s=3)  # type: ignore[arg-type]
    frames = source.frames()
    try:
        assert len(list(itertools.islice(frames, 10))) == 10
        server.kill()
        took, _ = drain(frames, limit_s=10)
    finally:
        source.close()
    assert took < 3.5  # ended or raised: at once when the socket closes, else at the timeout

    server.start()  # same port, same URL: a rebooted camera
    with open_source(server.url, rtsp_transport=transport) as again:  # type: ignore[arg-type]
        restarted = list(itertools.islice(again.frames(), 5))
    assert restarted[0].time_s == 0.0  # stream time restarts with the connection


def test_frozen_server_fails_the_read_within_the_timeout(server: RtspServer) -> None:
    """The server process stops (SIGSTOP): the socket stays open and no data comes."""
    source = open_source(server.url, read_timeout_s=2)
    assert server.proc is not None
    pid = server.proc.pid
    frames = source.frames()
    try:
        assert len(list(itertools.islice(frames, 40))) == 40
        os.kill(pid, signal.SIGSTOP)
        took, error = drain(frames, limit_s=15)
    finally:
        os.kill(pid, signal.SIGCONT)
        source.close()
    assert error is not None  # no data for the read timeout: it gives up
    assert 1.5 <= took < 4


def test_close_from_another_thread_stops_a_blocked_reader(server: RtspServer) -> None:
    source = open_source(server.url, read_timeout_s=2)
    assert server.proc is not None
    pid = server.proc.pid
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(sum(1 for _ in source.frames()))
        except SourceError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read)
    try:
        reader.start()
        time.sleep(1.5)
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.3)  # the reader now waits for data that will not come
        start = time.monotonic()
        source.close()
        assert time.monotonic() - start < 0.5  # close() does not wait for the read
        reader.join(5)
        assert not reader.is_alive()
    finally:
        os.kill(pid, signal.SIGCONT)
        reader.join(5)


def test_refused_connection_fails_fast_with_credentials_masked() -> None:
    url = f"rtsp://admin:hunter2@127.0.0.1:{free_port()}/test"
    start = time.monotonic()
    with pytest.raises(SourceError) as info:
        open_source(url, open_timeout_s=5)
    assert time.monotonic() - start < 3
    assert "hunter2" not in str(info.value)
    assert "rtsp://admin:***@127.0.0.1" in str(info.value)
    assert info.value.__cause__ is None


def test_silent_server_cannot_hang_open() -> None:
    """Something accepts the TCP connection and never answers RTSP."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(SourceError, match="cannot open"):
            open_source(f"rtsp://127.0.0.1:{port}/test", open_timeout_s=1.5)
        assert time.monotonic() - start < 4
