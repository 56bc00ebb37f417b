"""MQTT with aiomqtt (v2) on the network thread: the only module that imports it.

Per output: a retained `{prefix}status` presence topic (`online`, with last will `offline`), retained
state topics (`state/transport`, `state/section`, `state/position`, `state/lyric`, `state/breath`) that
let a monitor join mid-song, and cue messages. While the broker is away the output reconnects with
backoff; cues queued meanwhile that are older than `max_delay_s` are dropped and logged rather than
fired late (a confetti cue must not go off 30 s after its beat), and the latest retained state is
republished on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiomqtt

from showcontrol.describe import message_data
from showcontrol.io.output import Health, Output
from showcontrol.model.patch import MqttOutput
from showcontrol.model.show import Lyric, MqttAction, Section
from showcontrol.realtime import HELPER_PRIORITY, raise_priority
from showcontrol.timeline.events import ClickHit, Event, Kind
from showcontrol.timeline.sync import SyncPoint

log = logging.getLogger(__name__)

Report = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Publication:
    topic: str
    payload: str
    qos: int
    retain: bool
    due_ns: int
    cue: bool


class MqttPublisher(Output):
    def __init__(
        self,
        spec: MqttOutput,
        report: Report | None = None,
        max_delay_s: float = 2.0,
        queue_size: int = 1000,
        beats: Mapping[int, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(spec.name, spec.latency_ms)
        self.spec = spec
        self.beats = beats or {}  # what monitors show from each beat on (timeline.beats), by song frame
        self.prefix = spec.topic_prefix
        self.max_delay_ns = int(max_delay_s * 1e9)
        self._report = report or (lambda record: None)
        self._queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Publication | None] | None = None
        self._retained: dict[str, Publication] = {}
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._ready = threading.Event()
        self.connections = 0

    # -- dispatcher side -------------------------------------------------------------------
    def prepare(self, event: Event) -> object:
        action = event.payload
        assert isinstance(action, MqttAction)
        return Publication(self.prefix + action.topic, action.payload, action.qos, action.retain, 0, True)

    def send(self, message: object, event: Event, due_ns: int) -> str:
        assert isinstance(message, Publication)
        return self._enqueue(Publication(message.topic, message.payload, message.qos, message.retain, due_ns, True))

    def state(self, event: Event) -> None:
        topic, data = _state_message(event)
        if topic == "position" and event.at_frame in self.beats:
            data = self.beats[event.at_frame]
        if topic:
            self._enqueue(
                Publication(f"{self.prefix}state/{topic}", json.dumps(data, ensure_ascii=False), 0, True, time.monotonic_ns(), False)
            )

    def transport(self, state: str, song_id: str, position: str, sync: SyncPoint) -> None:
        data = {"state": state, "song": song_id, "position": position}
        self._enqueue(Publication(f"{self.prefix}state/transport", json.dumps(data), 1, True, time.monotonic_ns(), False))

    def _enqueue(self, publication: Publication) -> str:
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or loop.is_closed():
            self.status.counters.dropped += 1
            return "dropped: network thread not running"
        if publication.retain:
            self._retained[publication.topic] = publication
        try:
            loop.call_soon_threadsafe(self._put, publication)
        except RuntimeError:  # loop closed between the check and the call
            self.status.counters.dropped += 1
            return "dropped: network thread stopped"
        return "queued" if self.status.health is Health.UP else f"queued ({self.status.health})"

    # -- network thread ------------------------------------------------------------------
    def open(self) -> MqttPublisher:
        self._thread = threading.Thread(target=self._run_loop, name=f"mqtt-{self.name}", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def _put(self, publication: Publication) -> None:
        assert self._queue is not None
        if self._queue.full():
            self.status.counters.dropped += 1
            self._report({"output": self.name, "topic": publication.topic, "result": "dropped: queue full"})
            return
        self._queue.put_nowait(publication)

    def _run_loop(self) -> None:
        raise_priority(HELPER_PRIORITY, warn=False)  # it takes the GIL the dispatcher waits for: see realtime.py
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._queue = asyncio.Queue(self._queue_size)
        self._ready.set()
        try:
            loop.run_until_complete(self._connect_forever())
        finally:
            self._account_for_undelivered()
            loop.close()

    def _account_for_undelivered(self) -> None:
        """Cues still queued when the show closes (broker down) are dropped and logged, not forgotten."""
        assert self._queue is not None
        while not self._queue.empty():
            publication = self._queue.get_nowait()
            if publication is not None and publication.cue:
                self.status.counters.dropped += 1
                self._report({"output": self.name, "topic": publication.topic, "result": "dropped: undelivered at shutdown"})

    def _client(self) -> aiomqtt.Client:
        password = os.environ.get(self.spec.password_env) if self.spec.password_env else None
        tls = self.spec.tls
        tls_params = None
        if tls is not None:
            tls_params = aiomqtt.TLSParameters(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
            )
        will = aiomqtt.Will(f"{self.prefix}status", "offline", qos=1, retain=True)
        return aiomqtt.Client(
            self.spec.host,
            self.spec.port,
            username=self.spec.username,
            password=password,
            identifier=self.spec.client_id,
            will=will,
            tls_params=tls_params,
            tls_insecure=tls.insecure if tls else None,
            keepalive=5,
            timeout=3,
        )

    async def _connect_forever(self) -> None:
        backoff = 0.25
        while not self._stopped.is_set():
            try:
                async with self._client() as client:
                    self.connections += 1
                    await client.publish(f"{self.prefix}status", "online", qos=1, retain=True)
                    for publication in list(self._retained.values()):
                        if not publication.cue:
                            await client.publish(publication.topic, publication.payload, qos=publication.qos, retain=True)
                    self.mark(Health.UP)
                    backoff = 0.25
                    if await self._publish_until_stopped(client):
                        await client.publish(f"{self.prefix}status", "offline", qos=1, retain=True)
                        return
            except aiomqtt.MqttError as error:
                self.mark(Health.DOWN, f"broker {self.spec.host}:{self.spec.port}: {error}")
            if self._stopped.is_set():
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _publish_until_stopped(self, client: aiomqtt.Client) -> bool:
        """Publish queued messages; True when asked to stop, raises MqttError when the broker goes away."""
        assert self._queue is not None
        while True:
            publication = await self._queue.get()
            if publication is None:
                return True
            if publication.cue and time.monotonic_ns() - publication.due_ns > self.max_delay_ns:
                self.status.counters.dropped += 1
                late_ms = round((time.monotonic_ns() - publication.due_ns) / 1e6, 1)
                self._report(
                    {"output": self.name, "topic": publication.topic, "result": "dropped: stale after broker outage", "late_ms": late_ms}
                )
                continue
            try:
                await client.publish(publication.topic, publication.payload, qos=publication.qos, retain=publication.retain)
            except aiomqtt.MqttError:
                self._requeue_first(publication)  # not lost: retried (or dropped as stale) after reconnecting
                raise
            if publication.cue:
                self.status.counters.sent += 1

    def _requeue_first(self, publication: Publication) -> None:
        assert self._queue is not None
        rest = []
        while not self._queue.empty():
            rest.append(self._queue.get_nowait())
        for item in [publication, *rest][: self._queue_size]:
            self._queue.put_nowait(item)

    def close(self) -> None:
        self._stopped.set()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._put_stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _put_stop(self) -> None:
        assert self._queue is not None
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


def _state_message(event: Event) -> tuple[str, dict[str, Any]]:
    payload = event.payload
    position = {"bar": event.position.bar, "beat": event.position.beat}
    if isinstance(payload, Section):
        return "section", {"name": payload.name, **position}
    if isinstance(payload, Lyric):
        return ("breath" if event.kind is Kind.BREATH else "lyric"), {**message_data(event), **position}
    if isinstance(payload, ClickHit) and event.kind is Kind.BEAT:
        return "position", {**position, "downbeat": payload.sound == "accent"}
    if event.kind is Kind.END:
        return "section", {"name": "end", **position}
    return "", {}
