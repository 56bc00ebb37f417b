"""What lives as long as the run, across every song: the show log, the take log, the outputs, the audio
link, the supervisor and the audio incidents. Opened once; songs come and go inside it."""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from showcontrol.app.options import RunOptions
from showcontrol.audio.device import Render
from showcontrol.audio.jack_device import SongRuns
from showcontrol.audio.link import AudioHealth, AudioLink
from showcontrol.engine.transport import Segment
from showcontrol.errors import ShowControlError
from showcontrol.io.jack_midi import JackMidiOutput, send_last_messages
from showcontrol.io.midi import MidiPortOutput
from showcontrol.io.mqtt import MqttPublisher
from showcontrol.io.osc import OscUdpOutput
from showcontrol.io.osc_tcp import OscTcpOutput
from showcontrol.io.output import Output
from showcontrol.model.patch import AudioPatch, MidiOutput, MqttOutput, OscOutput, Patch
from showcontrol.realtime import (
    HELPER_PRIORITY,
    FiringWindow,
    hold_cpu_wakeup_latency,
    lock_memory,
    raise_priority,
    shorten_gil_switch_interval,
    unlock_memory,
)
from showcontrol.showlog import ShowLog
from showcontrol.takes.keeper import TakeKeeper

log = logging.getLogger(__name__)
SUPERVISE_EVERY_S = 0.5  # MIDI port checks and keep-alives (X32 wants /xremote within every 10 s)

SegmentNow = Callable[[], Segment]  # the transport's segment now (JACK MIDI reads it at its frame)


class ShowSession:
    """`session.open(...)` once, `session.close()` at the end; the runner swaps songs in between."""

    def __init__(self, patch: Patch, audio: AudioPatch, sample_rate: int, options: RunOptions, takes: TakeKeeper) -> None:
        self.patch = patch
        self.audio = audio
        self.sample_rate = sample_rate
        self.options = options
        self.takes = takes
        self.outputs: dict[str, Output] = {}
        self.showlog: ShowLog | None = None
        self.link: AudioLink | None = None
        self.firing = FiringWindow()  # the dispatcher's, which the audio callback stands aside for
        self.audio_incidents: list[str] = []  # what went wrong with the audio device, for the run's report
        self._stack = ExitStack()
        self._supervising = threading.Event()

    def open_logs_and_outputs(self, log_path: Path, segment_now: SegmentNow) -> None:
        """The show log, the take log and every output of the patch (each song's, once for the run)."""
        self._check_credentials()
        self.showlog = self._stack.enter_context(ShowLog(log_path))
        self._stack.enter_context(self.takes.open(self.options.takes_path, self.showlog.path))
        self._stack.callback(self._close_outputs)
        for name, spec in self.patch.outputs.items():
            self.outputs[name] = self._open_output(spec, segment_now)

    def open_audio(
        self, render: Render, is_quiet: Callable[[], bool], on_change: Callable[[AudioHealth, str], None], song_runs: SongRuns
    ) -> AudioLink:
        """The audio link (not started yet) and the JACK client's MIDI; then `start`."""
        self.link = self._stack.enter_context(
            AudioLink(
                self.audio,
                self.sample_rate,
                self.options.audio_driver,
                self.options.require_audio,
                render,
                self.firing,
                is_quiet,
                on_change,
            )
        )
        if jack_midi := [o for o in self.outputs.values() if isinstance(o, JackMidiOutput)]:
            self.link.attach_midi(jack_midi, song_runs)
            self._stack.callback(send_last_messages, jack_midi)  # before the link closes: its periods write them
        return self.link

    def start(self, on_close: Callable[[], None]) -> None:
        """The supervisor, the interpreter's settings for a show, and the audio; `on_close` runs before the
        outputs close (the dispatcher's stop)."""
        assert self.link is not None
        self._stack.callback(on_close)
        supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        supervisor.start()
        self._stack.callback(self._supervising.set)
        gc.collect()
        gc.freeze()  # keep the collector away from the objects the callback touches
        shorten_gil_switch_interval()
        if (awake := hold_cpu_wakeup_latency()) is not None:
            self._stack.callback(os.close, awake)
        if lock_memory():
            self._stack.callback(unlock_memory)
        self.link.start()
        for output in self.outputs.values():
            output.audio(str(self.link.health))  # replaces what an earlier run left retained

    def close(self) -> None:
        gc.unfreeze()
        self._stack.close()

    def incident(self, health: AudioHealth, detail: str, where: str) -> None:
        """The audio watcher's word (its own thread): to the log, the run's report and the outputs."""
        if health in (AudioHealth.OK, AudioHealth.SILENT):
            log.warning("audio: %s, at %s", detail, where)
        else:
            log.error("AUDIO %s: %s; at %s", health.upper(), detail, where)
            self.audio_incidents.append(f"AUDIO {health.upper()} at {where}")
        for output in self.outputs.values():
            output.audio(str(health))

    @property
    def left_open(self) -> bool:
        return self.link is not None and self.link.left_open

    def _check_credentials(self) -> None:
        for spec in self.patch.outputs.values():
            if isinstance(spec, MqttOutput) and spec.password_env and spec.password_env not in os.environ:
                raise ShowControlError(f"output {spec.name!r}: environment variable {spec.password_env} (its MQTT password) is not set")

    def _open_output(self, spec: OscOutput | MidiOutput | MqttOutput, segment_now: SegmentNow) -> Output:
        assert self.showlog is not None
        if isinstance(spec, OscOutput):
            return (
                OscTcpOutput(spec, self.showlog.record).open()
                if spec.transport == "tcp"
                else OscUdpOutput(spec, self.showlog.record).open()
            )
        if isinstance(spec, MidiOutput):
            if self.audio.backend == "jack":  # on the JACK audio client, written at each event's frame
                return JackMidiOutput(spec, self.sample_rate, segment_now).open()
            return MidiPortOutput(spec, self.options.midi_api).open()
        return MqttPublisher(spec, report=self.showlog.record).open()

    def _supervise(self) -> None:
        raise_priority(HELPER_PRIORITY, warn=False)  # it takes the GIL the dispatcher waits for: see realtime.py
        while True:
            for output in self.outputs.values():
                output.maintain()
            self.takes.watch()
            if self._supervising.wait(SUPERVISE_EVERY_S):
                return

    def _close_outputs(self) -> None:
        for output in self.outputs.values():
            output.panic()
        for output in self.outputs.values():
            output.close()
