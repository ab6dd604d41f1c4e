"""Clips cut from real segments: a video file made here, recorded by the real Recorder into
2 s segments, then exported by ``export_clip`` and the ``ClipCache``. Checked by decoding every
frame with PyAV and by ffprobe: the clip starts at the keyframe at or before the asked start,
ends before the asked end, plays across segment boundaries and gaps, and stops at a missing
or foreign segment rather than fail."""

from __future__ import annotations

import dataclasses
import itertools
import os
from datetime import timedelta
from pathlib import Path

import av
import pytest

from detektor.domain.recordings import Segment
from detektor.services.recordings.clip_cache import ClipCache
from detektor.services.recordings.clips import NoFootage, export_clip
from support.recordings import decode_all, make_video, record_segments, video_probe

FPS, GOP = 10, 10  # a keyframe every second


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Segment]]:
    """12 s at 10 fps (keyframe every second), with audio, recorded into 2 s segments."""
    folder = tmp_path_factory.mktemp("footage")
    video = folder / "source.mp4"
    make_video(video, seconds=12, fps=FPS, gop=GOP)
    root = folder / "recordings"
    segments = record_segments(root, video, "yard")
    assert len(segments) == 6
    return root, segments


def first_frame_time(path: Path) -> float:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return float(frame.time or 0.0)


def test_a_clip_starts_at_the_keyframe_before_its_start_and_plays_across_segments(
    footage: tuple[Path, list[Segment]], tmp_path: Path
) -> None:
    root, segments = footage
    t0 = segments[0].start
    start, end = t0 + timedelta(seconds=3.5), t0 + timedelta(seconds=7.2)
    clip = export_clip(root, segments, start, end, tmp_path / "clip.mp4")
    # The keyframe at 3.0 s (one GOP at most before the asked start) to the frame at 7.1 s.
    assert clip.start == pytest.approx(t0 + timedelta(seconds=3.0), abs=timedelta(seconds=0.01))
    assert start - clip.start <= timedelta(seconds=GOP / FPS)
    assert clip.end <= end + timedelta(seconds=1 / FPS)
    assert clip.end >= end - timedelta(seconds=1 / FPS)
    assert clip.segments == 3
    assert clip.cut_short is None
    assert decode_all(clip.path) == 42  # 3.0 .. 7.1 s, every frame decodes
    duration, frames, tag = video_probe(clip.path)
    assert (frames, tag) == (42, "avc1")
    assert duration == pytest.approx(4.2, abs=0.15)
    assert first_frame_time(clip.path) == pytest.approx(0.0, abs=0.01)
    with av.open(str(clip.path)) as container:
        assert container.streams.audio, "the audio is kept"


def test_the_index_is_at_the_front_so_a_browser_can_seek_by_range(
    footage: tuple[Path, list[Segment]], tmp_path: Path
) -> None:
    root, segments = footage
    t0 = segments[0].start
    clip = export_clip(root, segments, t0, t0 + timedelta(seconds=4), tmp_path / "clip.mp4")
    head = clip.path.read_bytes()[:4096]
    assert head.find(b"moov") != -1
    assert head.find(b"moov") < clip.path.read_bytes().find(b"mdat")


def test_a_range_between_or_outside_footage_has_none(
    footage: tuple[Path, list[Segment]], tmp_path: Path
) -> None:
    root, segments = footage
    later = segments[-1].end + timedelta(seconds=5)
    with pytest.raises(NoFootage):
        export_clip(root, segments, later, later + timedelta(seconds=5), tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    with pytest.raises(ValueError, match="after its start"):
        export_clip(root, segments, later, later, tmp_path / "y.mp4")


def test_a_gap_between_segments_stays_a_jump_in_time(
    footage: tuple[Path, list[Segment]], tmp_path: Path
) -> None:
    root, segments = footage
    # As after a reconnect: the last three segments 30 s later than they were.
    moved = [
        dataclasses.replace(
            s, start=s.start + timedelta(seconds=30), end=s.end + timedelta(seconds=30)
        )
        for s in segments[3:]
    ]
    both = [*segments[:3], *moved]
    t0 = segments[0].start
    clip = export_clip(root, both, t0, moved[-1].end, tmp_path / "gap.mp4")
    assert decode_all(clip.path) == 120
    with av.open(str(clip.path)) as container:
        times = [float(f.time or 0) for f in container.decode(video=0)]
    jumps = [b - a for a, b in itertools.pairwise(times) if b - a > 1]
    assert jumps == [pytest.approx(30.1, abs=0.05)]


def test_a_missing_or_foreign_segment_cuts_the_clip_short(
    footage: tuple[Path, list[Segment]], tmp_path: Path
) -> None:
    root, segments = footage
    t0 = segments[0].start
    gone = dataclasses.replace(segments[2], path="yard/nowhere/missing.mp4")
    clip = export_clip(
        root, [*segments[:2], gone, *segments[3:]], t0, segments[-1].end, tmp_path / "a.mp4"
    )
    assert clip.segments == 2
    assert clip.cut_short is not None
    assert "missing.mp4" in clip.cut_short
    assert decode_all(clip.path) == 40

    garbage = root / "yard" / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    bad = dataclasses.replace(segments[1], path="yard/garbage.mp4")
    clip = export_clip(root, [segments[0], bad], t0, segments[1].end, tmp_path / "b.mp4")
    assert (clip.segments, decode_all(clip.path)) == (1, 20)
    assert clip.cut_short is not None

    other = tmp_path / "other"
    small = other / "small.mp4"
    other.mkdir()
    make_video(small, seconds=3, fps=FPS, gop=GOP, size=(160, 120), audio=False)
    foreign = record_segments(other / "rec", small, "other")[0]
    moved = dataclasses.replace(
        foreign, camera="yard", start=segments[1].start, end=segments[1].end
    )
    (root / moved.path).parent.mkdir(parents=True, exist_ok=True)
    (root / moved.path).write_bytes((other / "rec" / foreign.path).read_bytes())
    clip = export_clip(root, [segments[0], moved], t0, segments[1].end, tmp_path / "c.mp4")
    assert clip.segments == 1
    assert clip.cut_short is not None
    assert "video changed" in clip.cut_short


def test_the_cache_cuts_a_clip_once_and_a_new_segment_makes_a_new_one(
    footage: tuple[Path, list[Segment]], tmp_path: Path
) -> None:
    root, segments = footage
    now = [1_000.0]
    cache = ClipCache(root, tmp_path / "clips", ttl_s=60, clock=lambda: now[0])
    t0 = segments[0].start
    end = t0 + timedelta(seconds=3)
    first = cache.clip("yard", t0, end, segments[:2])
    again = cache.clip("yard", t0, end, segments[:2])
    assert again.path == first.path
    grown = cache.clip("yard", t0, end, segments[:3])  # the footage changed: cut again
    assert grown.path != first.path
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == sorted(
        [first.path.name, grown.path.name]
    )
    for path in (tmp_path / "clips").iterdir():
        os.utime(path, (900.0, 900.0))
    now[0] = 1_000.0
    assert cache.sweep() == 2
    assert list((tmp_path / "clips").iterdir()) == []
    third = cache.clip("yard", t0, end, segments[:2])  # swept: exported anew
    assert third.path.is_file()
