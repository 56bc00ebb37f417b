"""MIDI out: messages built with mido, ports opened with python-rtmidi (the only module using either).

Ports are opened with rtmidi itself because mido's backend names the local JACK port after the remote
one ("client:port" inside a port name), and JACK then silently fails to connect it. Each output keeps
one rtmidi client for the whole show: creating a JACK client takes ~90 ms with the GIL held, which
would stall the dispatcher and the audio callback. On an existing client, listing ports reads JACK's
shared graph (~0.3 ms); reconnecting waits about one JACK period with the GIL held, which happens only
when a lost port comes back. Sending is one non-blocking call. A port that vanishes does not always make rtmidi fail (JACK and ALSA
just stop delivering), so `maintain` (called by the supervisor, never the dispatcher) checks the port
still exists and reopens it when it comes back.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import logging
import os
import time
from pathlib import Path
from typing import Any

import mido
import rtmidi

from showcontrol.codec.midi_sync import CONTINUE, START, STOP, song_position
from showcontrol.codec.mtc import full_frame
from showcontrol.io.output import SENT, Health, Outcome, OutputOf, Result
from showcontrol.model.patch import MidiOutput
from showcontrol.model.show import MidiAction
from showcontrol.timeline.events import Event, SyncMessage
from showcontrol.timeline.sync import SyncPoint

CLIENT_NAME = "showcontrol"
CLIENT_RETRY_NS = 5_000_000_000
ABSENT_CHECKS_TO_CLOSE = 2  # a port missing from one listing may be a graph change in flight: be sure before dropping
log = logging.getLogger(__name__)


_JACK_MESSAGE = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
_jack_handlers: list[Any] = []  # ctypes callbacks must outlive every JACK client


def route_jack_messages_to_the_log() -> None:
    """libjack prints its errors ("Cannot connect to server socket") straight to stderr, over the status
    line; send them to our log at debug level instead (the output's health already says what matters)."""
    if _jack_handlers:
        return
    handler = _JACK_MESSAGE(lambda text: log.debug("jack: %s", text.decode(errors="replace") if text else ""))
    _jack_handlers.append(handler)
    site = Path(rtmidi.__file__).parent.parent
    bundled = glob.glob(str(site / "python_rtmidi*" / "libjack*"))  # the wheel's own copy, which rtmidi uses
    for name in [*bundled, ctypes.util.find_library("jack")]:
        if name:
            with contextlib.suppress(OSError, AttributeError):
                lib = ctypes.CDLL(name)
                lib.jack_set_error_function(handler)
                lib.jack_set_info_function(handler)


def rtmidi_api(api: str = "auto") -> int:
    """rtmidi's ALSA or JACK API; `auto` picks ALSA where the sequencer device exists (not on these VMs)."""
    if api == "auto":
        api = os.environ.get("SHOWCONTROL_MIDI_API", "alsa" if os.path.exists(ALSA_SEQUENCER) else "jack")
    if api == "jack":
        route_jack_messages_to_the_log()
    return int(rtmidi.API_UNIX_JACK if api == "jack" else rtmidi.API_LINUX_ALSA)


ALSA_SEQUENCER = "/dev/snd/seq"


def output_port_names(api: str = "auto") -> list[str]:
    """MIDI destinations on that system; raises rtmidi's errors where it is absent (and, for ALSA, a
    FileNotFoundError before libasound prints its own complaint to the terminal)."""
    if api == "alsa" and not os.path.exists(ALSA_SEQUENCER):
        raise FileNotFoundError(f"no {ALSA_SEQUENCER}: no ALSA sequencer on this machine")
    client = rtmidi.MidiOut(rtmidi_api(api), name=f"{CLIENT_NAME}-probe")
    try:
        return list(client.get_ports())
    finally:
        client.delete()


def sync_transport_messages(was: str, state: str, sync: SyncPoint, *, clock: bool, mtc: bool) -> list[bytes]:
    """What a clock and MTC receiver needs on a transport change: position and Start/Continue on play,
    Continue on resume, Stop on stop and pause, and the MTC full frame wherever playback (re)starts."""
    messages: list[bytes] = []
    if state == "playing":
        if clock:
            if was == "paused":
                messages.append(CONTINUE)
            else:  # a song position is only taken while stopped: a jump stops first
                messages += [STOP] if was == "playing" else []
                messages += [song_position(sync.sixteenths), START if sync.sixteenths == 0 else CONTINUE]
        if mtc and sync.timecode is not None:
            messages.append(full_frame(sync.timecode, sync.mtc_rate_code))
    elif clock and was == "playing":
        messages.append(STOP)
    return messages


def to_message(action: MidiAction) -> mido.Message:
    if action.kind == "sysex":
        return mido.Message("sysex", data=action.data[1:-1])  # data holds the whole F0 ... F7 message
    channel = action.channel - 1
    if action.kind in ("note_on", "note_off"):
        return mido.Message(action.kind, channel=channel, note=action.data[0], velocity=action.data[1])
    if action.kind == "control_change":
        return mido.Message("control_change", channel=channel, control=action.data[0], value=action.data[1])
    return mido.Message("program_change", channel=channel, program=action.data[0])


def panic_messages() -> list[mido.Message]:
    """Sustain off and all notes off on every channel."""
    return [mido.Message("control_change", channel=c, control=cc, value=0) for c in range(16) for cc in (64, 123)]


class MidiPortOutput(OutputOf[list[int]]):
    def __init__(self, spec: MidiOutput, api: str = "auto") -> None:
        super().__init__(spec.name, spec.latency_ms)
        self.spec = spec
        self._api = api
        self._client: Any = None  # one rtmidi.MidiOut for the whole show
        self._port: Any = None  # the client, while its port is open
        self.port_name = ""
        self._transport_state = "stopped"
        self._retry_client_ns = 0
        self._absent_checks = 0

    def open(self) -> MidiPortOutput:
        """At startup (and from the supervisor when a port comes back): open the port on our one client."""
        try:
            if self._client is None:
                self._client = rtmidi.MidiOut(rtmidi_api(self._api), name=CLIENT_NAME)
            client = self._client
            if self.spec.virtual:
                client.open_virtual_port(self.spec.port)
                self.port_name = self.spec.port
            else:
                names = client.get_ports()
                matches = [i for i, n in enumerate(names) if self.spec.port.lower() in n.lower()]
                if not matches:
                    self.mark(Health.DOWN, f"no MIDI port matching {self.spec.port!r}")
                    return self
                self.port_name = names[matches[0]]
                client.open_port(matches[0], self.name)
            self._port = client
            self.mark(Health.UP)
        except (rtmidi.RtMidiError, SystemError, RuntimeError) as error:  # SystemError: no MIDI system at all
            self._port = None
            self.mark(Health.DOWN, f"cannot open MIDI: {error}")
        return self

    def maintain(self) -> None:
        """Supervisor thread: notice a vanished port and reopen one that came back."""
        if self.spec.virtual:
            return
        if self._client is None:  # no MIDI system at all yet: creating a client is costly, so try every few seconds
            if time.monotonic_ns() >= self._retry_client_ns:
                self._retry_client_ns = time.monotonic_ns() + CLIENT_RETRY_NS
                self.open()
            return
        try:
            present = any(self.spec.port.lower() in n.lower() for n in self._client.get_ports())
        except (rtmidi.RtMidiError, SystemError, RuntimeError):
            present = False
        self._absent_checks = 0 if present else self._absent_checks + 1
        if self._port is not None and self._absent_checks >= ABSENT_CHECKS_TO_CLOSE:
            self._close_port()
            self.mark(Health.DOWN, f"MIDI port {self.spec.port!r} disappeared")
        elif self._port is None and present:
            self.open()

    def prepare(self, event: Event) -> list[int]:
        if isinstance(event.payload, SyncMessage):
            return list(event.payload.data)
        assert isinstance(event.payload, MidiAction)
        return list(to_message(event.payload).bytes())

    def transport(self, state: str, song_id: str, position: str, sync: SyncPoint) -> None:
        """Tell clock and MTC receivers where the song is: they follow locates, stops and pauses."""
        if not (self.spec.clock or self.spec.mtc):
            return
        was, self._transport_state = self._transport_state, state
        messages = sync_transport_messages(was, state, sync, clock=self.spec.clock, mtc=self.spec.mtc)
        port = self._port
        if port is None:
            return
        try:
            for message in messages:
                port.send_message(list(message))
        except (rtmidi.RtMidiError, ValueError) as error:
            self.count_error(f"sync transport message failed: {error}")

    def _unavailable(self) -> str | None:
        return None if self._port is not None else self.status.last_error or "port not open"

    def _send(self, message: list[int], event: Event, due_ns: int) -> Result:
        port = self._port
        if port is None:  # closed by the supervisor meanwhile
            return Result(Outcome.DROPPED, self.status.last_error or "port not open")
        port.send_message(message)  # rtmidi's errors are the output's errors (send counts them)
        return SENT

    def panic(self) -> None:
        port = self._port
        if port is None:
            return
        try:
            for message in panic_messages():
                port.send_message(message.bytes())
        except (rtmidi.RtMidiError, ValueError) as error:
            self.count_error(f"all notes off failed: {error}")

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(rtmidi.RtMidiError):
                port.close_port()

    def close(self) -> None:
        self._close_port()
        if self._client is not None:
            self._client.delete()
            self._client = None
