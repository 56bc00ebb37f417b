"""MIDI commands in (python-rtmidi): foot switches and MIDI Show Control from a named port.

rtmidi calls back on its own thread (under JACK, the JACK process thread, which must never wait): the
callback only queues the bytes, and a thread of ours, `midi-in`, turns them into commands. The port is
looked for by part of its name when the show opens and again every second until it appears.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import rtmidi

from showcontrol.control.commands import Handle
from showcontrol.control.counts import InputCounts
from showcontrol.control.midi_map import command_for
from showcontrol.io.midi import CLIENT_NAME, rtmidi_api
from showcontrol.model.inputs import MidiInput

log = logging.getLogger(__name__)
LOOK_AGAIN_S = 1.0


class MidiCommandInput:
    """`with MidiCommandInput(spec, controller.handle, api): ...` answers the port's messages until closed."""

    def __init__(self, spec: MidiInput, handle: Handle, api: str = "auto") -> None:
        self.spec = spec
        self._handle = handle
        self._api = api
        self._messages: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._client: Any = None
        self.port_name = ""
        self.counts = InputCounts()  # messages the patch maps (or MSC) only: a note nobody mapped is not a command
        self._thread = threading.Thread(target=self._work, name="midi-in", daemon=True)
        self._connected = threading.Event()

    def __enter__(self) -> MidiCommandInput:
        try:
            self._client = rtmidi.MidiIn(rtmidi_api(self._api), name=f"{CLIENT_NAME}-in")
            self._client.ignore_types(sysex=False, timing=True, active_sense=True)
            self._client.set_callback(self._received)
        except (rtmidi.RtMidiError, SystemError, RuntimeError) as failure:
            log.error("MIDI input: no MIDI system (%s); foot switches and MSC are not heard", failure)
            self._client = None
        self._connect()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._messages.put(None)
        self._thread.join(5)
        if self._client is not None:
            self._client.cancel_callback()
            self._client.close_port()
            self._client.delete()

    def _connect(self) -> bool:
        if self._client is None or self._connected.is_set():
            return self._connected.is_set()
        try:
            names = self._client.get_ports()
            matches = [i for i, name in enumerate(names) if self.spec.port.lower() in name.lower()]
            if matches:
                self._client.open_port(matches[0], "commands")
                self.port_name = names[matches[0]]
                self._connected.set()
                log.info("MIDI input from %s", self.port_name)
        except (rtmidi.RtMidiError, SystemError, RuntimeError) as failure:
            log.warning("MIDI input: cannot open %r: %s", self.spec.port, failure)
        return self._connected.is_set()

    def _received(self, event: tuple[list[int], float], data: object = None) -> None:
        """rtmidi's thread: queue and return at once."""
        self._messages.put(bytes(event[0]))

    def _work(self) -> None:
        while True:
            try:
                message = self._messages.get(timeout=LOOK_AGAIN_S)
            except queue.Empty:
                self._connect()  # a foot switch plugged in after the show opened
                continue
            if message is None:
                return
            command = command_for(message, self.spec)
            if command is not None:
                self.counts.count(self._handle(command, f"midi:{self.port_name}"))

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)
