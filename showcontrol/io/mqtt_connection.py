"""One connection of a paho client, driven by the network thread's asyncio loop.

paho's external-loop API (the `on_socket_*` callbacks, `loop_read`, `loop_write`, `loop_misc`) is how
aiomqtt drives paho inside; the publisher owns it here instead, so that a cue handed to paho is written
in the same turn of the loop (`write_now`), and nothing reaches into another library's private client.
Connecting blocks (TCP, then TLS), so it runs in the loop's executor; everything else runs on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from showcontrol.io.mqtt_cue_line import NO_NAGLE

KEEPALIVE_S = 5  # the broker notices a dead engine (and sends its last will) within 1.5 times this
CONNACK_TIMEOUT_S = 3.0


class Connection:
    """`connection = Connection(client); await connection.connect(host, port)`; `ended` completes when the connection does
    (with ConnectionError unless `disconnect` ended it); `close()` always, after."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._connack: asyncio.Future[None] = self._loop.create_future()
        self.ended: asyncio.Future[None] = self._loop.create_future()
        self._keepalive: asyncio.Task[None] | None = None
        self._fileno = -1
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = lambda _client, _data, sock: self._on_loop(self._watch, sock)
        client.on_socket_close = lambda _client, _data, sock: self._on_loop(self._unwatch)
        client.on_socket_register_write = lambda _client, _data, sock: self._on_loop(self._watch_writable, sock)
        client.on_socket_unregister_write = lambda _client, _data, sock: self._on_loop(self._unwatch_writable, sock)

    async def connect(self, host: str, port: int, timeout_s: float = CONNACK_TIMEOUT_S) -> None:
        """Connect and wait for the broker's CONNACK; raises OSError (ConnectionError with the broker's reason)."""
        await self._loop.run_in_executor(None, self.client.connect, host, port, KEEPALIVE_S)
        sock = self.client.socket()
        if isinstance(sock, socket.socket):  # paho leaves Nagle's algorithm on
            sock.setsockopt(*NO_NAGLE)
        try:
            await asyncio.wait_for(asyncio.shield(self._connack), timeout_s)
        except TimeoutError:
            raise ConnectionError(f"no answer from the broker in {timeout_s:g} s") from None
        self._keepalive = self._loop.create_task(self._keep_alive())

    def write_now(self) -> None:
        """Write what paho has queued, now, on this thread; raises ConnectionError if the connection is lost."""
        if self.client.loop_write() != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError("connection lost while writing")

    async def disconnect(self, timeout_s: float = 1.0) -> None:
        """Say goodbye (the broker then drops the last will) and wait for the connection to end."""
        self.client.disconnect()
        with contextlib.suppress(OSError):
            self.write_now()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.ended), timeout_s)

    def close(self) -> None:
        """Stop driving the client; a socket still open (a connection that never got its CONNACK) is closed."""
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self.client.socket() is not None:
            self.client.disconnect()
            with contextlib.suppress(OSError):
                self.client.loop_write()  # paho closes the socket once its DISCONNECT is written (or cannot be)
        self._unwatch()
        self._end(ConnectionError("closed"))
        for future in (self._connack, self.ended):
            if not future.cancelled():
                future.exception()  # retrieved: an end nobody waited for is not an error to report

    # -- paho's callbacks, on the loop (or, while connecting, on the executor thread) ----------------
    def _on_loop(self, call: Callable[..., None], *args: Any) -> None:
        if threading.get_ident() == self._thread:
            call(*args)
        else:
            self._loop.call_soon_threadsafe(call, *args)

    def _watch(self, sock: socket.socket) -> None:
        self._fileno = sock.fileno()
        self._loop.add_reader(self._fileno, self._readable)

    def _unwatch(self) -> None:
        if self._fileno >= 0:
            self._loop.remove_reader(self._fileno)
            self._loop.remove_writer(self._fileno)
            self._fileno = -1

    def _watch_writable(self, sock: socket.socket) -> None:
        """paho has queued a packet: watch for the socket to take it, unless it is written first. The
        publisher writes at once (`write_now`), so the check waits a turn of the loop, and the bytes leave
        without two system calls (watch, unwatch) before them."""
        self._loop.call_soon(self._watch_if_unwritten)

    def _watch_if_unwritten(self) -> None:
        if self._fileno >= 0 and self.client.want_write():
            self._loop.add_writer(self._fileno, self._writable)

    def _unwatch_writable(self, sock: socket.socket) -> None:
        if sock.fileno() >= 0:
            self._loop.remove_writer(sock.fileno())

    def _readable(self) -> None:
        try:
            while self.client.loop_read() == mqtt.MQTT_ERR_SUCCESS:
                sock = self.client.socket()
                if not isinstance(sock, ssl.SSLSocket) or not sock.pending():
                    break  # TLS may hold decoded bytes the socket no longer signals (paho.mqtt.python#131)
        except Exception as error:  # a broken pipe, a TLS error: the connection is gone
            self._end(ConnectionError(f"connection lost: {error}"))

    def _writable(self) -> None:
        try:
            self.client.loop_write()
        except Exception as error:
            self._end(ConnectionError(f"connection lost: {error}"))

    async def _keep_alive(self) -> None:
        while self.client.loop_misc() == mqtt.MQTT_ERR_SUCCESS:  # pings, and notices a silent broker
            await asyncio.sleep(1)
        self._end(ConnectionError("the broker stopped answering"))

    def _on_connect(self, _client: mqtt.Client, _data: object, _flags: object, reason: ReasonCode, _properties: object) -> None:
        if self._connack.done():
            return
        if reason.is_failure:
            self._connack.set_exception(ConnectionError(f"the broker refused the connection: {reason}"))
        else:
            self._connack.set_result(None)

    def _on_disconnect(self, _client: mqtt.Client, _data: object, _flags: object, reason: ReasonCode, _properties: object) -> None:
        if not reason.is_failure and not self.ended.done():
            self.ended.set_result(None)  # the goodbye we asked for
        unspecified = reason.value == 128  # what paho says of a socket that closed or failed under it
        self._end(ConnectionError("connection lost" if unspecified else f"connection lost: {reason}"))

    def _end(self, error: ConnectionError) -> None:
        for future in (self._connack, self.ended):
            if not future.done():
                future.set_exception(error)
