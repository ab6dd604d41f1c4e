"""Ending the objects an owner left open when it died (ADR 20).

A new owner of a camera starts a fresh tracker: what is in view gets new object ids. The
objects the previous owner had started and not ended are in the camera's open objects
(``output.py``), each as its last event; this module turns each into its ``object.ended``,
at the time of the last frame the previous owner wrote (or its last sighting, if later), with
that event's trace context. A stored entry that cannot be read is reported by id, to be
forgotten: it can end nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from datetime import datetime

from detektor.domain.errors import ValidationError
from detektor.domain.events import Envelope
from detektor.domain.object_events import ObjectEvent, ObjectEventType, ObjectState
from detektor.services.objects.stage import envelope_of

log = logging.getLogger(__name__)


def end_left_open(
    open_objects: Mapping[str, bytes], at: datetime
) -> tuple[list[Envelope], list[str]]:
    """(the ``object.ended`` of each open object, the ids whose entry is unreadable)."""
    ended, unreadable = [], []
    for object_id, raw in sorted(open_objects.items()):
        try:
            last = Envelope.from_dict(json.loads(raw))
            event = ObjectEvent.from_data(
                ObjectEventType(last.type.value), last.frame_id, last.occurred_at, last.data
            )
        except (ValidationError, ValueError, RecursionError) as exc:
            log.warning("objects: cannot end open object %s: %s", object_id, exc)
            unreadable.append(object_id)
            continue
        end = dataclasses.replace(
            event,
            type=ObjectEventType.ENDED,
            state=ObjectState.ENDED,
            at=max(at, event.last_seen),
            changes=(),
        )
        ended.append(envelope_of(end, last.trace_id, last.span_id))
    return ended, unreadable
