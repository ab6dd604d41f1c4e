"""``detektor serve capture`` records a looped video camera into the PostgreSQL recording
index (the event store's database), skips its synthetic camera with a warning, and keeps a
segment a crash left unindexed: capture is SIGKILLed, a row is deleted by hand, and the next
start's reconcile indexes the file again."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import yaml

from detektor.adapters.postgres.recordings import PostgresRecordingIndex
from detektor.ports import RecordingIndex, SegmentQuery
from support.postgres import temporary_database
from support.process import ServiceProcess
from support.recordings import make_video
from support.redis import redis_namespace
from support.stack import pipeline_env
from support.waiting import wait_for


def indexed(index: RecordingIndex) -> list[str]:
    return sorted(s.path for s in index.segments(SegmentQuery(limit=1000)).segments)


def test_serve_capture_records_into_postgresql_and_reconciles_after_a_kill(
    tmp_path: Path,
) -> None:
    video = tmp_path / "door.mp4"
    make_video(video, seconds=4, gop=25, audio=True)
    record = {"mode": "continuous", "segment_s": 1}
    cameras = [
        {"name": "door", "source": str(video), "loop": True, "detect_fps": 1, "record": record},
        {"name": "canary", "source": "synthetic://?fps=5&size=160x120", "record": record},
    ]
    config = tmp_path / "cameras.yml"
    config.write_text(yaml.safe_dump({"cameras": cameras}))
    root = tmp_path / "recordings"
    with temporary_database("detektor_capture_rec") as db, redis_namespace() as (redis, ns):
        env = {
            **pipeline_env(redis, ns, db),
            "DETEKTOR_CONFIG": str(config),
            "DETEKTOR_RECORDINGS__ROOT": str(root),
            "DETEKTOR_RECORDINGS__MIN_FREE_BYTES": "0",
            "DETEKTOR_RECORDINGS__SWEEP_INTERVAL_S": "0.5",
        }
        index = PostgresRecordingIndex(db)
        index.migrate()  # capture migrates it too: the test reads it before capture is up
        try:
            capture = ServiceProcess("capture", tmp_path, env).start()
            try:
                wait_for(lambda: len(indexed(index)) >= 3, 30, "three segments indexed")
                metrics = httpx.get(f"{capture.url}/metrics", timeout=5).text
                assert 'detektor_recording_segments{camera="door"}' in metrics
                assert 'detektor_recording_segments{camera="canary"}' not in metrics
                assert capture.proc is not None
                capture.proc.send_signal(signal.SIGKILL)
                capture.proc.wait(10)
            finally:
                capture.stop()
            log = capture.log_path.read_text()
            assert "camera canary: a synthetic scene is not recorded" in log
            assert not (root / "canary").exists()
            on_disk = sorted(p.relative_to(root).as_posix() for p in root.glob("door/*/*.mp4"))
            rows = indexed(index)
            assert set(rows) <= set(on_disk)
            lost = rows[0]
            assert index.remove([lost]) == 1  # as if the crash came between rename and add
            restarted = ServiceProcess("capture", tmp_path, env).start()
            try:
                wait_for(lambda: lost in indexed(index), 20, "the lost row indexed again")
                # Every file the first run left is indexed (a .part it left was repaired or
                # deleted), and new segments are added after it.
                wait_for(lambda: set(on_disk) <= set(indexed(index)), 20, "every old file indexed")
                wait_for(lambda: len(indexed(index)) > len(on_disk), 20, "new segments")
            finally:
                restarted.stop()
            assert "recording index reconciled" in restarted.log_path.read_text()
        finally:
            index.close()
