"""An object's clip end to end: ``detektor run`` records a camera that plays the one-person
crossing scene (rendered here into an H.264 file with a keyframe every 2 s, paced as a live
camera), the real detector and tracker make the person an object, and the object's clip,
cut from the run's own segments and index, covers it: it starts at most ``pre_s`` plus one
GOP before the object and ends after it, plays in full, and answers HTTP Range requests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import av
import pytest

from detektor.domain.fields import parse_timestamp
from support.embedded_run import run_to_end
from support.recordings import make_video
from support.tracking_app import tracking_client

FPS, GOP_S, PRE_S, POST_S = 5, 2.0, 2.0, 1.0
CONFIG = """\
cameras:
  - name: yard
    source: "{source}"
    record: {{mode: continuous, segment_s: 4, pre_s: {pre}, post_s: {post}}}
"""


def run_recorded(tmp_path: Path) -> Path:
    """The crossing scene through ``detektor run`` with recording on; its data dir."""
    video = tmp_path / "crossing.mp4"
    make_video(
        video,
        seconds=13,
        fps=FPS,
        gop=int(GOP_S * FPS),
        size=(640, 480),
        audio=False,
        scene="crossing",
    )
    config = tmp_path / "detektor.yml"
    config.write_text(CONFIG.format(source=video, pre=PRE_S, post=POST_S))
    done = run_to_end(tmp_path, config, 16)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp_path / "detektor-data"


def test_the_clip_of_the_crossing_person_covers_it(tmp_path: Path) -> None:
    data = run_recorded(tmp_path)
    assert list((data / "recordings" / "yard").rglob("*.mp4")), "the run recorded nothing"
    url = f"sqlite:///{data / 'detektor.db'}"
    with tracking_client(url, data_dir=data) as client:
        objects = client.get("/v1/objects", params={"camera": "yard"}).json()["objects"]
        assert [o["label"] for o in objects] == ["person"]
        person = objects[0]
        assert person["state"] == "ended"
        started = parse_timestamp(person["started_at"], "started_at")
        ended = parse_timestamp(person["ended_at"], "ended_at")
        reply = client.get(f"/v1/objects/{person['object_id']}/clip.mp4")
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == "video/mp4"
        clip_start = parse_timestamp(reply.headers["x-clip-start"], "x-clip-start")
        # At most pre_s plus one GOP early (the keyframe it must start from), never late.
        assert started - timedelta(seconds=PRE_S + GOP_S) <= clip_start <= started
        path = tmp_path / "clip.mp4"
        path.write_bytes(reply.content)
        with av.open(str(path)) as container:
            times = [float(f.time or 0.0) for f in container.decode(video=0)]
        clip_end = clip_start + timedelta(seconds=times[-1] + 1 / FPS)
        assert clip_end >= ended, (clip_end, ended)
        assert len(times) == pytest.approx((clip_end - clip_start).total_seconds() * FPS, abs=2)
        size = len(reply.content)
        part = client.get(
            f"/v1/objects/{person['object_id']}/clip.mp4", headers={"Range": "bytes=0-1023"}
        )
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 0-1023/{size}"
        assert part.content == reply.content[:1024]
