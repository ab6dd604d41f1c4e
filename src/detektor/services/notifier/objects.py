"""The notifier's book of one camera's objects: what each object event means for Home Assistant.

The objects stage already decided what matters (``object.updated`` only for a change worth
it); the book folds those events into the objects present now, for occupancy and counts,
and decides, per event, which message goes out, in Frigate's manner:

- ``new``: the first message about an object whose start the notifier saw as it happened,
  sent when the object is first announced (its start, or later once it entered a required
  zone);
- ``update``: every later ``object.updated`` of an announced object; also the first message
  of an object whose start was missed (the notifier restarted) or came in a backlog older
  than ``max_event_age_s``: a backlog is never replayed as new arrivals;
- ``end``: ``object.ended`` of an object that had a message.

``before`` is the ``after`` last sent for the object (null for its first message). Events
already taken (same event id, at-least-once delivery) change nothing again (the publisher
repeats the message it sent for it), and events after the object's end are ignored. Pure:
freshness is decided by the caller.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from detektor.domain.object_events import ChangeKind, ObjectEvent, ObjectEventType, ObjectState
from detektor.domain.object_projection import ObjectCounts, count_objects
from detektor.services.notifier.rules import STALE, CameraRules

Kind = Literal["new", "update", "end"]
DUPLICATE = "duplicate"
AFTER_END = "after_end"
NEVER_ANNOUNCED = "never_announced"
_REMEMBER = 10_000  # event ids and ended objects remembered, per camera
K = TypeVar("K")
V = TypeVar("V")


@dataclass(slots=True)
class Tracked:
    """One object as the notifier knows it (``label``, ``state`` and ``zones`` make it
    countable by ``count_objects``)."""

    object_id: str
    label: str
    state: ObjectState
    zones: tuple[str, ...]
    event: ObjectEvent  # the latest
    entered: tuple[str, ...] = ()  # every zone it was ever in, in order of first entry
    may_be_new: bool = False  # its start was seen as it happened, and not yet announced
    sent: dict[str, object] | None = None  # the last `after` sent

    def take(self, event: ObjectEvent) -> None:
        self.event, self.state, self.zones = event, event.state, event.zones
        seen = [*event.zones]
        seen += [c.zone for c in event.changes if c.zone and c.kind is ChangeKind.ENTERED_ZONE]
        self.entered += tuple(dict.fromkeys(z for z in seen if z not in self.entered))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one event means: a message ``kind`` with its ``before``, or the ``reason`` for
    none."""

    tracked: Tracked | None
    kind: Kind | None = None
    before: dict[str, object] | None = None
    reason: str | None = None

    @property
    def first(self) -> bool:
        """The object's first message."""
        return self.kind is not None and self.before is None


@dataclass(slots=True)
class ObjectBook:
    rules: CameraRules
    live: dict[str, Tracked] = field(default_factory=dict)
    newest: dict[str, str] = field(default_factory=dict)  # label -> latest announced object
    _events: OrderedDict[uuid.UUID, None] = field(default_factory=OrderedDict)
    _ended: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def apply(self, event_id: uuid.UUID, event: ObjectEvent, *, fresh: bool) -> Verdict:
        """Take one object event; ``fresh``: younger than ``max_event_age_s`` now."""
        if event_id in self._events:
            return Verdict(None, reason=DUPLICATE)
        remember(self._events, event_id, None)
        if event.object_id in self._ended:
            return Verdict(None, reason=AFTER_END)
        tracked = self.live.get(event.object_id)
        if tracked is None:
            tracked = Tracked(event.object_id, event.label, event.state, event.zones, event)
            tracked.may_be_new = fresh and event.type is ObjectEventType.STARTED
            self.live[event.object_id] = tracked
        tracked.take(event)
        if event.type is ObjectEventType.ENDED:
            del self.live[event.object_id]
            remember(self._ended, event.object_id, None)
        rules = self.rules
        reason = rules.reason(tracked.label, event.top_score, tracked.entered)
        if not fresh:
            if reason is None and tracked.sent is None:
                tracked.may_be_new = False  # it became news in a backlog: not `new` later
            return Verdict(tracked, reason=STALE)
        if reason is not None:
            return Verdict(tracked, reason=reason)
        before = tracked.sent
        if event.type is ObjectEventType.ENDED:
            if before is None:
                return Verdict(tracked, reason=NEVER_ANNOUNCED)
            return Verdict(tracked, "end", before)
        kind: Kind = "new" if before is None and tracked.may_be_new else "update"
        if before is None:
            self.newest[tracked.label] = tracked.object_id
        return Verdict(tracked, kind, before)

    def counts(self, labels: Iterable[str], zones: Iterable[str]) -> ObjectCounts:
        """The counted objects now: a configured label and a top score that reaches
        ``min_score`` (required zones do not matter here)."""
        counted = [t for t in self.live.values() if self.rules.counted(t.label, t.event.top_score)]
        return count_objects(counted, labels, zones)


def remember(seen: OrderedDict[K, V], key: K, value: V, limit: int = _REMEMBER) -> None:
    """Keep ``key`` in a bounded memory, forgetting the oldest beyond ``limit``."""
    seen[key] = value
    if len(seen) > limit:
        seen.popitem(last=False)
