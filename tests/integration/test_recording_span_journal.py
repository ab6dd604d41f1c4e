"""Spans the index cannot take when capture stops are kept for the next start: a real
PostgreSQL index refuses connections at shutdown, the gap and the motion span go to the
journal, and the next ``Recording`` over the same root indexes them once the database is back.
Without the journal a motion span lost this way leaves its footage unclaimed, for retention
to delete."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detektor.adapters.postgres.recordings import PostgresRecordingIndex
from detektor.domain.recordings import RecordingSpan, SpanKind
from detektor.kit.app import ServiceKit
from detektor.services.capture.segments import Gap
from detektor.services.capture.settings import CameraSettings
from detektor.services.recordings import span_journal
from detektor.services.recordings.recording import Recording
from detektor.settings import Settings
from support.postgres import cut_off, reopen, temporary_database
from support.waiting import wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def postgres_db() -> Iterator[tuple[str, str]]:
    with temporary_database("detektor_journal") as url:
        yield url, url.rsplit("/", 1)[1]


async def test_spans_left_unindexed_at_stop_are_indexed_after_the_next_start(
    postgres_db: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, name = postgres_db
    settings = Settings.model_validate({"data_dir": str(tmp_path)})
    camera = CameraSettings.model_validate(
        {
            "name": "door",
            "source": "rtsp://127.0.0.1:9/none",
            "detect_fps": 5,
            "record": {"mode": "motion", "segment_s": 2},
        }
    )
    index = PostgresRecordingIndex(url, connect_timeout_s=2)
    index.migrate()
    first = Recording(settings, [camera], ServiceKit("capture", settings))
    await first.prepare(index, None)
    first.start()
    now = datetime.now(UTC).replace(microsecond=0)
    gap = RecordingSpan("door", SpanKind.GAP, now - timedelta(seconds=30), now, "reconnect")
    try:
        cut_off(name)
        first.gap(Gap("door", gap.start, gap.end, "reconnect"))
        motion = first.motion("door")
        assert motion is not None
        began = int(time.time() * 1000) - 4000
        for n in range(10):  # 2 s of motion at 5 fps, still open when capture stops
            motion.frame(began + 200 * n, moving=True)
        await first.stop(10)  # flushes the motion span; the index refuses both
        # One try at stop, not one per span: with the index away, shutdown stays short.
        assert caplog.text.count("recording index unavailable at stop") == 1
        kept = span_journal.load(first.root)
        assert [s.kind for s in kept] == [SpanKind.GAP, SpanKind.MOTION]
        assert kept[0] == gap
    finally:
        reopen(name)
    index.close()
    index = PostgresRecordingIndex(url, connect_timeout_s=2)  # a new process: a new pool
    second = Recording(settings, [camera], ServiceKit("capture", settings))
    await second.prepare(index, None)
    assert second.feed is not None
    waiting = second.feed.backlog_since()  # retention plans as of the spans, not of now
    assert waiting is not None
    assert waiting <= gap.start
    second.start()
    await wait_until(lambda: second.feed is not None and second.feed.added == 2, 20, "indexed")
    await second.stop(10)
    window = (gap.start - timedelta(minutes=1), now + timedelta(minutes=1))
    assert index.spans(SpanKind.GAP, *window, camera="door") == [gap]
    assert index.spans(SpanKind.MOTION, *window, camera="door") == [kept[1]]
    assert not span_journal.journal_path(second.root).exists()  # nothing left this time
    index.close()
