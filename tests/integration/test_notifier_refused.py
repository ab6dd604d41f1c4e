"""A message the broker refuses (its ACL denies the topic) is given up, not retried forever,
on both of ``detektor run``'s notifier paths: the frame's own messages fail the frame, and the
object events that came with no frame (a still scene, a camera gone quiet, the run's end) are
logged and dropped, so everything queued after them is still published."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from detektor.adapters.event_sinks import MemoryEventSink
from detektor.domain.events import EventType
from detektor.domain.frames import FrameId
from detektor.domain.messages import FrameMessage
from detektor.kit.app import ServiceKit
from detektor.pipeline.decoding import Frame
from detektor.pipeline.metrics import PipelineMetrics
from detektor.pipeline.processing import Result
from detektor.services.notifier.embedded import EmbeddedNotifier
from detektor.settings import Settings
from support.mqtt import PrivateMosquitto, Subscriber
from support.object_events import ObjectScript, envelope
from support.services import require_binary

pytestmark = pytest.mark.integration
PERSON = {"label": "person", "score": 0.9, "box": [100, 100, 200, 400]}


def test_refused_messages_are_given_up_and_the_queue_moves_on(tmp_path: Path) -> None:
    # Everything but the global events topic: each object event's first message is refused.
    broker = PrivateMosquitto(
        require_binary("mosquitto", "mosquitto"),
        tmp_path,
        acl=[
            "topic readwrite ha/#",
            "topic readwrite dk/availability",
            "topic readwrite dk/yard/#",
        ],
    )
    broker.start()
    sub = Subscriber(broker.port, "dk/#")
    settings = Settings(
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
        notifier={
            "discovery_prefix": "ha",
            "state_prefix": "dk",
            "client_id": "refused-test",
            "publish_timeout_s": 5,
        },
    )

    async def scenario() -> MemoryEventSink:
        kit = ServiceKit("run", settings)
        notifier = EmbeddedNotifier(settings, kit, PipelineMetrics(kit.metrics))
        inner = MemoryEventSink()
        await notifier.start(notifier.observe(inner))
        assert notifier.link is not None
        await asyncio.wait_for(notifier.link.ready.wait(), 10)
        person = ObjectScript(camera="yard")
        await notifier.objects([envelope(person.started(0.0))])  # no frame: refused, dropped
        ms = int(time.time() * 1000)
        frame = Frame(
            FrameMessage(FrameId.make("yard", ms, 1), ms, 1, 64, 48, b""),
            np.zeros((48, 64, 3), np.uint8),
        )
        later = ObjectScript(camera="yard", track_id=2)
        await notifier.publish([frame], [Result([PERSON])], [[envelope(later.started(0.1))]])
        await notifier.objects([envelope(person.ended(1.0))])
        await asyncio.wait_for(notifier.queue.join(), 20)  # never drains if one is retried
        await notifier.stop(5)
        return inner

    try:
        inner = asyncio.run(scenario())
        failed = [e for e in inner.events if e.type is EventType.FAILED]
        assert len(failed) == 1
        assert "refused" in failed[0].data["error"]
        # What the ACL allows still went out after the refusals: the per-camera events.
        types = [m.payload for m in sub.on("dk/yard/events")]
        assert any('"type": "end"' in t or '"type":"end"' in t for t in types), types
    finally:
        sub.close()
        broker.stop()
