"""``detektor serve notifier``: each frame's object events from Redis to Home Assistant over MQTT.

Needs ``DETEKTOR_MQTT_URL``. Start-up connects to Redis and (in the background, retrying
with backoff) to the broker; every (re)connect re-publishes discovery, ``online`` and the
current states. Workers: the detections consumer, the capture watcher (camera
connectivity) and the off-delay ticker. Shutdown lets the frame in hand finish, publishes
``offline`` (retained) and disconnects cleanly, so the LWT is not needed for a planned stop.

The detector must not complete frames itself when a notifier follows it: run it with
``DETEKTOR_PROCESSOR__LAST_STAGE=false``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from detektor.adapters.event_sinks import RedisEventSink
from detektor.adapters.redis_streams import DETECTIONS_STREAM_MAXLEN
from detektor.adapters.stream_trim import StreamMetrics, keep_trimmed
from detektor.kit.app import ServiceKit, create_app
from detektor.kit.signing import LinkSigner, load_link_secret, signed_url
from detektor.kit.workers import join
from detektor.pipeline.metrics import PipelineMetrics
from detektor.services.notifier.consumer import WORKER as CONSUMER
from detektor.services.notifier.consumer import CaptureWatcher, DetectionsConsumer
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import Broker, MqttLink, broker_from
from detektor.services.notifier.publisher import Notifier, run_ticks
from detektor.services.objects.snapshot_upkeep import snapshot_store
from detektor.settings import ConfigError, Settings


def broker_of(settings: Settings) -> Broker:
    """The configured broker, or a ConfigError saying how to set it."""
    if settings.mqtt_url is None:
        raise ConfigError(
            "the notifier needs DETEKTOR_MQTT_URL, e.g. mqtt://user:password@127.0.0.1:1883"
        )
    return broker_from(settings.mqtt_url.get_secret_value(), settings.notifier)


def required_zone_problems(settings: Settings) -> list[str]:
    """Required zones that name no zone of the camera in ``objects.cameras``: a typo there
    would silence the camera for good, so the start stops instead."""
    problems = []
    for camera, rules in settings.notifier.cameras.items():
        known = {zone.name for zone in settings.objects.zones(camera)}
        for name in rules.required_zones:
            if name not in known:
                have = ", ".join(sorted(known)) or "none"
                problems.append(
                    f"notifier.cameras.{camera}.required_zones: {name!r} is not a zone of "
                    f"objects.cameras.{camera}.zones (it has: {have})"
                )
    return problems


def build(settings: Settings) -> FastAPI:
    broker = broker_of(settings)
    problems = required_zone_problems(settings)
    if problems:
        raise ConfigError("; ".join(problems))
    cfg = settings.notifier
    kit = ServiceKit("notifier", settings)
    metrics = NotifierMetrics(kit.metrics)
    pipeline = PipelineMetrics(kit.metrics)
    stream = cfg.detections_stream or settings.detector.detections_stream
    streams = StreamMetrics(kit.metrics)
    # Pictures for the image entities, and signed links to them, from the files serve objects
    # keeps in the shared data volume; the key is the tracking service's (same data_dir).
    snapshots = snapshot_store(settings)
    signer = LinkSigner(load_link_secret(settings))
    base, ttl = cfg.snapshot_base_url, settings.objects.link_ttl_s

    def link_to(path: str) -> str | None:
        return signed_url(base, signer, path, ttl)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = Redis.from_url(settings.redis_url.get_secret_value())
        sink = RedisEventSink(redis, settings.tracking.stream)
        notifier = Notifier(settings, metrics, sink, pipeline, snapshots=snapshots, link=link_to)
        mqtt = notifier.link = MqttLink(
            broker, cfg, notifier.topics.availability, metrics, notifier.on_connect
        )
        kit.readiness.add("redis", redis.ping)
        kit.readiness.add("mqtt", mqtt.check)
        await mqtt.start()
        consumer = DetectionsConsumer(redis, notifier, mqtt, stream, metrics, kit.liveness)
        watcher = CaptureWatcher(redis, settings.tracking.stream, notifier)
        ticks = asyncio.Event()

        # The notifier owns the detections stream's consumer group: it trims what every group
        # has acknowledged, and reports the backlog against the detector's cap.
        cap = DETECTIONS_STREAM_MAXLEN

        async def trim() -> None:
            await keep_trimmed(redis, stream, streams, cap=cap, stop=ticks)

        workers: list[tuple[Callable[[], None], asyncio.Task[None]]] = [
            (consumer.stop, kit.supervisor.start(CONSUMER, consumer.run)),
            (watcher.stop, kit.supervisor.start("capture-watcher", watcher.run)),
            (ticks.set, kit.supervisor.start("ticker", lambda: run_ticks(notifier, ticks))),
            (ticks.set, kit.supervisor.start("stream-upkeep", trim)),
        ]
        try:
            yield
        finally:
            for halt, _ in workers:
                halt()
            await join([task for _, task in workers], settings.shutdown_timeout_s)
            await mqtt.stop()
            await sink.close()
            await redis.aclose()

    return create_app(
        kit,
        lifespan=lifespan,
        summary={
            "broker": broker.shown,
            "client_id": broker.client_id,
            "discovery_prefix": cfg.discovery_prefix,
            "state_prefix": cfg.state_prefix,
            "detections_stream": stream,
            "group": cfg.group,
            "off_delay_s": cfg.off_delay_s,
            "qos": cfg.qos,
            "snapshots": str(snapshots.root) if snapshots else None,
        },
    )
