"""The span journal: spans kept across a restart, written whole, and a damaged file read as
far as it is valid, never raising."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detektor.domain.recordings import RecordingSpan, SpanKind
from detektor.services.recordings import span_journal

T0 = datetime(2026, 12, 6, 12, tzinfo=UTC)
GAP = RecordingSpan("door", SpanKind.GAP, T0, T0 + timedelta(seconds=3.5), "reconnect")
MOTION = RecordingSpan("yard", SpanKind.MOTION, T0, T0 + timedelta(seconds=12))


def test_spans_saved_are_loaded_back_and_nothing_left_removes_the_file(tmp_path: Path) -> None:
    assert span_journal.load(tmp_path) == []  # no journal: nothing pending
    assert span_journal.save(tmp_path, [GAP, MOTION]) == 2
    assert span_journal.load(tmp_path) == [GAP, MOTION]
    assert [p.name for p in tmp_path.iterdir()] == [span_journal.JOURNAL]  # no .tmp left
    assert span_journal.save(tmp_path, [MOTION]) == 1  # replaced, not appended
    assert span_journal.load(tmp_path) == [MOTION]
    assert span_journal.save(tmp_path, []) == 0
    assert list(tmp_path.iterdir()) == []


def good(**changes: object) -> str:
    record: dict[str, object] = {
        "camera": "door",
        "kind": "gap",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(seconds=3.5)).isoformat(),
        "reason": "reconnect",
    }
    record.update(changes)
    return json.dumps({k: v for k, v in record.items() if v is not ...})


@pytest.mark.parametrize(
    "line",
    [
        "{not json",
        "[1, 2]",
        '"a string"',
        good(camera=...),
        good(camera=7),
        good(camera="bad camera name!"),
        good(kind="sound"),
        good(start="yesterday"),
        good(start=12),
        good(start="2026-12-06T12:00:00"),  # no time zone
        good(end=T0.isoformat()),  # lasts no time
        good(reason="gremlins"),
        good(reason=None),
        good(kind="motion"),  # a motion span has no reason
    ],
)
def test_a_line_that_is_not_a_span_is_skipped_with_its_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, line: str
) -> None:
    motion = json.dumps(
        {"camera": "yard", "kind": "motion", "start": T0.isoformat(), "end": MOTION.end.isoformat()}
    )
    journal = span_journal.journal_path(tmp_path)
    journal.write_text(f"{good()}\n{line}\n\n{motion}\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert span_journal.load(tmp_path) == [GAP, MOTION]
    assert f"{journal} line 2 is not a span" in caplog.text


def test_an_unreadable_journal_is_read_as_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    span_journal.journal_path(tmp_path).write_bytes(b"\xff\xfe not utf-8")
    assert span_journal.load(tmp_path) == []
    assert "cannot be read, its spans are lost" in caplog.text
    span_journal.journal_path(tmp_path).unlink()
    span_journal.journal_path(tmp_path).mkdir()  # not a file at all
    assert span_journal.load(tmp_path) == []
