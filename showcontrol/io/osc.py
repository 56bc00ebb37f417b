"""OSC messages (python-osc's builder), optionally in timetagged bundles, and OSC over UDP on our own
non-blocking socket (TCP is `osc_tcp`).

The socket is connected to its destination so the kernel reports ICMP "port unreachable" for it: a
console that is not listening shows up as an output that is down, counted, never raised. The report
is read right after each send (on a LAN it is there already: the datagram counts as an error, not as
sent), and again before the next one, for a reply that came later (that earlier datagram is then
counted as an error instead of sent). Health goes down at the first refusal and up again only once
datagrams have gone out for `RECOVER_NS` without one, so the log says each change once, never per cue.
The host is resolved when the output opens, not at show time, and again (off the dispatcher) after a
failure, so a console that got another address, or whose name only resolves later, is found.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from showcontrol.codec.osc import encode, message
from showcontrol.codec.osc_framing import bundle, ntp_timetag
from showcontrol.io.backoff import Backoff
from showcontrol.io.output import SENT, Health, Outcome, OutputOf, Result
from showcontrol.model.patch import OscOutput
from showcontrol.model.show import OscAction
from showcontrol.timeline.events import Event

log = logging.getLogger(__name__)


RECOVER_NS = 2_000_000_000


class KeepaliveTimer:
    """When a profile's keep-alive (X32 `/xremote`) is due; the supervisor asks about twice a second.

    Each is due `every_s` after the one before was due, not after it was sent: the supervisor's lateness
    (up to its 0.5 s turn, more on a loaded machine) does not add up, so an X32's 10 s never runs out
    between keep-alives due every 9 s. After a stall longer than that, the next one goes at once."""

    def __init__(self, spec: OscOutput) -> None:
        keepalive = spec.profile.keepalive if spec.profile else None
        self.packet = message(keepalive.address) if keepalive else b""
        self._every_ns = int(keepalive.every_s * 1e9) if keepalive else 0
        self._next_ns: int | None = None

    def due(self, now_ns: int) -> bool:
        if not self.packet or (self._next_ns is not None and now_ns < self._next_ns):
            return False
        after_the_last = self._next_ns + self._every_ns if self._next_ns is not None else now_ns + self._every_ns
        self._next_ns = after_the_last if after_the_last > now_ns else now_ns + self._every_ns
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


class OscUdpOutput(OutputOf[bytes]):
    def __init__(self, spec: OscOutput, report: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__(spec.name, spec.latency_ms)
        self.spec = spec
        self.wire = OscWire(spec)
        self.keepalive = KeepaliveTimer(spec)
        self._report = report or (lambda record: None)  # show-log records for what is learnt after a cue's own
        self._socket: socket.socket | None = None
        self._address: object = None
        self._clean_since_ns: int | None = None  # the first datagram sent since the last failure
        self._last_sent = ""  # what went out last: a refusal that arrives later is for it
        self._resolve_after_ns = 0
        self._resolve_waits = Backoff(1.0, 8.0)  # while down, the host's address is looked up again this often
        self._resolving = threading.Lock()

    def open(self) -> OscUdpOutput:
        self._connect(count=True)
        return self

    def _connect(self, count: bool = False) -> None:
        """Resolve the host and connect a socket to it (blocking: at open, or on a thread of its own)."""
        self._resolve_after_ns = time.monotonic_ns() + int(self._resolve_waits.next_s() * 1e9)
        try:
            family, kind, _, _, address = socket.getaddrinfo(self.spec.host, self.spec.port, type=socket.SOCK_DGRAM)[0]
            if self._socket is not None and address == self._address:
                return  # the same place: the socket stays (and the next look-up waits longer)
            udp = socket.socket(family, kind)
            udp.setblocking(False)
            udp.connect(address)
        except OSError as error:
            failure = self._fail(f"cannot reach {self.spec.host}:{self.spec.port}: {error.strerror or error}")
            if count:
                self.count(failure)
            else:
                self.mark(Health.DOWN, failure.reason)
            return
        if self._socket is not None:
            log.info("output %s: %s is now %s", self.name, self.spec.host, address[0])
        # Swapped whole: the dispatcher uses the socket it read; the old one is closed by the collector.
        self._socket, self._address, self._clean_since_ns = udp, address, None
        self._resolve_waits.reset()
        if self.status.health is Health.CONNECTING:
            self.mark(Health.UP)

    def prepare(self, event: Event) -> bytes:
        return self.wire.prepare(event)

    def _unavailable(self) -> str | None:
        return None if self._socket is not None else self.status.last_error or "not open"

    def _send(self, message: bytes, event: Event, due_ns: int) -> Result:
        result = self._datagram(self.wire.packet(message, due_ns))
        if result.outcome is Outcome.SENT:
            self._last_sent = event.cue_name or f"osc at {event.position.bar}.{event.position.beat}"
        return result

    def maintain(self) -> None:
        """Supervisor thread: keep-alives, and after a failure the host resolved again (on its own thread:
        a name server that does not answer must not hold the supervisor)."""
        if self.keepalive.due(time.monotonic_ns()):
            self.send_now(self.keepalive.packet)
        if self.status.health is not Health.UP and time.monotonic_ns() >= self._resolve_after_ns and self._resolving.acquire(False):
            threading.Thread(target=self._resolve_again, name=f"osc-resolve-{self.name}", daemon=True).start()

    def _resolve_again(self) -> None:
        try:
            self._connect()
        finally:
            self._resolving.release()

    def send_now(self, packet: bytes) -> Result:
        """One datagram now, counted as a cue is (a keep-alive from the supervisor)."""
        unavailable = self._unavailable()
        return self.count(Result(Outcome.DROPPED, unavailable) if unavailable is not None else self._datagram(packet))

    def _datagram(self, packet: bytes) -> Result:
        udp = self._socket
        if udp is None:  # closed meanwhile
            return Result(Outcome.DROPPED, "not open")
        if (earlier := _refusal(udp)) is not None:  # a refusal that arrived after we last looked: the last datagram's
            self._refused_earlier(earlier)
        try:
            udp.send(packet)
        except OSError as error:
            return self._fail(f"{self.spec.host}:{self.spec.port}: {error.strerror or error}")
        if (refused := _refusal(udp)) is not None:
            return self._fail(f"{self.spec.host}:{self.spec.port}: {refused}")
        now = time.monotonic_ns()
        if self._clean_since_ns is None:
            self._clean_since_ns = now
        elif self.status.health is not Health.UP and now - self._clean_since_ns >= RECOVER_NS:
            self.mark(Health.UP)
        return SENT

    def _fail(self, error: str) -> Result:
        """A failure: the datagrams since the last one no longer count towards being up again."""
        self._clean_since_ns = None
        return Result(Outcome.ERROR, error)

    def _refused_earlier(self, error: str) -> None:
        """The datagram counted sent was refused after all: counted again as an error, and logged for that cue."""
        self.status.counters.sent -= 1
        result = self.count(self._fail(f"{self.spec.host}:{self.spec.port}: {error}"))
        self._report({"output": self.name, "kind": "outcome", "cue": self._last_sent, "result": f"{result} (reported after it was sent)"})

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _refusal(udp: socket.socket) -> str | None:
    """The error the kernel holds for the socket (an ICMP refusal), taking it; None if there is none."""
    code = udp.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    return os.strerror(code) if code else None
