"""Notifier benchmark: frame-to-broker-ack latency at 40 frames/s, against raw paho.

    .venv/bin/python bench/notifier.py [--count 1200] [--rate 40] [--port 1883] [--no-stream]

Needs a Mosquitto on 127.0.0.1 (and Redis for the stream part, at ``$TEST_REDIS_URL``, default
redis://127.0.0.1:6379/0, as for the tests). Topics go under a root of their own, cleared
afterwards.

Each frame carries one object event (a person started in the first frame, then an update
with a better snapshot in every frame: the busiest a lifecycle gets for one object), so
each frame causes one event message on both event topics.

1. **Our path**: ``Notifier.handle`` (object book, rules, state, JSON, spans, lifecycle
   events) on the real ``MqttLink`` (paho-mqtt in its network thread, acks bridged to
   asyncio), from the frame in hand to the broker's PUBACK of every message it caused.
2. **Raw paho**, interleaved with 1 in the same run (a third of a period later, so both start
   from the same idle): a bare paho-mqtt 2 client (``loop_start``) publishes exactly the
   messages 1 sent for the same frame (topics, payloads, QoS 1, MQTT 5 properties) and
   waits for their acks with ``wait_for_publish``. Raw **aiomqtt** likewise, when it is
   installed (it is not a dependency of Detektor).
3. **Through Redis** (informational): XADD on the frames stream, read by the real
   ``DetectionsConsumer``, up to the broker's ack.

Prints p50/p99 of each and the ratio raw/ours (1.0 = no overhead). Targets: p99 ≤ 20 ms,
ratio ≥ 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from detektor import package_version
from detektor.adapters.event_sinks import MemoryEventSink
from detektor.domain.events import Envelope
from detektor.kit.health import Liveness
from detektor.kit.metrics import Metrics
from detektor.kit.telemetry import setup_telemetry
from detektor.services.notifier.consumer import DetectionsConsumer
from detektor.services.notifier.entries import DetectionEntry
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.mqtt import MqttLink, broker_from
from detektor.services.notifier.publisher import Notifier
from detektor.services.notifier.rules import Detection
from detektor.settings import Settings
from support.object_events import ObjectScript, envelope
from support.redis import REDIS_URL  # TEST_REDIS_URL, as the tests use

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def detection(i: int) -> Detection:
    x = 100 + (i % 50)
    return Detection("person", 0.8 + (i % 10) / 100, (x, 120, x + 80, 400))


class Person:
    """One object's events, one per frame: started, then a better snapshot each time."""

    def __init__(self) -> None:
        self.script = ObjectScript(camera="bench", start=datetime.now(UTC))
        self.first = True

    def next(self) -> Envelope:
        if self.first:
            self.first = False
            return envelope(self.script.started())
        elapsed = (datetime.now(UTC) - self.script.start).total_seconds()
        return envelope(self.script.better_snapshot(elapsed, 0.9))


class Recorder:
    """Wraps MqttLink.send to keep what one detection caused, for the raw client to repeat."""

    def __init__(self, link: MqttLink) -> None:
        self.link, self.sent = link, []  # type: list[tuple[str, str | bytes, dict[str, Any]]]
        self._send = link.send
        link.send = self.send  # type: ignore[method-assign]

    def send(self, topic: str, payload: str | bytes, **kw: Any) -> asyncio.Future[None]:
        self.sent.append((topic, payload, kw))
        return self._send(topic, payload, **kw)


def raw_publish(
    client: mqtt.Client, messages: list[tuple[str, str | bytes, dict[str, Any]]]
) -> None:
    infos = []
    for topic, payload, kw in messages:
        props = Properties(PacketTypes.PUBLISH)
        if kw.get("json_body"):
            props.ContentType = "application/json"
        if kw.get("traceparent"):
            props.UserProperty = [("traceparent", kw["traceparent"])]
        infos.append(client.publish(topic, payload, kw["qos"], kw.get("retain", False), props))
    for info in infos:
        info.wait_for_publish(5)


