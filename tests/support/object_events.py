"""Object events as the objects stage hands them on: envelopes around ``ObjectEvent.to_data``.

``ObjectScript`` plays one object's life (started, updates, ended) with the frames it was
seen in, so a test says what happens to the object and gets valid envelopes with the
frame's trace context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from detektor.domain.events import Envelope, EventType
from detektor.domain.frames import FrameId
from detektor.domain.object_events import (
    BestFrame,
    Change,
    ChangeKind,
    ObjectEvent,
    ObjectEventType,
    ObjectState,
    make_object_id,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
_ENVELOPE_TYPE = {
    ObjectEventType.STARTED: EventType.OBJECT_STARTED,
    ObjectEventType.UPDATED: EventType.OBJECT_UPDATED,
    ObjectEventType.ENDED: EventType.OBJECT_ENDED,
}


def frame_at(camera: str, at: datetime, seq: int) -> FrameId:
    return FrameId.make(camera, int(at.timestamp() * 1000), seq)


def envelope(
    event: ObjectEvent, trace_id: str | None = TRACE_ID, span_id: str | None = SPAN_ID
) -> Envelope:
    return Envelope.new(
        _ENVELOPE_TYPE[event.type],
        event.frame_id,
        event.to_data(),
        occurred_at=event.at,
        trace_id=trace_id,
        span_id=span_id,
    )


@dataclass
class ObjectScript:
    """One object's events. Times are ``start`` plus seconds; frames are made from them."""

    camera: str = "front-door"
    label: str = "person"
    track_id: int = 1
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    score: float = 0.9
    box: tuple[float, float, float, float] = (100.0, 100.0, 200.0, 400.0)
    seq: int = 0
    top_score: float = 0.0
    zones: tuple[str, ...] = ()
    state: ObjectState = ObjectState.ACTIVE
    best: BestFrame | None = None
    last_frame: FrameId | None = None
    last_seen: datetime | None = None

    def __post_init__(self) -> None:
        first = frame_at(self.camera, self.start, self.seq)
        self.object_id = make_object_id(self.camera, first, self.track_id)

    def _event(
        self,
        type: ObjectEventType,
        after_s: float,
        changes: tuple[Change, ...] = (),
        *,
        seen: bool = True,
    ) -> ObjectEvent:
        at = self.start + timedelta(seconds=after_s)
        if seen or self.last_frame is None:
            self.seq += 1
            self.last_frame = frame_at(self.camera, at, self.seq)
            self.last_seen = at
            self.top_score = max(self.top_score, self.score)
            candidate = BestFrame(self.last_frame, self.box, self.score, False)
            if candidate.beats(self.best):
                self.best = candidate
        assert self.last_seen is not None
        return ObjectEvent(
            type=type,
            object_id=self.object_id,
            camera=self.camera,
            frame_id=self.last_frame,
            at=at,
            track_id=self.track_id,
            label=self.label,
            state=ObjectState.ENDED if type is ObjectEventType.ENDED else self.state,
            box=self.box,
            score=self.score,
            top_score=self.top_score,
            median_score=self.score,
            first_seen=self.start,
            last_seen=self.last_seen,
            zones=self.zones,
            best=self.best,
            changes=changes,
        )

    def started(self, after_s: float = 0.0) -> ObjectEvent:
        return self._event(ObjectEventType.STARTED, after_s)

    def entered(self, zone: str, after_s: float) -> ObjectEvent:
        self.zones = tuple(sorted({*self.zones, zone}))
        return self._event(
            ObjectEventType.UPDATED, after_s, (Change(ChangeKind.ENTERED_ZONE, zone),)
        )

    def left(self, zone: str, after_s: float) -> ObjectEvent:
        self.zones = tuple(z for z in self.zones if z != zone)
        return self._event(ObjectEventType.UPDATED, after_s, (Change(ChangeKind.LEFT_ZONE, zone),))

    def stationary(self, after_s: float) -> ObjectEvent:
        self.state = ObjectState.STATIONARY
        return self._event(ObjectEventType.UPDATED, after_s, (Change(ChangeKind.STATIONARY),))

    def moving(self, after_s: float) -> ObjectEvent:
        self.state = ObjectState.ACTIVE
        return self._event(ObjectEventType.UPDATED, after_s, (Change(ChangeKind.ACTIVE),))

    def better_snapshot(self, after_s: float, score: float) -> ObjectEvent:
        self.score = score
        return self._event(ObjectEventType.UPDATED, after_s, (Change(ChangeKind.SNAPSHOT),))

    def ended(self, after_s: float) -> ObjectEvent:
        return self._event(ObjectEventType.ENDED, after_s, seen=False)


def started_in(frame: FrameId | str, track_id: int = 1, label: str = "person") -> Envelope:
    """The ``object.started`` of a new object confirmed in ``frame`` (first seen there too)."""
    fid = frame if isinstance(frame, FrameId) else FrameId.parse(frame)
    at = fid.captured_at
    box = (100.0, 100.0, 200.0, 400.0)
    event = ObjectEvent(
        type=ObjectEventType.STARTED,
        object_id=make_object_id(fid.camera, fid, track_id),
        camera=fid.camera,
        frame_id=fid,
        at=at,
        track_id=track_id,
        label=label,
        state=ObjectState.ACTIVE,
        box=box,
        score=0.9,
        top_score=0.9,
        median_score=0.9,
        first_seen=at,
        last_seen=at,
        zones=(),
        best=BestFrame(fid, box, 0.9, False),
    )
    return envelope(event)


def object_event_of(event: Envelope) -> ObjectEvent:
    """The ObjectEvent an object envelope carries."""
    return ObjectEvent.from_data(
        ObjectEventType(event.type.value), event.frame_id, event.occurred_at, event.data
    )
