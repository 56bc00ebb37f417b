"""OSC messages (python-osc's builder), optionally in timetagged bundles, and OSC over UDP on our own
non-blocking socket (TCP is `osc_tcp`).

The socket is connected to its destination so the kernel reports ICMP "port unreachable" as an error
on a later send: a console that is not listening shows up as an output that is down, counted, never
raised. The host is resolved when the output opens, not at show time. Errors arrive one per ICMP
reply, so health only returns to up after `RECOVER_NS` without one (no flapping in the log).
"""

from __future__ import annotations

import socket
import time

from pythonosc.osc_message_builder import OscMessageBuilder

from showcontrol.codec.osc_framing import bundle, ntp_timetag
from showcontrol.io.output import Health, Output
from showcontrol.model.patch import OscOutput
from showcontrol.model.show import OscAction
from showcontrol.timeline.events import Event


def encode(action: OscAction) -> bytes:
    builder = OscMessageBuilder(address=action.address)
    for arg in action.args:
        builder.add_arg(arg)
    return bytes(builder.build().dgram)


RECOVER_NS = 2_000_000_000


class KeepaliveTimer:
    """When a profile's keep-alive (X32 `/xremote`) is due; the supervisor asks about twice a second."""

    def __init__(self, spec: OscOutput) -> None:
        keepalive = spec.profile.keepalive if spec.profile else None
        self.packet = bytes(OscMessageBuilder(address=keepalive.address).build().dgram) if keepalive else b""
        self._every_ns = int(keepalive.every_s * 1e9) if keepalive else 0
        self._next_ns = 0

    def due(self, now_ns: int) -> bool:
        if not self.packet or now_ns < self._next_ns:
            return False
        self._next_ns = now_ns + self._every_ns
        return True


class OscWire:
    """What goes on the wire for an output: each message alone, or (with `bundles: true`) in a bundle
    whose NTP timetag is the event's due time, for consoles that schedule bundles themselves."""

    def __init__(self, spec: OscOutput) -> None:
        self.bundles = spec.bundles
        self._wall_minus_monotonic_ns = time.time_ns() - time.monotonic_ns()

    @staticmethod
    def prepare(event: Event) -> bytes:
        assert isinstance(event.payload, OscAction)
        return encode(event.payload)

    def packet(self, message: bytes, due_ns: int) -> bytes:
        return bundle(message, ntp_timetag(due_ns + self._wall_minus_monotonic_ns)) if self.bundles else message


class OscUdpOutput(Output):
    def __init__(self, spec: OscOutput) -> None:
        super().__init__(spec.name, spec.latency_ms)
        self.spec = spec
        self.wire = OscWire(spec)
        self.keepalive = KeepaliveTimer(spec)
        self._socket: socket.socket | None = None
        self._last_error_ns = 0

    def open(self) -> OscUdpOutput:
        try:
            family, kind, _, _, address = socket.getaddrinfo(self.spec.host, self.spec.port, type=socket.SOCK_DGRAM)[0]
            udp = socket.socket(family, kind)
            udp.setblocking(False)
            udp.connect(address)
            self._socket = udp
            self.mark(Health.UP)
        except OSError as error:
            self.count_error(f"cannot reach {self.spec.host}:{self.spec.port}: {error.strerror or error}")
        return self

    def prepare(self, event: Event) -> object:
        return self.wire.prepare(event)

    def send(self, message: object, event: Event, due_ns: int) -> str:
        assert isinstance(message, bytes)
        return self.send_now(self.wire.packet(message, due_ns))

    def maintain(self) -> None:
        if self.keepalive.due(time.monotonic_ns()):
            self.send_now(self.keepalive.packet)

    def send_now(self, packet: bytes) -> str:
        """One datagram now (a cue, or a keep-alive from the supervisor)."""
        if self._socket is None:
            self.status.counters.dropped += 1
            return f"dropped: {self.status.last_error or 'not open'}"
        try:
            self._socket.send(packet)
        except OSError as error:
            self._last_error_ns = time.monotonic_ns()
            return self.count_error(f"{self.spec.host}:{self.spec.port}: {error.strerror or error}")
        self.status.counters.sent += 1
        if self.status.health is not Health.UP and time.monotonic_ns() - self._last_error_ns > RECOVER_NS:
            self.mark(Health.UP)
        return "sent"

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
