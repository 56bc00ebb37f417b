"""Subscribing to a show's topics (aiomqtt, on a thread of its own), for a reader that must never wait on
the network: the monitor window drains `messages` each frame. Reconnects with backoff, forever.

A message is handed on as it came, topic (relative to the prefix) and bytes: reading it is the reader's
job (codec/monitor.py), and whatever one message holds, or the library throws, the subscription goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading

import aiomqtt

from showcontrol.io.backoff import Backoff

log = logging.getLogger(__name__)


class MqttSubscriber:
    """`with MqttSubscriber(host, port, "showcontrol/stage-a/") as subscriber:` collects `PREFIX#` until closed."""

    def __init__(self, host: str, port: int, prefix: str, username: str | None = None, password: str | None = None) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self._credentials = (username, password)
        self.messages: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self.connected = False
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="mqtt-subscriber", daemon=True)

    def __enter__(self) -> MqttSubscriber:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        loop, session = self._loop, self._session
        if loop is not None and session is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(session.cancel)
        self._thread.join(timeout=2)

    async def _run(self) -> None:
        self._loop, self._session = asyncio.get_running_loop(), asyncio.current_task()
        waits = Backoff(0.5, 5.0)
        with contextlib.suppress(asyncio.CancelledError):  # closed
            while not self._stop.is_set():
                try:
                    await self._subscribed(waits)
                except aiomqtt.MqttError as error:
                    if self.connected:
                        log.warning("lost the broker %s:%d: %s", self.host, self.port, error)
                except Exception:  # whatever else the library throws, the subscriber listens on
                    log.exception("subscription to %s:%d failed; subscribing again", self.host, self.port)
                self.connected = False
                await asyncio.sleep(waits.next_s())

    async def _subscribed(self, waits: Backoff) -> None:
        username, password = self._credentials
        async with aiomqtt.Client(self.host, self.port, username=username, password=password, keepalive=5) as client:
            await client.subscribe(f"{self.prefix}#", qos=1)
            self.connected = True
            waits.reset()
            async for message in client.messages:
                self.messages.put((str(message.topic).removeprefix(self.prefix), payload_of(message)))


def payload_of(message: aiomqtt.Message) -> bytes:
    """A message's payload as bytes (paho always hands bytes; aiomqtt's type allows numbers and text)."""
    payload = message.payload
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()
