"""The notifier's way out to the broker: one message at its QoS, counted once acknowledged;
a state change (with the last detection's attributes); the discovery of a camera's
entities; an object event's message, remembered so that a retried frame sends the same
message again. It holds the ``MqttLink`` once one is attached.

Every send returns the message's future, so a caller that must know the broker has the
message (a frame's events, before ``frame.published``) waits on it; the rest fire and forget.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import OrderedDict
from collections.abc import Sequence

from detektor import package_version
from detektor.services.notifier.acks import quiet, quietly, succeeded
from detektor.services.notifier.discovery import Entities, Topics
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import MqttLink
from detektor.services.notifier.objects import remember
from detektor.services.notifier.settings import NotifierSettings
from detektor.services.notifier.state import Change

Future = asyncio.Future[None]
Sent = tuple[str, str | None, tuple[str, str]]  # (body, traceparent, topics)


class Outbox:
    def __init__(self, cfg: NotifierSettings, metrics: NotifierMetrics, topics: Topics) -> None:
        self.cfg, self.metrics, self.topics = cfg, metrics, topics
        self.version = package_version()
        self.link: MqttLink | None = None
        # The messages of the last object events sent, sent again when a frame is retried.
        self._sent: OrderedDict[uuid.UUID, Sent] = OrderedDict()

    def ready(self) -> bool:
        return self.link is not None and self.link.connected.is_set()

    def send(
        self,
        kind: str,
        topic: str,
        payload: str | bytes,
        traceparent: str | None = None,
        retain: bool = True,
    ) -> Future:
        """One message; discovery and availability go at QoS 1, the rest at notifier.qos."""
        assert self.link is not None, "attach an MqttLink first"
        qos = 1 if kind in ("discovery", "availability") else self.cfg.qos
        fut = self.link.send(
            topic,
            payload,
            qos=qos,
            retain=retain,
            traceparent=traceparent,
            json_body=isinstance(payload, str) and payload.startswith("{"),
        )
        counter = self.metrics.messages.labels(kind)
        fut.add_done_callback(lambda f: counter.inc() if succeeded(f) else None)
        return fut

    def change(self, camera: str, change: Change) -> Future:
        """One state change of the camera; the attributes, when it has some, are not waited
        for."""
        if change.attributes is not None:
            attrs = json.dumps(change.attributes)
            topic = self.topics.last_detection_attributes(camera)
            self.send("state", topic, attrs).add_done_callback(quiet)
        return self.send("state", change.topic(self.topics, camera), change.value)

    def changes_now(self, camera: str, changes: list[Change]) -> None:
        """Fire and forget (while connected): the snapshot after a reconnect repairs gaps."""
        if changes and self.ready():
            quietly([self.change(camera, change) for change in changes])

    def announce(
        self,
        camera: str,
        labels: Sequence[str],
        zones: Sequence[str],
        *,
        device: bool,
        images: bool,
    ) -> list[Future]:
        """Discovery of the zones' entities, and with ``device`` of the camera's own."""
        entities = Entities(camera, self.topics, self.version, self.cfg.qos)
        configs = entities.device(labels, images=images) if device else []
        for zone in zones:
            configs += entities.zone(zone, labels)
        return [self.send("discovery", topic, json.dumps(payload)) for topic, payload in configs]

    def event(
        self, camera: str, event_id: uuid.UUID, body: str, traceparent: str | None
    ) -> list[Future]:
        """An object event's message on both events topics (not retained), remembered for
        `resend`."""
        topics = (self.topics.all_events, self.topics.events(camera))
        remember(self._sent, event_id, (body, traceparent, topics), limit=1000)
        return [self.send("event", topic, body, traceparent, False) for topic in topics]

    def resend(self, event_id: uuid.UUID) -> list[Future] | None:
        """The object event's remembered message sent again (a retry of its frame: at least
        once), or None when it is not remembered."""
        again = self._sent.get(event_id)
        if again is None:
            return None
        body, traceparent, topics = again
        return [self.send("event", topic, body, traceparent, False) for topic in topics]
