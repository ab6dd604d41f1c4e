"""The MQTT link: paho-mqtt 2.x (MQTT 5) driven from asyncio (ADR 11).

paho's network thread (``loop_start``) does the socket work, the keepalive and the
reconnects (backoff from ``reconnect_min_s`` doubling to ``reconnect_max_s``). The asyncio
side gets a future per message, resolved when the broker acknowledges it (PUBACK/PUBCOMP;
for QoS 0, when it is written). The will is ``offline`` on the availability topic, retained;
after every (re)connect the ``on_connect`` hook runs (discovery, ``online``, states) and only
then is the link ``ready``. A message published while disconnected at QoS 1/2 waits in paho
and goes out after the reconnect. Passwords never reach a log line: the broker is always
shown as a masked URL.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from anyio import to_thread
from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from detektor.kit.redact import mask_url
from detektor.services.notifier.discovery import OFFLINE
from detektor.services.notifier.metrics import NotifierMetrics
from detektor.services.notifier.settings import NotifierSettings
from detektor.settings import ConfigError

log = logging.getLogger(__name__)
_SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}


class PublishError(Exception):
    """A message could not be delivered now (not connected, link closed): worth a retry."""


class Refused(PublishError):
    """The broker answered the message with a failure reason code (e.g. not authorised)."""


@dataclass(frozen=True, slots=True)
class Broker:
    """Where and how to connect; ``password`` is kept out of repr and logs."""

    host: str
    port: int
    tls: bool
    client_id: str
    shown: str  # the URL with its password masked, for logs and /info
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def broker_from(url: str, cfg: NotifierSettings) -> Broker:
    """The broker of ``DETEKTOR_MQTT_URL``; notifier.username/password override the URL's."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"DETEKTOR_MQTT_URL={shown}: {exc}") from None
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise ConfigError(
            f"DETEKTOR_MQTT_URL={shown}: use mqtt://user:password@host:1883 (or mqtts://… for TLS)"
        )
    tls, default_port = _SCHEMES[parts.scheme]
    password = cfg.password.get_secret_value() if cfg.password else None
    return Broker(
        host=parts.hostname,
        port=port or default_port,
        tls=tls,
        client_id=cfg.client_id or f"detektor-notifier-{cfg.consumer}",
        shown=shown,
        username=cfg.username or (unquote(parts.username) if parts.username else None),
        password=password or (unquote(parts.password) if parts.password else None),
    )


def _properties(traceparent: str | None, json_body: bool) -> Properties | None:
    if traceparent is None and not json_body:
        return None
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if json_body:
        props.ContentType = "application/json"
    if traceparent is not None:
        # W3C trace-context-mqtt: the traceparent travels as an MQTT 5 user property.
        props.UserProperty = [("traceparent", traceparent)]
    return props


