"""Motion spans from the motion gate's verdicts: pure, one builder per camera.

Each sampled frame is moving or not, at its wall-clock capture time. A moving frame opens the
camera's span, or extends it, to its time plus one sample interval (the frame stands for that
long). The span closes once a still frame comes `join_s` or more after its end, or a moving
one more than that (a brief pause in the movement joins two stretches into one span), and a span is
cut into chunks of at most `chunk_s`, each handed over as soon as it is full: retention gives
footage a claim window of a minute, so no span may stay open longer than that. A camera that
stops or reconnects `flush`es the open span; frames out of order (a clock stepped back) close
it too, so a span never runs backwards. Retention keeps motion-mode footage around these spans
(`domain.retention`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from detektor.domain.errors import ValidationError
from detektor.domain.recordings import RecordingSpan, SpanKind, require_instant

JOIN_S = 2.0
CHUNK_S = 30.0


class MotionSpans:
    """See the module docstring. `frame` and `flush` return the spans they closed."""

    def __init__(
        self, camera: str, interval_s: float, join_s: float = JOIN_S, chunk_s: float = CHUNK_S
    ) -> None:
        if not 0 < chunk_s < float("inf"):
            raise ValidationError("chunk_s", f"must be a positive number, got {chunk_s!r}")
        if not 0 <= join_s < float("inf"):
            raise ValidationError("join_s", f"must be a number >= 0, got {join_s!r}")
        if not 0 < interval_s < float("inf"):
            raise ValidationError("interval_s", f"must be a positive number, got {interval_s!r}")
        self.camera = camera
        # A frame stands for at most one chunk: a very slow sampling still cuts its spans.
        self._interval = timedelta(seconds=min(interval_s, chunk_s))
        self._join = timedelta(seconds=join_s)
        self._chunk = timedelta(seconds=chunk_s)
        self._start: datetime | None = None
        self._end: datetime | None = None

    @property
    def open(self) -> tuple[datetime, datetime] | None:
        """The span still open, (start, end), or None."""
        if self._start is None or self._end is None:
            return None
        return self._start, self._end

    def frame(self, at: datetime, moving: bool) -> list[RecordingSpan]:
        at = require_instant(at, "at")
        closed: list[RecordingSpan] = []
        start, end = self._start, self._end
        if start is not None and end is not None:
            # Stale (a still frame join_s past the end, a moving one beyond it), or the clock
            # went back: the span is done.
            stale = at >= end + self._join if not moving else at > end + self._join
            if stale or at < start:
                closed += self.flush()
                start = end = None
        if not moving:
            return closed
        until = at + self._interval
        if start is None or end is None:
            self._start, self._end = at, until
            return closed
        if until <= end:
            return closed
        # Full chunks go now; the rest of the extension stays open.
        while until - start > self._chunk:
            cut = start + self._chunk
            closed.append(RecordingSpan(self.camera, SpanKind.MOTION, start, cut))
            start = cut
        self._start, self._end = start, until
        return closed

    def flush(self) -> list[RecordingSpan]:
        """Close the open span (the camera stopped or lost its stream)."""
        start, end = self._start, self._end
        self._start = self._end = None
        if start is None or end is None:
            return []
        return [RecordingSpan(self.camera, SpanKind.MOTION, start, end)]
