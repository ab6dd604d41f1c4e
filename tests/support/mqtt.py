"""Real MQTT for tests: a recording subscriber and a Mosquitto of the test's own.

``Subscriber`` records everything under a topic filter (payloads kept as bytes too, for
images) and subscribes again after every reconnect. With ``session=True`` it keeps a
persistent session (MQTT 5 clean start off, a long session expiry), so a broker with
persistence queues what is published while the subscriber is away and hands it over, in
order, when it comes back: a test sees the whole sequence of an outage whatever the timing
of the reconnects.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support.services import free_port
from support.waiting import wait_for


@dataclass(frozen=True)
class Message:
    topic: str
    raw: bytes
    retain: bool
    user_properties: dict[str, str]
    at: float  # time.monotonic() on arrival

    @property
    def payload(self) -> str:
        return self.raw.decode("utf-8", "replace")


class Subscriber:
    """A paho MQTT 5 client that records everything under ``topic``."""

    def __init__(self, port: int, topic: str, *, session: bool = False) -> None:
        self.messages: list[Message] = []
        self.topic = topic
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        client_id = f"sub-{uuid.uuid4().hex[:12]}" if session else ""
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.reconnect_delay_set(1, 1)
        props = None
        if session:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 3600
        self.client.connect(
            "127.0.0.1", port, clean_start=not session, properties=props, keepalive=10
        )
        self.client.loop_start()
        wait_for(self.subscribed.is_set, 10, f"subscribed to {topic}")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if not getattr(flags, "session_present", False):
            client.subscribe(self.topic, qos=1)

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        message = Message(msg.topic, bytes(msg.payload), bool(msg.retain), props, time.monotonic())
        with self._lock:
            self.messages.append(message)

    def seen(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.seen() if m.topic == topic]

    def latest(self, topic: str) -> Message | None:
        found = self.on(topic)
        return found[-1] if found else None

    def wait(self, topic: str, payload: str | None = None, timeout: float = 10.0) -> Message:
        def check() -> Message | None:
            m = self.latest(topic)
            return m if m is not None and payload in (None, m.payload) else None

        return wait_for(check, timeout, f"{topic} = {payload or 'anything'}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def clear_retained(port: int, root: str) -> None:
    """Remove every retained message under ``root`` (best effort)."""
    sub = Subscriber(port, f"{root}/#")
    time.sleep(0.5)
    for topic in {m.topic for m in sub.seen() if m.retain}:
        sub.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(2)
    sub.close()


class PrivateMosquitto:
    """A mosquitto of the test's own on a free port. Without persistence a restart loses
    every retained message and session, so what comes back was re-published; with it,
    retained messages and persistent sessions (with their queued messages) survive."""

    def __init__(
        self,
        binary: str,
        tmp: Path,
        *,
        persistence: bool = False,
        acl: Sequence[str] | None = None,
    ) -> None:
        """``acl``: ``topic`` lines for anonymous clients (all they may touch); unset: all."""
        self.port = free_port()
        self.config = tmp / f"mosquitto-{self.port}.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
        if acl is not None:
            rules = tmp / f"mosquitto-{self.port}.acl"
            rules.write_text("\n".join(acl) + "\n")
            lines.append(f"acl_file {rules}")
            if os.geteuid() == 0:  # else it reads the file as 'mosquitto', which cannot
                lines.append("user root")
        if persistence:
            store = tmp / f"mosquitto-{self.port}-data"
            store.mkdir()
            lines += ["persistence true", f"persistence_location {store}/"]
        else:
            lines.append("persistence false")
        self.config.write_text("\n".join(lines) + "\n")
        self.binary, self.log = binary, tmp / f"mosquitto-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(lambda: port_open(self.port), 10, f"mosquitto on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # a clean stop also saves the persistence
            self.proc.wait(10)
        self.proc = None


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