class MqttLink:
    def __init__(
        self,
        broker: Broker,
        cfg: NotifierSettings,
        availability_topic: str,
        metrics: NotifierMetrics,
        on_connect: Callable[[], Awaitable[None]],
    ) -> None:
        self.broker, self.cfg, self.metrics = broker, cfg, metrics
        self.availability_topic = availability_topic
        self.on_connect = on_connect
        self.connected = asyncio.Event()
        self.ready = asyncio.Event()  # connected, and the on_connect hook has run
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._early: dict[int, ReasonCode | None] = {}
        self._generation = 0
        self._stopping = False
        self._failures = 0
        self._hooks: set[asyncio.Task[None]] = set()
        self.client = self._build_client()

    def _build_client(self) -> Client:
        b, cfg = self.broker, self.cfg
        client = Client(
            CallbackAPIVersion.VERSION2, client_id=b.client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        if b.username is not None:
            client.username_pw_set(b.username, b.password)
        if b.tls:
            client.tls_set(
                ca_certs=_path(cfg.tls_ca_file),
                certfile=_path(cfg.tls_cert_file),
                keyfile=_path(cfg.tls_key_file),
                cert_reqs=ssl.CERT_REQUIRED,
            )
            client.tls_insecure_set(cfg.tls_insecure)
        client.will_set(self.availability_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_publish = self._on_publish
        return client

    async def start(self) -> None:
        """Connect in the background; the link retries until ``stop`` (never raises here)."""
        self._loop = asyncio.get_running_loop()
        log.info("connecting to MQTT broker %s as %s", self.broker.shown, self.broker.client_id)
        self.client.connect_async(self.broker.host, self.broker.port, self.cfg.keepalive_s)
        self.client.loop_start()

    async def stop(self, grace_s: float = 2.0) -> None:
        """Say ``offline`` (retained) while still connected, then disconnect cleanly."""
        if self.connected.is_set():
            try:
                await asyncio.wait_for(
                    self.send(self.availability_topic, OFFLINE, qos=1, retain=True), grace_s
                )
            except (TimeoutError, PublishError) as exc:
                log.warning("could not publish offline before disconnecting: %s", exc)
        self._stopping = True
        self.client.disconnect()
        await to_thread.run_sync(self.client.loop_stop)
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(PublishError("the link was closed before the broker acked"))
        self.metrics.connected.set(0)

    def send(
        self,
        topic: str,
        payload: str | bytes,
        *,
        qos: int,
        retain: bool = False,
        traceparent: str | None = None,
        json_body: bool = False,
    ) -> asyncio.Future[None]:
        """Publish; the future completes when the broker has the message."""
        assert self._loop is not None, "start() first"
        fut: asyncio.Future[None] = self._loop.create_future()
        props = _properties(traceparent, json_body)
        info: MQTTMessageInfo = self.client.publish(topic, payload, qos, retain, props)
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos == 0:
            fut.set_exception(PublishError("not connected to the broker"))
            return fut
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            fut.set_exception(PublishError(f"publish to {topic} failed: {info.rc.name}"))
            return fut
        with self._lock:
            if info.mid in self._early:
                _settle(fut, self._early.pop(info.mid))
            else:
                self._waiting[info.mid] = fut
        return fut

    async def check(self) -> None:
        """Readiness: raise unless connected."""
        if not self.ready.is_set():
            raise ConnectionError(f"not connected to MQTT broker {self.broker.shown}")

    # paho's network thread calls the methods below; they hand over to the event loop.

    def _on_publish(
        self, client: Client, userdata: Any, mid: int, rc: ReasonCode, props: Properties
    ) -> None:
        with self._lock:
            fut = self._waiting.pop(mid, None)
            if fut is None:  # acked before send() registered it
                self._early[mid] = rc
                return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(_settle, fut, rc)

    def _on_connect(
        self,
        client: Client,
        userdata: Any,
        flags: ConnectFlags,
        rc: ReasonCode,
        props: Properties | None,
    ) -> None:
        if rc.is_failure:
            log.error("MQTT broker %s refused the connection: %s", self.broker.shown, rc)
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._connected_in_loop)

    def _on_disconnect(
        self,
        client: Client,
        userdata: Any,
        flags: DisconnectFlags,
        rc: ReasonCode,
        props: Properties | None,
    ) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._disconnected_in_loop, str(rc))

    def _on_connect_fail(self, client: Client, userdata: Any) -> None:
        self._failures += 1
        if self._failures == 1 or self._failures % 20 == 0:
            log.warning(
                "cannot reach MQTT broker %s (attempt %d); retrying with backoff",
                self.broker.shown,
                self._failures,
            )

    def _connected_in_loop(self) -> None:
        self._generation += 1
        self._failures = 0
        self.connected.set()
        self.metrics.connected.set(1)
        self.metrics.connections.inc()
        log.info("connected to MQTT broker %s", self.broker.shown)
        task = asyncio.create_task(self._after_connect(self._generation), name="mqtt-on-connect")
        self._hooks.add(task)
        task.add_done_callback(self._hooks.discard)

    async def _after_connect(self, generation: int) -> None:
        try:
            await self.on_connect()
        except Exception:
            log.exception("re-publishing discovery and state after connecting failed")
        if generation == self._generation and self.connected.is_set():
            self.ready.set()

    def _disconnected_in_loop(self, reason: str) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        self.ready.clear()
        self.metrics.connected.set(0)
        if was and not self._stopping:
            log.warning("lost MQTT broker %s (%s); reconnecting", self.broker.shown, reason)


def _settle(fut: asyncio.Future[None], rc: ReasonCode | None) -> None:
    if fut.done():
        return
    if rc is not None and rc.is_failure:
        fut.set_exception(Refused(f"the broker refused the message: {rc}"))
    else:
        fut.set_result(None)


def _path(value: Path | None) -> str | None:
    return None if value is None else str(value)