async def aio_publish(client: Any, messages: list[tuple[str, str | bytes, dict[str, Any]]]) -> None:
    """aiomqtt: each publish returns once the broker acked it."""
    calls = []
    for topic, payload, kw in messages:
        props = Properties(PacketTypes.PUBLISH)
        if kw.get("json_body"):
            props.ContentType = "application/json"
        if kw.get("traceparent"):
            props.UserProperty = [("traceparent", kw["traceparent"])]
        calls.append(client.publish(topic, payload, kw["qos"], kw.get("retain", False), props))
    await asyncio.gather(*calls)


async def interleaved(
    settings: Settings, count: int, rate: float, port: int
) -> dict[str, list[float]]:
    """Each period: our path, then (a third of a period later, so just as idle) raw paho,
    then raw aiomqtt when installed, all with the same messages."""
    metrics = NotifierMetrics(Metrics("bench", "0"))
    notifier = Notifier(settings, metrics, MemoryEventSink())
    broker = broker_from(f"mqtt://127.0.0.1:{port}", settings.notifier)
    link = notifier.link = MqttLink(
        broker, settings.notifier, notifier.topics.availability, metrics, notifier.on_connect
    )
    await link.start()
    await asyncio.wait_for(link.ready.wait(), 10)
    recorder = Recorder(link)
    raw = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-raw-{uuid.uuid4().hex[:6]}",
        protocol=mqtt.MQTTv5,
    )
    raw.connect("127.0.0.1", port)
    raw.loop_start()
    aio: Any = None
    try:
        import aiomqtt

        aio = aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5)
        await aio.__aenter__()
    except ImportError:
        aio = None
    out: dict[str, list[float]] = {"ours": [], "whole": [], "paho": [], "aiomqtt": []}
    person = Person()
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def at(slot: float) -> None:
        await asyncio.sleep(max(0.0, start + slot / rate - loop.time()))

    try:
        for i in range(count + 40):
            await at(i)
            event = person.next()
            entry = DetectionEntry(event.frame_id, [detection(i)], TRACEPARENT, (event,))
            recorder.sent.clear()
            t0 = time.perf_counter()
            to_ack = await notifier.handle(entry, t0)
            t1 = time.perf_counter()
            messages = list(recorder.sent)
            await at(i + 1 / 3)
            t2 = time.perf_counter()
            raw_publish(raw, messages)
            t3 = time.perf_counter()
            if aio is not None:
                await at(i + 2 / 3)
                t4 = time.perf_counter()
                await aio_publish(aio, messages)
                out["aiomqtt"].append(time.perf_counter() - t4)
            if i >= 40:  # warm-up: the first frame turns everything on
                assert to_ack is not None
                out["ours"].append(to_ack)
                out["whole"].append(t1 - t0)
                out["paho"].append(t3 - t2)
    finally:
        raw.disconnect()
        raw.loop_stop()
        if aio is not None:
            await aio.__aexit__(None, None, None)
        await link.stop()
    out["aiomqtt"] = out["aiomqtt"][40:]
    return out


