"""Capture's ``Recording`` turns each ``Gap`` its recorders report into a gap span for the
index (through the feed), logs it and counts it; a gap of no length is not one."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detektor.adapters.memory_recordings import MemoryRecordingIndex
from detektor.domain.recordings import RecordingSpan, SpanKind
from detektor.kit.app import ServiceKit
from detektor.services.capture.segments import Gap
from detektor.services.capture.settings import CameraSettings
from detektor.services.recordings.indexer import SegmentFeed
from detektor.services.recordings.recording import Recording
from detektor.settings import Settings

T0 = datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_a_gap_is_queued_as_a_span_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="detektor.services.recordings.recording")
    settings = Settings.model_validate({"data_dir": str(tmp_path)})
    camera = CameraSettings.model_validate(
        {"name": "door", "source": "rtsp://127.0.0.1:9/none", "record": {"segment_s": 2}}
    )
    kit = ServiceKit("capture", settings)
    recording = Recording(settings, [camera], kit)
    index = MemoryRecordingIndex()
    recording.feed = SegmentFeed(index, recording.root, recording.metrics)
    registry = kit.metrics.registry

    def sample(name: str, reason: str) -> float | None:
        return registry.get_sample_value(name, {"camera": "door", "reason": reason})

    assert sample("detektor_recording_gaps_total", "reconnect") == 0  # there from the start
    assert sample("detektor_recording_gap_seconds_total", "stalled") == 0
    report = recording.gap  # what the door's recorder calls with each gap
    report(Gap("door", T0, T0 + timedelta(seconds=3.25), "reconnect"))
    report(Gap("door", T0 + timedelta(seconds=9), T0 + timedelta(seconds=9), "stalled"))
    report(Gap("door", T0 + timedelta(seconds=20), T0 + timedelta(seconds=21), "stalled"))
    waiting = recording.feed.backlog_since()  # retention plans as of then while it waits
    assert waiting is not None
    assert abs((waiting - datetime.now(UTC)).total_seconds()) < 60
    stopped = asyncio.Event()
    stopped.set()
    asyncio.run(recording.feed.run(stopped))  # stopped: adds what is queued, then returns
    assert recording.feed.backlog_since() is None
    assert index.spans(SpanKind.GAP, T0, T0 + timedelta(minutes=1)) == [
        RecordingSpan("door", SpanKind.GAP, T0, T0 + timedelta(seconds=3.25), "reconnect"),
        RecordingSpan(
            "door",
            SpanKind.GAP,
            T0 + timedelta(seconds=20),
            T0 + timedelta(seconds=21),
            "stalled",
        ),
    ]
    assert sample("detektor_recording_gaps_total", "reconnect") == 1
    assert sample("detektor_recording_gap_seconds_total", "reconnect") == 3.25
    assert sample("detektor_recording_gaps_total", "stalled") == 1  # not the empty one
    assert sample("detektor_recording_gap_seconds_total", "stalled") == 1
    said = [r.getMessage() for r in caplog.records]
    assert "camera door: 3.2 s not recorded (reconnect)" in said
    assert len([m for m in said if "not recorded" in m]) == 2
