"""Sources: the synthetic scene, a real H.264 file made here, URI checks and RTSP options."""

from __future__ import annotations

import itertools
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import cv2
import numpy as np
import pytest

from detektor.services.capture.sources import (
    DecodedFrame,
    SourceError,
    StreamClock,
    open_source,
    rtsp_options,
)
from detektor.services.capture.synthetic import SceneSpec, SyntheticScene, SyntheticSource


def take(uri: str, n: int, **kwargs: Any) -> list[DecodedFrame]:
    with open_source(uri, **kwargs) as source:
        return list(itertools.islice(source.frames(), n))


# --- the synthetic scene ----------------------------------------------------------------


def test_synthetic_frames_have_the_requested_shape_and_times() -> None:
    source = open_source("synthetic://?fps=12.5&size=320x240", realtime=False)
    assert isinstance(source, SyntheticSource)
    assert source.nominal_fps == 12.5
    assert source.description == "synthetic://?fps=12.5&size=320x240&scene=person&seed=0"
    before = time.time_ns() // 1_000_000
    with source:
        frames = list(itertools.islice(source.frames(), 25))
    assert all(f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [f.pts for f in frames] == list(range(25))
    assert [f.time_s for f in frames] == pytest.approx([i / 12.5 for i in range(25)])
    assert (frames[0].width, frames[0].height) == (320, 240)
    assert before <= frames[0].wall_ms <= frames[-1].wall_ms <= time.time_ns() // 1_000_000


def test_synthetic_defaults() -> None:
    assert SceneSpec.parse("synthetic://") == SceneSpec(fps=10, width=640, height=480)
    assert SceneSpec.parse("synthetic:///?scene=empty&seed=3") == SceneSpec(scene="empty", seed=3)


def test_synthetic_source_is_paced_in_real_time() -> None:
    start = time.monotonic()
    frames = take("synthetic://?fps=20&size=160x120", 11)
    elapsed = time.monotonic() - start
    assert 0.45 <= elapsed < 1.5
    assert frames[-1].time_s == pytest.approx(0.5)


def test_unpaced_synthetic_source_runs_as_fast_as_it_renders() -> None:
    start = time.monotonic()
    frames = take("synthetic://?fps=1&size=160x120", 30, realtime=False)
    assert time.monotonic() - start < 5  # 30 s of scene time
    assert frames[-1].time_s == 29


def test_close_from_another_thread_ends_a_paced_synthetic_source() -> None:
    source = open_source("synthetic://?fps=0.1&size=64x48")
    got: list[DecodedFrame] = []
    reader = threading.Thread(target=lambda: got.extend(source.frames()))
    reader.start()
    time.sleep(0.2)
    source.close()
    reader.join(2)
    assert not reader.is_alive()
    assert len(got) == 1


def test_seed_makes_the_scene_deterministic() -> None:
    a = take("synthetic://?fps=10&size=320x240&seed=5", 12, realtime=False)
    b = take("synthetic://?fps=10&size=320x240&seed=5", 12, realtime=False)
    c = take("synthetic://?fps=10&size=320x240&seed=6", 12, realtime=False)
    # pixels are rendered lazily, in any order: the same frame is the same image
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a[::-1], b[::-1], strict=True))
    assert not np.array_equal(a[5].image, c[5].image)
    assert not np.array_equal(a[0].image, a[5].image)  # the person moves


def test_scenes() -> None:
    spec = {"fps": 10.0, "width": 320, "height": 240}
    person = SyntheticScene(SceneSpec(**spec, scene="person"))  # type: ignore[arg-type]
    empty = SyntheticScene(SceneSpec(**spec, scene="empty"))  # type: ignore[arg-type]
    static = SyntheticScene(SceneSpec(**spec, scene="static"))  # type: ignore[arg-type]
    assert empty.person_box(0) is None
    assert person.person_box(0) != person.person_box(10)
    assert static.person_box(0) == static.person_box(50)
    assert np.array_equal(static.render(0), static.render(77))
    static.render(0)[:] = 0  # a rendered frame is the caller's to keep and change
    assert static.render(1).any()
    # the astronaut is there: the person box differs from the empty scene's gravel
    x1, y1, x2, y2 = person.person_box(3) or (0, 0, 0, 0)
    region = (slice(y1, y2), slice(x1, x2))
    diff = np.abs(person.render(3)[region].astype(int) - empty.render(3)[region].astype(int))
    assert diff.mean() > 30
    assert (x2 - x1, y2 - y1) == (98, 144)  # 60% of the height
    boxes = [person.person_box(i) or (0, 0, 0, 0) for i in range(0, 200, 3)]
    assert all(0 <= b[0] < b[2] <= 320 and 0 <= b[1] < b[3] <= 240 for b in boxes)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://camera/stream", "unknown source scheme 'http://'"),
        ("synthetic://?fps=0", r"fps must be in \(0, 120\]"),
        ("synthetic://?fps=fast", "fps must be"),
        ("synthetic://?fps=nan", "fps must be"),
        ("synthetic://?size=640", "size must look like 640x480"),
        ("synthetic://?size=8x8", "between 32x32"),
        ("synthetic://?scene=party", "scene must be one of person, empty, static"),
        ("synthetic://?seed=-1", "seed must be an integer"),
        ("synthetic://?colour=red", r"unknown \['colour'\]; use only fps, size, scene, seed"),
        ("synthetic://?fps=1&fps=2", "repeated parameters"),
        ("synthetic://camera?fps=10", "looks like synthetic://"),
        ("rtsp:///stream", "needs a host"),
        ("file://nas/videos/a.mp4", "file:///path/to/video.mp4"),
    ],
)
def test_invalid_uris_are_rejected_at_open(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_source(uri)


def test_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="video file not found"):
        open_source(str(tmp_path / "nope.mp4"))
    with pytest.raises(ValueError, match="rtsp_transport must be 'tcp' or 'udp'"):
        open_source("rtsp://cam/x", rtsp_transport="sctp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeouts"):
        open_source("rtsp://cam/x", open_timeout_s=0)


