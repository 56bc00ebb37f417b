"""OSC over UDP with python-osc's message builder and our own non-blocking socket.

An unreachable host or a closed port surfaces as an OSError on a later sendto (ICMP port unreachable);
it is counted, never raised. The host is resolved when the output opens, not at show time.
"""

from __future__ import annotations

import socket

from pythonosc.osc_message_builder import OscMessageBuilder

from showcontrol.io.output import Health, Output
from showcontrol.model.patch import OscOutput
from showcontrol.model.show import OscAction
from showcontrol.timeline.events import Event


def encode(action: OscAction) -> bytes:
    builder = OscMessageBuilder(address=action.address)
    for arg in action.args:
        builder.add_arg(arg)
    return bytes(builder.build().dgram)


class OscUdpOutput(Output):
    def __init__(self, spec: OscOutput) -> None:
        super().__init__(spec.name, spec.latency_ms)
        self.spec = spec
        self._address: tuple[str, int] | None = None
        self._socket: socket.socket | None = None

    def open(self) -> OscUdpOutput:
        try:
            family, kind, _, _, address = socket.getaddrinfo(self.spec.host, self.spec.port, type=socket.SOCK_DGRAM)[0]
            self._socket = socket.socket(family, kind)
            self._socket.setblocking(False)
            self._address = (str(address[0]), int(address[1]))
            self.mark(Health.UP)
        except OSError as error:
            self.count_error(f"cannot resolve {self.spec.host}: {error}")
        return self

    def prepare(self, event: Event) -> object:
        assert isinstance(event.payload, OscAction)
        return encode(event.payload)

    def send(self, message: object, event: Event, due_ns: int) -> str:
        if self._socket is None or self._address is None:
            self.open()
            if self._socket is None or self._address is None:
                self.status.counters.dropped += 1
                return "dropped: host unresolved"
        assert isinstance(message, bytes)
        try:
            self._socket.sendto(message, self._address)
        except OSError as error:
            return self.count_error(f"{self.spec.host}:{self.spec.port}: {error.strerror or error}")
        self.status.counters.sent += 1
        if self.status.health is not Health.UP:
            self.mark(Health.UP)
        return "sent"

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
