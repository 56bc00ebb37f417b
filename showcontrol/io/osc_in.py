"""OSC commands over UDP and TCP on the patch's port, on a network thread of their own.

Address space: `/showcontrol/VERB` (go, stop, pause, resume, locate, song, loop, tempo, panic, status) with
the verb's arguments; each is answered to its sender at `/showcontrol/reply/VERB` with one JSON string
(`{"ok": true, "text": ..., "state": {...}}`). Packets from addresses the patch does not allow are dropped
unanswered and counted; so are malformed ones. TCP carries OSC 1.1 SLIP frames (or OSC 1.0 length
prefixes); a connection that sends more than `MAX_PENDING` bytes without a whole packet is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable

from showcontrol.codec.osc import parse_packet, reply_packet
from showcontrol.codec.osc_framing import StreamDecoder, frame_length_prefixed, frame_slip
from showcontrol.control.commands import Command, Handle, Reply, error, parse_command
from showcontrol.control.counts import InputCounts
from showcontrol.errors import ShowControlError
from showcontrol.model.inputs import LOOPBACK, OscInput

log = logging.getLogger(__name__)
PREFIX = "/showcontrol/"
MAX_PENDING = 65536


def command_of(address: str, args: tuple[object, ...]) -> Command | Reply:
    """`/showcontrol/locate 17` -> Locate(17); any other address is an error reply."""
    if not address.startswith(PREFIX):
        return error(f"unknown address {address[:60]!r}: commands are {PREFIX}VERB")
    return parse_command(address[len(PREFIX) :], args)


class OscInputServer:
    """`with OscInputServer(spec, controller.handle): ...` listens until closed."""

    def __init__(self, spec: OscInput, handle: Handle) -> None:
        self.spec = spec
        self._handle = handle
        self.counts = InputCounts()  # not allowed: packets, or TCP connections; malformed: packets, or a stream
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: OSError | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def bind_host(self) -> str:
        """Loopback when only loopback is allowed, so a quick start is not even reachable from the venue's Wi-Fi."""
        return "127.0.0.1" if set(self.spec.allow) <= set(LOOPBACK) else "0.0.0.0"

    def __enter__(self) -> OscInputServer:
        self._thread = threading.Thread(target=self._run, name="osc-in", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        if self._failure is not None:
            raise ShowControlError(f"OSC input on port {self.spec.port}: {self._failure.strerror or self._failure}")
        log.info("OSC input on %s port %d (%s), from %s", self.bind_host, self.spec.port, "+".join(self.spec.transports),
                 ", ".join(map(str, self.spec.allow)))  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(5)
        log.info("OSC input: %s", self.counts.text())

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop, self._stopped = asyncio.get_running_loop(), asyncio.Event()
        closers: list[Callable[[], None]] = []
        try:
            if "udp" in self.spec.transports:
                transport, _ = await self._loop.create_datagram_endpoint(
                    lambda: _Datagrams(self), local_addr=(self.bind_host, self.spec.port)
                )
                closers.append(transport.close)
            if "tcp" in self.spec.transports:
                server = await asyncio.start_server(self._connection, self.bind_host, self.spec.port, reuse_address=True)
                closers.append(server.close)
        except OSError as failure:
            self._failure = failure
        self._ready.set()
        if self._failure is None:
            await self._stopped.wait()
        for close in closers:
            close()

    def answer(self, data: bytes, host: str, port: int, transport: str) -> list[bytes]:
        """The replies to one packet from host:port (none for a packet dropped or malformed)."""
        if not self.spec.allows(host):
            self.counts.not_allowed += 1
            return []
        messages = parse_packet(data)
        if messages is None:
            self.counts.malformed += 1
            return []
        replies = []
        for address, args in messages:
            reply = self._handle(command_of(address, args), f"osc-{transport}:{host}:{port}")
            self.counts.count(reply)
            verb = address[len(PREFIX) :] if address.startswith(PREFIX) else "error"
            replies.append(reply_packet(f"{PREFIX}reply/{verb[:32]}", json.dumps(reply.as_dict(), ensure_ascii=False)))
        return replies

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        if not self.spec.allows(host):
            self.counts.not_allowed += 1
            writer.close()
            return
        decoder = StreamDecoder(self.spec.framing)
        frame = frame_slip if self.spec.framing == "slip" else frame_length_prefixed
        pending = 0
        try:
            while data := await reader.read(65536):
                packets = decoder.feed(data)
                pending = 0 if packets else pending + len(data)
                if pending > MAX_PENDING:
                    self.counts.malformed += 1
                    break
                for packet in packets:
                    for reply in self.answer(packet, host, port, "tcp"):
                        writer.write(frame(reply))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: OscInputServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.DatagramTransport) -> None:  # type: ignore[override]  # asyncio's own signature
        self._transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        host, port = str(addr[0]), int(str(addr[1]))
        for reply in self._server.answer(data, host, port, "udp"):
            if self._transport is not None:
                self._transport.sendto(reply, (host, port))
