"""The event loop side of capture for one sampled frame: its ``create`` span, its lifecycle
events and its publication on the frame bus.

Every sampled frame gets ``frame.captured``, then ``frame.skipped`` (``no_motion``,
``masked``, or ``encode_failed`` when no payload was made), ``frame.queued``, or
``frame.dropped`` when the bus refuses it (``bus_full``) or is down (``bus_unavailable``).
Frames the bus's cap pushes out to make room get ``frame.dropped``, ``bus_full``. The events
are emitted together once the frame is settled.
"""

from __future__ import annotations

import logging
import time

from opentelemetry import trace

from detektor.domain.events import Envelope, EventType
from detektor.domain.messages import FrameMessage
from detektor.kit.tracecontext import inject_fields
from detektor.kit.transient import is_transient
from detektor.pipeline.events import lifecycle_event
from detektor.pipeline.metrics import PipelineMetrics
from detektor.ports import EventSink, FrameBus, Published
from detektor.services.capture.frames import Sampled, describe_source, dropped_event
from detektor.services.capture.settings import CameraSettings

log = logging.getLogger("detektor.services.capture.camera")  # the name its lines always had
tracer = trace.get_tracer("detektor.capture")


async def publish_sampled(
    item: Sampled,
    camera: CameraSettings,
    bus: FrameBus,
    sink: EventSink,
    pipeline: PipelineMetrics,
) -> None:
    """Record one sampled frame of `camera` and, when it moved, publish it on `bus`; a bus
    outage is recorded as a drop, not raised."""
    name = camera.name
    started = time.perf_counter()
    with tracer.start_as_current_span("create frames", kind=trace.SpanKind.PRODUCER) as span:
        span.set_attribute("detektor.frame.id", str(item.frame_id))
        span.set_attribute("detektor.camera", name)
        captured = lifecycle_event(
            EventType.CAPTURED,
            item.frame_id,
            {
                "width": item.width,
                "height": item.height,
                "pts": item.pts,
                "source": describe_source(camera.source.get_secret_value()),
            },
        )
        events: list[Envelope] = [captured]
        pipeline.outcome(name, "captured")
        if not item.ready:
            reason = item.reason or "encode_failed"
            events.append(lifecycle_event(EventType.SKIPPED, item.frame_id, {"reason": reason}))
            pipeline.outcome(name, "skipped", reason)
        else:
            fields: dict[str, str] = {}
            inject_fields(fields)
            message = FrameMessage(
                item.frame_id,
                item.wall_ms,
                item.pts,
                item.width,
                item.height,
                item.jpeg or b"",
                fields.get("traceparent"),
                item.image,
            )
            try:
                published = await bus.publish(message)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                # The camera keeps running through a bus outage; the frame is recorded.
                log.warning(
                    "camera %s: frame bus unavailable (%s)",
                    name,
                    exc,
                    extra={"camera": name, "frame_id": str(item.frame_id)},
                )
                published = Published(entry_id=None, dropped=[])
                reason = "bus_unavailable"
            else:
                reason = "bus_full"
            if published.entry_id is None:
                events.append(dropped_event(item.frame_id, reason))
                pipeline.outcome(name, "dropped", reason)
            else:
                events.append(
                    lifecycle_event(EventType.QUEUED, item.frame_id, {"stream": "frames"})
                )
                pipeline.outcome(name, "queued")
            for displaced in published.dropped:
                events.append(dropped_event(displaced))
                pipeline.outcome(displaced.camera, "dropped", "bus_full")
    pipeline.stage_duration.labels("capture").observe(time.perf_counter() - started)
    await sink.emit(events)
