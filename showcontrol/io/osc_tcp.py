"""OSC over TCP (ETC Eos on 3032, QLab on 53000): framed per OSC 1.0 (length prefix) or 1.1 (SLIP).

A TCP send can block (a full window, a console that stopped reading) and a connect can take seconds,
so the dispatcher only appends to this output's bounded queue; one thread per output connects, sends
and reconnects with backoff. While the console is away messages wait, and those more than
`STALE_NS` old when it returns are dropped and reported (a lighting cue from five seconds ago would
now be wrong). The thread also reads whatever the console sends back, which both keeps its buffers
from filling and tells us at once when it closed the connection.
"""

from __future__ import annotations

import collections
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from showcontrol.codec.osc_framing import frame_length_prefixed, frame_slip
from showcontrol.io.backoff import Backoff
from showcontrol.io.osc import KeepaliveTimer, OscWire
from showcontrol.io.output import QUEUED, Health, Outcome, OutputOf, Result
from showcontrol.model.patch import OscOutput
from showcontrol.realtime import HELPER_PRIORITY, raise_priority
from showcontrol.timeline.events import Event

log = logging.getLogger(__name__)

STALE_NS = 2_000_000_000
QUEUE_LIMIT = 4096
CONNECT_TIMEOUT_S = 1.0
FRAMINGS: dict[str, Callable[[bytes], bytes]] = {"length": frame_length_prefixed, "slip": frame_slip}


class OscTcpOutput(OutputOf[bytes]):
    def __init__(self, spec: OscOutput, report: Callable[[dict[str, Any]], None]) -> None:
        super().__init__(spec.name, spec.latency_ms)
        self.spec = spec
        self.wire = OscWire(spec)
        self.keepalive = KeepaliveTimer(spec)
        self._frame = FRAMINGS[spec.framing]
        self._report = report  # show-log records for what happens off the dispatcher (drops after an outage)
        self._pending: collections.deque[tuple[int, bytes]] = collections.deque()
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"osc-tcp-{spec.name}", daemon=True)
        self.connections = 0

    def open(self) -> OscTcpOutput:
        self._thread.start()
        return self

    def prepare(self, event: Event) -> bytes:
        return self.wire.prepare(event)

    def _send(self, message: bytes, event: Event, due_ns: int) -> Result:
        if len(self._pending) >= QUEUE_LIMIT:
            self._pending.popleft()
            self.status.counters.dropped += 1  # the oldest, not this one
        self._pending.append((time.monotonic_ns(), self.wire.packet(message, due_ns)))
        self._wake.set()
        return QUEUED if self.status.health is Health.UP else Result(Outcome.QUEUED, self.status.health)

    def maintain(self) -> None:
        """Supervisor thread: queue the profile's keep-alive when it is due."""
        if self.keepalive.due(time.monotonic_ns()):
            self._pending.append((time.monotonic_ns(), self.keepalive.packet))
            self._wake.set()

    # -- the output's own thread -------------------------------------------------------------
    def _run(self) -> None:
        raise_priority(HELPER_PRIORITY, warn=False)  # it takes the GIL the dispatcher waits for: see realtime.py
        waits = Backoff(0.25, 4.0)
        while not self._closing:
            connection = self._connect()
            if connection is None:
                self._wake.wait(waits.next_s())
                continue
            waits.reset()
            self._serve(connection)
            connection.close()

    def _connect(self) -> socket.socket | None:
        try:
            connection = socket.create_connection((self.spec.host, self.spec.port), timeout=CONNECT_TIMEOUT_S)
        except OSError as error:
            self.mark(Health.DOWN, f"{self.spec.host}:{self.spec.port} (tcp): {error.strerror or error}")
            return None
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.settimeout(CONNECT_TIMEOUT_S)
        self.connections += 1
        self.mark(Health.UP)
        return connection

    def _serve(self, connection: socket.socket) -> None:
        """Send what is queued until the connection fails or the output closes."""
        while not self._closing:
            if not self._pending:
                self._wake.clear()
                if self._peer_closed(connection):
                    self.mark(Health.DOWN, f"{self.spec.host}:{self.spec.port} (tcp) closed the connection")
                    return
                self._wake.wait(0.1)
                continue
            queued_ns, packet = self._pending[0]
            if time.monotonic_ns() - queued_ns > STALE_NS:
                self._pending.popleft()
                self.status.counters.dropped += 1
                self._report(
                    {
                        "output": self.name,
                        "result": "dropped: stale after an outage",
                        "late_ms": round((time.monotonic_ns() - queued_ns) / 1e6, 1),
                    }
                )
                continue
            try:
                connection.sendall(self._frame(packet))
            except OSError as error:
                self.count_error(f"{self.spec.host}:{self.spec.port} (tcp): {error.strerror or error}")
                self.mark(Health.DOWN)
                return  # the packet stays queued for the next connection
            self._pending.popleft()
            self.status.counters.sent += 1

    @staticmethod
    def _peer_closed(connection: socket.socket) -> bool:
        try:
            readable, _, _ = select.select([connection], [], [], 0)
            return bool(readable) and connection.recv(65536) == b""  # replies are read and ignored
        except OSError:
            return True

    def close(self) -> None:
        deadline = time.monotonic() + 1.0  # let what is queued go out, briefly
        while self._pending and self.status.health is Health.UP and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._pending:
            log.warning("output %s: %d OSC message(s) not delivered at shutdown", self.name, len(self._pending))
            self.status.counters.dropped += len(self._pending)
        self._closing = True
        self._wake.set()
        self._thread.join(timeout=2)