# --- a real H.264 file -------------------------------------------------------------------


@pytest.fixture(scope="module")
def h264_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """50 frames of the synthetic scene at 25 fps, 320x240, encoded with PyAV's libx264."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    scene = SyntheticScene(SceneSpec(fps=25, width=320, height=240, seed=2))
    originals = [scene.render(i) for i in range(50)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for image in originals:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path, originals


def test_file_source_decodes_every_frame(h264_file: tuple[Path, list[np.ndarray]]) -> None:
    path, originals = h264_file
    with open_source(str(path)) as source:
        assert source.nominal_fps == 25
        assert source.description == str(path)
        frames = list(source.frames())
    assert len(frames) == 50
    assert [f.time_s for f in frames] == pytest.approx([i / 25 for i in range(50)])
    assert all((f.width, f.height) == (320, 240) for f in frames)
    for frame, original in zip(frames[::7], originals[::7], strict=True):
        assert frame.image.shape == (240, 320, 3)
        error = np.abs(frame.image.astype(float) - original.astype(float)).mean()
        assert error < 6  # the same picture, through H.264 and 4:2:0


def test_file_uri_and_realtime_pacing(h264_file: tuple[Path, list[np.ndarray]]) -> None:
    path, _ = h264_file
    start = time.monotonic()
    frames = take(path.as_uri(), 13, realtime=True)
    assert 0.45 <= time.monotonic() - start < 2
    assert frames[-1].time_s == pytest.approx(0.48)


def test_file_plays_as_fast_as_it_decodes_by_default(h264_file: tuple[Path, Any]) -> None:
    start = time.monotonic()
    assert len(take(str(h264_file[0]), 50)) == 50
    assert time.monotonic() - start < 1.5  # 2 s of video


def test_images_are_converted_only_when_read(
    h264_file: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = cv2.cvtColor

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(cv2, "cvtColor", counting)
    frames = take(str(h264_file[0]), 50)
    assert calls == []
    image = frames[10].image
    assert frames[10].image is image
    assert len(calls) == 1


def test_close_from_another_thread_while_reading(h264_file: tuple[Path, Any]) -> None:
    source = open_source(str(h264_file[0]), realtime=True)
    got: list[DecodedFrame] = []
    reader = threading.Thread(target=lambda: got.extend(source.frames()))
    reader.start()
    time.sleep(0.3)
    source.close()
    reader.join(3)
    assert not reader.is_alive()
    assert 3 <= len(got) < 50
    assert got[-1].image.shape == (240, 320, 3)  # pixels outlive the container


def test_frames_is_iterated_once(h264_file: tuple[Path, Any]) -> None:
    with open_source(str(h264_file[0])) as source:
        next(source.frames())
        with pytest.raises(RuntimeError, match="once"):
            next(source.frames())


def test_a_file_that_is_not_video_is_a_source_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_text("not a video")
    with pytest.raises(SourceError, match="cannot open") as info:
        open_source(str(junk))
    assert info.value.__cause__ is None


# --- RTSP options (no server needed; tests/integration/test_rtsp_source.py has one) -------


def test_rtsp_options() -> None:
    assert rtsp_options("tcp", 10) == {"rtsp_transport": "tcp", "timeout": "10000000"}
    assert rtsp_options("udp", 2.5) == {"rtsp_transport": "udp", "timeout": "2500000"}


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_open_passes_transport_and_timeouts_and_masks_errors(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def refuse(target: str, **kwargs: Any) -> Any:
        seen.update(kwargs, target=target)
        raise av.error.ConnectionRefusedError(111, "Connection refused", target)

    monkeypatch.setattr(av, "open", refuse)
    url = "rtsp://admin:hunter2@cam.local:8554/live"
    with pytest.raises(SourceError) as info:
        open_source(url, rtsp_transport=transport, open_timeout_s=3, read_timeout_s=4)  # type: ignore[arg-type]
    assert seen["target"] == url
    # FFmpeg waits twice before giving up (see open_source): each wait gets half
    assert seen["options"] == {"rtsp_transport": transport, "timeout": "2000000"}
    assert seen["timeout"] == (3, 2)
    message = str(info.value)
    assert "hunter2" not in message
    assert message == "cannot open rtsp://admin:***@cam.local:8554/live: Connection refused"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


# --- stream time ---------------------------------------------------------------------------


def test_stream_clock_starts_at_zero_and_never_goes_back() -> None:
    clock = StreamClock(0.04)
    times = [clock.time_of(raw) for raw in (None, 100.04, 100.08, 100.12, 3.0, 3.04, None)]
    assert times == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16, 0.20, 0.24])


def test_decoded_frame_converts_once() -> None:
    calls: list[int] = []

    def convert() -> np.ndarray:
        calls.append(1)
        return np.zeros((2, 2, 3), np.uint8)

    frame = DecodedFrame(convert, width=2, height=2, pts=None, time_s=0.0, wall_ms=0)
    assert calls == []
    assert frame.image is frame.image
    assert calls == [1]
