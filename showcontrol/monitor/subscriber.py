"""The monitor's MQTT connection: one thread subscribed to PREFIX#, reconnecting with backoff forever.
Messages go to a queue the window drains each frame; the window never waits on the network."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

import aiomqtt

from showcontrol.io.backoff import Backoff

log = logging.getLogger(__name__)


class Subscriber:
    def __init__(self, host: str, port: int, prefix: str, username: str | None = None, password: str | None = None) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self._credentials = (username, password)
        self.messages: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self.connected = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="monitor-mqtt", daemon=True)

    def start(self) -> Subscriber:
        self._thread.start()
        return self

    async def _run(self) -> None:
        waits = Backoff(0.5, 5.0)
        while not self._stop.is_set():
            try:
                username, password = self._credentials
                async with aiomqtt.Client(self.host, self.port, username=username, password=password, keepalive=5) as client:
                    await client.subscribe(f"{self.prefix}#", qos=1)
                    self.connected = True
                    waits.reset()
                    async for message in client.messages:
                        topic = str(message.topic)
                        body = (
                            message.payload.decode(errors="replace") if isinstance(message.payload, bytes) else str(message.payload or "")
                        )
                        self.messages.put((topic.removeprefix(self.prefix), body))
                        if self._stop.is_set():
                            return
            except aiomqtt.MqttError as error:
                if self.connected:
                    log.warning("lost the broker %s:%d: %s", self.host, self.port, error)
            except Exception:  # whatever else one message or the library throws, the monitor listens on
                log.exception("monitor subscription to %s:%d failed; subscribing again", self.host, self.port)
            self.connected = False
            await asyncio.sleep(waits.next_s())

    def stop(self) -> None:
        self._stop.set()
