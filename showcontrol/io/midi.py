"""MIDI out with mido over python-rtmidi: a named port, or a virtual port the engine creates.

Sending is one non-blocking call. A port that vanishes does not always make rtmidi fail (JACK and ALSA
just stop delivering), so `maintain` (called by the supervisor, never the dispatcher) checks the port
still exists and reopens it when it comes back.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import mido

from showcontrol.io.output import Health, Output
from showcontrol.model.patch import MidiOutput
from showcontrol.model.show import MidiAction
from showcontrol.timeline.events import Event

CLIENT_NAME = "showcontrol"


def backend(api: str = "auto") -> Any:
    """mido's rtmidi backend on ALSA or JACK; `auto` picks ALSA where the sequencer device exists."""
    if api == "auto":
        api = os.environ.get("SHOWCONTROL_MIDI_API", "alsa" if os.path.exists("/dev/snd/seq") else "jack")
    return mido.Backend(f"mido.backends.rtmidi/{'UNIX_JACK' if api == 'jack' else 'LINUX_ALSA'}", load=True)


def to_message(action: MidiAction) -> mido.Message:
    channel = action.channel - 1
    if action.kind in ("note_on", "note_off"):
        return mido.Message(action.kind, channel=channel, note=action.data[0], velocity=action.data[1])
    if action.kind == "control_change":
        return mido.Message("control_change", channel=channel, control=action.data[0], value=action.data[1])
    return mido.Message("program_change", channel=channel, program=action.data[0])


def panic_messages() -> list[mido.Message]:
    """Sustain off and all notes off on every channel."""
    return [mido.Message("control_change", channel=c, control=cc, value=0) for c in range(16) for cc in (64, 123)]


class MidiPortOutput(Output):
    def __init__(self, spec: MidiOutput, api: str = "auto") -> None:
        super().__init__(spec.name, spec.latency_ms)
        self.spec = spec
        self._api = api
        self._backend: Any = None
        self._port: Any = None
        self.port_name = ""

    def open(self) -> MidiPortOutput:
        try:
            self._backend = self._backend or backend(self._api)
            if self.spec.virtual:
                self._port = self._backend.open_output(self.spec.port, virtual=True, client_name=CLIENT_NAME)
                self.port_name = self.spec.port
            else:
                names = [n for n in self._backend.get_output_names() if self.spec.port.lower() in n.lower()]
                if not names:
                    self.mark(Health.DOWN, f"no MIDI port matching {self.spec.port!r}")
                    return self
                self._port = self._backend.open_output(names[0], client_name=CLIENT_NAME)
                self.port_name = names[0]
            self.mark(Health.UP)
        except Exception as error:  # rtmidi raises its own hierarchy, or SystemError without a MIDI system
            self._port = None
            self.mark(Health.DOWN, f"cannot open MIDI: {error}")
        return self

    def maintain(self) -> None:
        """Supervisor thread: notice a vanished port and reopen one that came back."""
        if self.spec.virtual:
            return
        try:
            present = any(self.spec.port.lower() in n.lower() for n in self._backend.get_output_names()) if self._backend else False
        except Exception:
            present = False
        if self._port is not None and not present:
            self._close_port()
            self.mark(Health.DOWN, f"MIDI port {self.spec.port!r} disappeared")
        elif self._port is None and present:
            self.open()

    def prepare(self, event: Event) -> object:
        assert isinstance(event.payload, MidiAction)
        return to_message(event.payload)

    def send(self, message: object, event: Event, due_ns: int) -> str:
        port = self._port
        if port is None:
            self.status.counters.dropped += 1
            return f"dropped: {self.status.last_error or 'port not open'}"
        try:
            port.send(message)
        except Exception as error:
            return self.count_error(str(error))
        self.status.counters.sent += 1
        return "sent"

    def panic(self) -> None:
        port = self._port
        if port is None:
            return
        try:
            for message in panic_messages():
                port.send(message)
        except Exception as error:
            self.count_error(f"all notes off failed: {error}")

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def close(self) -> None:
        self._close_port()
