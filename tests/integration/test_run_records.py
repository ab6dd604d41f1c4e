"""``detektor run`` with ``record`` set on a video-file camera: segments on disk, in the SQLite
index next to the event store, and the recording metrics on /metrics while it runs."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from support.embedded_run import start_run
from support.recordings import make_video
from support.services import free_port


def test_run_records_a_video_camera_into_the_index(tmp_path: Path) -> None:
    video = tmp_path / "door.mp4"
    make_video(video, seconds=8, gop=25, audio=False)
    config = tmp_path / "cams.yml"
    config.write_text(
        "cameras:\n"
        "  - name: door\n"
        f"    source: {video}\n"
        "    detect_fps: 2\n"
        "    record: {mode: continuous, segment_s: 2}\n"
    )
    port = free_port()
    proc = start_run(
        tmp_path,
        port,
        "--duration",
        "14",
        env={
            "DETEKTOR_CONFIG": str(config),
            "DETEKTOR_RECORDINGS__SWEEP_INTERVAL_S": "1",
            "DETEKTOR_RECORDINGS__MIN_FREE_BYTES": "0",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    metrics = ""
    try:
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                continue
            if 'detektor_recording_segments{camera="door"} 3.0' in metrics:
                break
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    root = tmp_path / "detektor-data" / "recordings"
    files = sorted(p.relative_to(root).as_posix() for p in root.glob("door/*/*.mp4"))
    assert len(files) == 4, files  # 8 s in segments of 2 s
    assert not list(root.glob("**/*.part"))
    with sqlite3.connect(tmp_path / "detektor-data" / "detektor.db") as db:
        rows = db.execute("SELECT camera, path, bytes FROM recording_segments").fetchall()
    assert sorted(path for _, path, _ in rows) == files
    assert {camera for camera, _, _ in rows} == {"door"}
    assert all(size == (root / path).stat().st_size for _, path, size in rows)
    for name in (
        'detektor_recording_segments{camera="door"}',
        'detektor_recording_bytes{camera="door"}',
        "detektor_recording_free_bytes",
        'detektor_recording_last_segment_timestamp_seconds{camera="door"}',
        'detektor_recording_stalled{camera="door"} 0.0',
        "detektor_recording_paused 0.0",
        "detektor_recording_index_failures_total 0.0",
    ):
        assert name in metrics, name
