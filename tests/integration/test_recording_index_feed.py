"""The segment feed and the start-up reconcile against real indexes: a PostgreSQL index that
goes away (connections refused and terminated) loses no segment, and reconcile adds the files
the index lacks and forgets rows whose file is gone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import av
import pytest

from detektor.adapters.postgres.recordings import PostgresRecordingIndex
from detektor.adapters.sqlite.recordings import SqliteRecordingIndex
from detektor.kit.backoff import Backoff
from detektor.kit.metrics import Metrics
from detektor.ports import RecordingIndex, SegmentQuery
from detektor.services.capture import segments as files
from detektor.services.capture.recorder import Recorder
from detektor.services.recordings.indexer import SegmentFeed, reconcile
from detektor.services.recordings.metrics import RecordingMetrics
from support.postgres import cut_off, reopen, temporary_database
from support.recordings import make_video
from support.waiting import wait_until

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def postgres_db() -> Iterator[tuple[str, str]]:
    with temporary_database("detektor_feed") as url:
        yield url, url.rsplit("/", 1)[1]


def closed(root: Path, n: int) -> files.Segment:
    start = T0 + timedelta(seconds=10 * n)
    path = files.segment_path(root, "door", start)
    return files.Segment("door", start, start + timedelta(seconds=10), path, 1000, "h264", 1, False)


def indexed(index: RecordingIndex) -> list[str]:
    return sorted(s.path for s in index.segments(SegmentQuery(limit=1000)).segments)


async def test_the_feed_retries_through_a_database_outage_and_loses_nothing(
    postgres_db: tuple[str, str], tmp_path: Path
) -> None:
    url, name = postgres_db
    index = PostgresRecordingIndex(url, connect_timeout_s=2)
    index.migrate()
    registry = Metrics("test", "0")
    metrics = RecordingMetrics(registry)
    feed = SegmentFeed(index, tmp_path, metrics, backoff=Backoff(0.05, 0.3))
    stop = asyncio.Event()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed.run, stop)
            for n in range(3):
                feed.offer(closed(tmp_path, n))
            await wait_until(lambda: feed.added == 3, 10, "three segments indexed")
            cut_off(name)

            # Offered from another thread, as the recorders do.
            def produce() -> None:
                for n in range(3, 8):
                    feed.offer(closed(tmp_path, n))

            producer = threading.Thread(target=produce)
            producer.start()
            producer.join()
            name_ = "detektor_recording_index_failures_total"
            await wait_until(
                lambda: (registry.registry.get_sample_value(name_) or 0) >= 2,
                30,
                "two index failures",
            )
            assert feed.added == 3
            assert feed.backlog >= 4  # the one being retried is out of the queue
            reopen(name)
            await wait_until(lambda: feed.added == 8, 60, "all eight segments indexed")
            stop.set()
    finally:
        reopen(name)
    expected = sorted(closed(tmp_path, n).path.relative_to(tmp_path).as_posix() for n in range(8))
    assert indexed(index) == expected
    assert feed.backlog == 0
    index.close()


def record(video: Path, recorder: Recorder) -> None:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        recorder.start(stream)
        for packet in container.demux(stream):
            recorder.packet(packet)
        recorder.stop()


def test_reconcile_adds_missing_files_and_forgets_rows_without_one(tmp_path: Path) -> None:
    video = tmp_path / "in.mp4"
    make_video(video, seconds=6, gop=25, audio=False)
    root = tmp_path / "recordings"
    made: list[files.Segment] = []
    record(video, Recorder("door", root, segment_s=2, on_segment=made.append, fsync=False))
    assert len(made) == 3
    index = SqliteRecordingIndex(str(tmp_path / "index.db"))
    index.migrate()
    assert reconcile(index, root) == (3, 0)  # none was indexed: a crash before every add
    paths = indexed(index)
    assert paths == sorted(s.path.relative_to(root).as_posix() for s in made)
    stored = index.segments(SegmentQuery(limit=10)).segments
    assert {s.bytes for s in stored} == {s.bytes for s in made}
    assert all(s.codec == "h264" and s.keyframes >= 1 for s in stored)
    made[0].path.unlink()  # deleted by hand, or by retention before it could remove the row
    assert reconcile(index, root) == (0, 1)
    assert indexed(index) == paths[1:]
    assert reconcile(index, root) == (0, 0)  # nothing left to do
    (root / "door" / "2020-01-01").mkdir(parents=True)
    (root / "door" / "2020-01-01" / "10-00-00.mp4").write_bytes(b"not a video")
    assert reconcile(index, root) == (0, 0)  # a file that does not play is not indexed
    index.close()