async def through_redis(settings: Settings, count: int, rate: float, port: int) -> list[float]:
    stream = f"bench-{uuid.uuid4().hex[:8]}:detections"
    metrics = NotifierMetrics(Metrics("bench", "0"))
    redis = Redis.from_url(REDIS_URL)
    notifier = Notifier(settings, metrics, MemoryEventSink())
    broker = broker_from(f"mqtt://127.0.0.1:{port}", settings.notifier)
    link = notifier.link = MqttLink(
        broker, settings.notifier, notifier.topics.availability, metrics, notifier.on_connect
    )
    await link.start()
    await asyncio.wait_for(link.ready.wait(), 10)
    done: dict[str, float] = {}
    handle = notifier.handle

    async def timed(entry: DetectionEntry, received: float | None = None) -> float | None:
        received = time.monotonic() if received is None else received
        took = await handle(entry, received)
        done[str(entry.frame_id)] = received + (took or 0.0)
        return took

    notifier.handle = timed  # type: ignore[method-assign]
    consumer = DetectionsConsumer(redis, notifier, link, stream, metrics, Liveness())
    task = asyncio.create_task(consumer.run())
    sent: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    writer = Redis.from_url(REDIS_URL)
    person = Person()
    try:
        await asyncio.sleep(0.3)
        start = loop.time()
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            event = person.next()
            fid = str(event.frame_id)
            det = detection(i).to_dict()
            sent[fid] = time.monotonic()
            await writer.xadd(
                stream,
                {
                    "frame_id": fid,
                    "camera": "bench",
                    "captured_ms": str(event.frame_id.captured_ms),
                    "detections": json.dumps([det]),
                    "traceparent": TRACEPARENT,
                    "objects": json.dumps([event.to_dict()]),
                },
            )
        deadline = loop.time() + 10
        while len(done) < count and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        consumer.stop()
        await task
        await link.stop()
        await writer.delete(stream, f"{stream}:dead")
        await writer.aclose()
        await redis.aclose()
    return [done[f] - sent[f] for f in list(sent)[40:] if f in done]


def clear(port: int, root: str) -> None:
    seen: set[str] = set()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: seen.add(m.topic) if m.retain else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(f"{root}/#")
    time.sleep(0.5)
    for topic in seen:
        client.publish(topic, b"", 1, True).wait_for_publish(2)
    client.disconnect()
    client.loop_stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1200, help="frames per measurement")
    parser.add_argument("--rate", type=float, default=40.0, help="frames per second")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--no-stream", action="store_true", help="skip the Redis measurement")
    args = parser.parse_args()
    # As in `detektor serve notifier`: the SDK is installed (spans are real), nothing exported.
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    os.environ.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    telemetry = setup_telemetry("notifier-bench", package_version())
    root = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        notifier={
            "discovery_prefix": f"{root}/homeassistant",
            "state_prefix": f"{root}/detektor",
            "client_id": f"bench-{root}",
            "labels": ["person"],
            "snapshot_base_url": "http://tracking:8000",
        }
    )
    when = f"{datetime.now(UTC):%Y-%m-%d}"
    print(f"notifier bench {when}: {args.count} frames at {args.rate:g}/s, QoS 1, port {args.port}")
    try:
        runs = asyncio.run(interleaved(settings, args.count, args.rate, args.port))
        stream = []
        if not args.no_stream:
            stream = asyncio.run(through_redis(settings, args.count, args.rate, args.port))
    finally:
        clear(args.port, root)
        telemetry.shutdown()
    ours = runs["ours"]
    rows = [
        ("ours: frame -> PUBACK", ours),
        ("ours: whole handle() incl. lifecycle", runs["whole"]),
        ("raw paho 2 (loop_start), same messages", runs["paho"]),
    ]
    if runs["aiomqtt"]:
        rows.append(("raw aiomqtt, same messages", runs["aiomqtt"]))
    if stream:
        rows.append(("via Redis: XADD -> PUBACK", stream))
    print(f"{'path':40} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, values in rows:
        p50, p99, mean = pct(values, 0.5), pct(values, 0.99), statistics.fmean(values) * 1000
        print(f"{name:40} {len(values):6d} {p50:8.3f} {p99:8.3f} {mean:8.3f}")
    p99 = pct(ours, 0.99)
    for name in ("paho", "aiomqtt"):
        if runs[name]:
            r50, r99 = pct(runs[name], 0.5) / pct(ours, 0.5), pct(runs[name], 0.99) / p99
            verdict = "met" if r99 >= 0.8 else "NOT met"
            print(f"ratio {name}/ours: p50 {r50:.2f}, p99 {r99:.2f} (target >= 0.8: {verdict})")
    print(f"ours p99 {p99:.3f} ms (target <= 20 ms: {'met' if p99 <= 20 else 'NOT met'})")


if __name__ == "__main__":
    main()
