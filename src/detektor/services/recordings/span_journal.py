"""Gap and motion spans the index could not take at shutdown, kept on disk until the next start.

A segment left unindexed when capture stops is found again by ``reconcile`` (its file is on
disk); a span is not a file, and in ``motion`` mode a lost motion span is footage retention
then deletes as unclaimed. So ``save`` writes the spans the feed could not add to
``<recordings root>/.unindexed-spans.jsonl`` (one JSON object a line, written whole: a
temporary file, fsync, rename), and ``load`` reads them back at the next start for the feed
to offer again; adding a span twice is harmless (the index ignores a duplicate). ``save``
with nothing left removes the file.

``load`` reads outside input (anyone can edit the file): a line that is not a valid span is
logged with its number and skipped, and an unreadable file is logged and read as empty, so a
damaged journal never stops capture.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from detektor.domain.errors import ValidationError
from detektor.domain.recordings import RecordingSpan, SpanKind

log = logging.getLogger(__name__)
JOURNAL = ".unindexed-spans.jsonl"


def journal_path(root: Path) -> Path:
    return root / JOURNAL


def save(root: Path, spans: Iterable[RecordingSpan]) -> int:
    """Keep ``spans`` for the next start (or remove the journal when there are none); how
    many were kept."""
    path, lines = journal_path(root), [_line(span) for span in spans]
    if not lines:
        path.unlink(missing_ok=True)
        return 0
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in lines)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)
    return len(lines)


def load(root: Path) -> list[RecordingSpan]:
    """The spans kept by the last ``save``; see the module docstring for bad lines."""
    path = journal_path(root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("%s cannot be read, its spans are lost: %s", path, exc)
        return []
    spans: list[RecordingSpan] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            spans.append(_span(json.loads(line)))
        except (ValueError, TypeError, KeyError, ValidationError) as exc:
            log.warning("%s line %d is not a span, skipped: %s", path, number, exc)
    return spans


def _line(span: RecordingSpan) -> str:
    return json.dumps(
        {
            "camera": span.camera,
            "kind": span.kind.value,
            "start": span.start.isoformat(),
            "end": span.end.isoformat(),
            "reason": span.reason,
        }
    )


def _span(record: object) -> RecordingSpan:
    if not isinstance(record, dict):
        raise TypeError(f"expected an object, got {type(record).__name__}")
    reason = record.get("reason", "")
    if not isinstance(reason, str):
        raise TypeError(f"reason must be a string, got {type(reason).__name__}")
    return RecordingSpan(
        camera=record["camera"],
        kind=SpanKind(record["kind"]),
        start=datetime.fromisoformat(record["start"]),
        end=datetime.fromisoformat(record["end"]),
        reason=reason,
    )
