"""Startup repair of ``.mp4.part`` leftovers: a segment cut at any byte is kept only if every
frame left in it decodes, else deleted; garbage and empty files are deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import av.error
import pytest

from detektor.services.capture.recorder import Recorder
from detektor.services.capture.repair import repair, whole_fragments
from detektor.services.capture.segments import Segment
from detektor.services.capture.sources import open_source
from support.recordings import decode_all, make_video


@pytest.fixture(scope="module")
def segment(tmp_path_factory: pytest.TempPathFactory) -> Segment:
    """One whole 4 s segment (a keyframe a second, so 4 fragments), with audio."""
    work = tmp_path_factory.mktemp("segment")
    make_video(work / "clip.mp4", seconds=4)
    kept: list[Segment] = []
    recorder = Recorder("cam", work / "rec", segment_s=60, on_segment=kept.append)
    with open_source(str(work / "clip.mp4"), recorder=recorder) as source:
        for _ in source.frames():
            pass
    recorder.close()
    return kept[0]


def leftover(root: Path, segment: Segment, size: int | None = None) -> Path:
    part = root / "cam" / segment.path.parent.name / (segment.path.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    data = segment.path.read_bytes()
    part.write_bytes(data if size is None else data[:size])
    return part


def test_a_whole_leftover_is_kept_as_it_was_written(segment: Segment, tmp_path: Path) -> None:
    part = leftover(tmp_path, segment)
    [kept] = repair(tmp_path)
    assert not part.exists()
    assert kept.path == part.with_name(segment.path.name)
    assert (kept.camera, kept.codec, kept.audio, kept.keyframes) == ("cam", "h264", True, 4)
    assert kept.start == segment.start  # to the microsecond, from the file's tag
    assert kept.duration_s == pytest.approx(4.0, abs=0.05)
    assert kept.bytes == kept.path.stat().st_size == segment.bytes
    assert decode_all(kept.path) == 100


def test_a_leftover_cut_at_any_byte_plays_or_is_gone(segment: Segment, tmp_path: Path) -> None:
    size = segment.bytes
    cuts = sorted({*range(0, 2000, 97), *range(0, size, max(1, size // 60)), size - 1})
    outcomes: dict[str, int] = {"kept": 0, "deleted": 0}
    for i, cut in enumerate(cuts):
        root = tmp_path / str(i)
        part = leftover(root, segment, cut)
        kept = repair(root)
        assert not part.exists()
        if not kept:
            assert not list(root.rglob("*.mp4"))
            outcomes["deleted"] += 1
            continue
        [seg] = kept
        frames = decode_all(seg.path)  # raises on any decoding error
        assert frames == seg.keyframes * 25  # whole GOPs only
        assert seg.bytes == seg.path.stat().st_size <= cut
        assert seg.duration_s == pytest.approx(seg.keyframes, abs=0.05)
        outcomes["kept"] += 1
        shutil.rmtree(root)
    assert outcomes["kept"] > 20
    assert outcomes["deleted"] > 10


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a video at all" * 100,
        b"\x00\x00\x00\x18ftypiso5" + b"\x00" * 16,  # a header box and nothing else
        b"\x00\x00\x00\x01mdat" + b"\xff" * 40,  # a 64-bit size cut short
        b"\xff\xff\xff\xffmoov" + b"\x00" * 64,  # a size past the end
    ],
)
def test_garbage_leftovers_are_deleted(content: bytes, tmp_path: Path) -> None:
    part = tmp_path / "cam" / "2026-12-06" / "10-00-00.mp4.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(content)
    assert repair(tmp_path) == []
    assert list(tmp_path.rglob("*.*")) == []


def test_a_header_and_fragments_are_found_by_box(segment: Segment, tmp_path: Path) -> None:
    whole = whole_fragments(segment.path)
    assert whole == segment.bytes  # a closed segment is whole to its last byte
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(segment.path.read_bytes()[: segment.bytes - 10])
    shorter = whole_fragments(cut)
    assert shorter is not None
    assert shorter < segment.bytes - 10


def test_repair_leaves_finished_segments_and_other_files_alone(
    segment: Segment, tmp_path: Path
) -> None:
    day = tmp_path / "cam" / "2026-12-06"
    day.mkdir(parents=True)
    finished = day / "10-00-00.mp4"
    shutil.copy(segment.path, finished)
    (day / "notes.txt").write_text("mine")
    assert repair(tmp_path) == []
    assert finished.read_bytes() == segment.path.read_bytes()
    assert (day / "notes.txt").read_text() == "mine"
    assert repair(tmp_path / "missing") == []


def test_a_leftover_with_damaged_frames_inside_is_kept(segment: Segment, tmp_path: Path) -> None:
    """Bytes lost inside a fragment (as a camera's loss over UDP) spoil frames, not the file:
    the frames that decode are kept."""
    part = leftover(tmp_path, segment)
    data = bytearray(part.read_bytes())
    third = [i for i in range(len(data) - 4) if data[i : i + 4] == b"mdat"][2]
    data[third + 4 : third + 3004] = b"\xff" * 3000  # the start of the third GOP's keyframe
    part.write_bytes(bytes(data))
    [kept] = repair(tmp_path)
    assert kept.duration_s == pytest.approx(4.0, abs=0.05)
    frames = errors = 0
    with av.open(str(kept.path)) as container:
        for packet in container.demux(video=0):
            try:
                frames += len(packet.decode())
            except av.error.InvalidDataError:
                errors += 1
    assert errors == 1
    assert 50 <= frames < 100
