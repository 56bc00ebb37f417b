"""The audio interface for the length of a show: opened by the driver policy, watched, and reopened.

A show must not go on silently into a device that is gone, nor run ahead of audio that has stopped:
- SDL reports a lost device (interface unplugged, sound server gone) as stopped, but keeps calling back
  on a timer of its own: the song, cues and monitors keep their timing while nothing is heard;
- a hung sound server stops the callbacks altogether: the transport stands still, and the dispatcher
  holds cues at the audio (dispatcher.MAX_LEAD_S) until it moves again.
Each change of health is reported once, through `on_change`. A lost device is reopened only while the
song is stopped, never under a take; until it comes back the song can still be played, on SDL's timer
(or its dummy driver), with nothing heard. Device frames carry on across devices, so the transport's
frame line stays one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from types import TracebackType

from showcontrol.audio.channel_map import layout_warning, unheard_feeds
from showcontrol.audio.device import AudioDevice, AudioDeviceError, Render, start_audio_driver, stop_audio_driver
from showcontrol.audio.jack_device import JackDevice, PeriodWriter, SongRuns
from showcontrol.audio.pulse_sinks import layout_of
from showcontrol.model.patch import AudioPatch
from showcontrol.realtime import HELPER_PRIORITY, FiringWindow, raise_priority

log = logging.getLogger(__name__)
SILENT_DRIVERS = ("dummy", "disk")  # SDL drivers that play to nobody
REQUIRED_HINT = "--require-audio or the patch's audio.require; connect the interface and see `showcontrol devices`"
# SDL's dummy driver keeps time on a timer of its own: measured here 3-4 % fast or slow against the wall clock
# (more under load), so a song on it lasts seconds more or less than the track, and cues keep to that.
DUMMY_PACE = "SDL's dummy driver keeps time within 3-4 % of the wall clock, no better"
WATCH_EVERY_S = 0.1
STALLED_AFTER_NS = 500_000_000  # no callback for this long (a buffer is 5 ms; the worst stall seen on a loaded VM, ~30 ms): no audio
REOPEN_EVERY_S = 1.0
CLOSE_WITHIN_S = 2.0  # closing joins SDL's audio thread, which a hung sound server holds inside its driver


Device = AudioDevice | JackDevice


class AudioHealth(StrEnum):
    OK = "ok"
    SILENT = "silent"  # no device: a driver that plays to nobody (the demo on a machine with no sound card)
    STALLED = "stalled"  # no callbacks: nothing plays, and the song and its cues wait
    LOST = "lost"  # the device is gone: the song keeps time on SDL's timer, and nothing is heard


def health_text(health: str) -> str:
    """How the status line and the run's report name a health: a driver playing to nobody is `SILENT (no device)`, never `ok`."""
    return "SILENT (no device)" if health == AudioHealth.SILENT else str(health)


def audio_health(gone: bool, silent_ns: int, plays_to_nobody: bool = False) -> AudioHealth:
    """What a device's state says, given how long since it last called back (or was started), and
    whether its driver plays to nobody."""
    if gone:
        return AudioHealth.LOST
    if silent_ns > STALLED_AFTER_NS:
        return AudioHealth.STALLED
    return AudioHealth.SILENT if plays_to_nobody else AudioHealth.OK


def patch_layout_warning(patch: AudioPatch, device: str | None = None) -> str | None:
    """Where a sound server's device (the patch's, or `device`, or the default) cannot take the patch's
    channels 1:1: which feeds would not be heard. None where all land, or no server says."""
    found = layout_of(device or patch.device)
    if found is None:
        return None
    return layout_warning(found[0], found[1], dict(patch.routes), patch.channels)


def named_device(device: str | None) -> bool:
    """Whether the patch names a device of its own (which must then be there) rather than the system's default."""
    return device not in (None, "", "default")


def driver_hint(driver: str) -> str:
    """What to do when the driver asked for finds no output (a machine without a sound card, or no server)."""
    if driver == "alsa":
        return (
            " (ALSA finds no sound card here: with PipeWire or PulseAudio running use --audio-driver pulseaudio, with a JACK "
            "server the patch's audio backend: jack; `showcontrol devices` lists what there is; --audio-driver dummy rehearses silently)"
        )
    if driver == "pulseaudio":
        return " (no PipeWire or PulseAudio server answers: start it, or see `showcontrol devices`)"
    return " (see `showcontrol devices`)"


class AudioLink:
    """`with AudioLink(...) as link: link.start()`; `link.device` is the device playing now (it may change)."""

    def __init__(
        self,
        patch: AudioPatch,
        sample_rate: int,
        driver: str | None,
        require: bool,
        render: Render,
        window: FiringWindow,
        is_stopped: Callable[[], bool],
        on_change: Callable[[AudioHealth, str], None],
    ) -> None:
        self.patch = patch
        self.sample_rate = sample_rate
        self.health = AudioHealth.OK
        self.driver = ""  # the SDL driver playing now
        self._wanted_driver = driver
        self._require = require or patch.require_device
        self._render = render
        self._window = window
        self._is_stopped = is_stopped
        self._on_change = on_change
        self._device: Device | None = None
        self._show_driver = ""  # the driver the show opened on, which a lost device is reopened with
        self._standing_in = False  # on the dummy driver while the show's device cannot be reopened
        self._started_ns = 0
        self.unheard: list[str] = []  # feeds the device cannot take 1:1 (its layout): for the run's report
        self.fell_back = False  # on the dummy driver because no device was there (not because it was asked for)
        self._midi: tuple[Sequence[PeriodWriter], SongRuns] | None = None  # MIDI the JACK client carries
        self.left_open = False  # a device that would not close, or one that must not (PipeWire's JACK): end without teardown
        self._done = threading.Event()
        self._changing = threading.Lock()  # the watch's turn, or a GO's reopen: one at a time changes the device
        self._watcher = threading.Thread(target=self._watch, name="audio-watch", daemon=True)

    @property
    def device(self) -> Device:
        assert self._device is not None
        return self._device

    # -- opening and closing ------------------------------------------------------------------------
    def __enter__(self) -> AudioLink:
        if self.patch.backend == "jack":
            self._device = self._open_jack(0)
            self._show_driver = self.driver
            return self
        try:
            self.driver = start_audio_driver(self._wanted_driver)
            self._device = self._make(0).__enter__()
        except AudioDeviceError as error:
            stop_audio_driver()
            if self._require:
                raise AudioDeviceError(f"{error}, and a real audio device is required ({REQUIRED_HINT})") from None
            if self._wanted_driver:
                raise AudioDeviceError(f"{error}{driver_hint(self._wanted_driver)}") from None
            if named_device(self.patch.device):
                raise AudioDeviceError(
                    f"the audio output {self.patch.device!r} is not there ({error}): the patch (or --audio-device) names it, "
                    "so the show will not play silently instead; connect it, or name one that `showcontrol devices` lists"
                ) from None
            log.warning(
                "NO AUDIO DEVICE (%s): running on SDL's silent dummy driver. Nothing will be heard; "
                "cues, LTC and clicks keep their timing, which %s. Use --require-audio to refuse this.",
                error,
                DUMMY_PACE,
            )
            self.driver = start_audio_driver("dummy")
            self._device = self._make(0).__enter__()
            self.fell_back = True
        self._show_driver = self.driver
        if self.driver in SILENT_DRIVERS and self._require:
            self._close()
            raise AudioDeviceError(
                f"a real audio device is required, but only the silent {self.driver} driver is available ({REQUIRED_HINT})"
            )
        if self.driver == "pulseaudio" and (found := layout_of(self.device.name)) is not None:  # the server's word, asked once
            routes, channels = dict(self.patch.routes), self.patch.channels
            if (warning := layout_warning(found[0], found[1], routes, channels)) is not None:
                log.warning("%s", warning)
                self.unheard = unheard_feeds(found[1], routes, channels)
        if self.driver in SILENT_DRIVERS:
            self.health = AudioHealth.SILENT
            if not self.fell_back and self.driver == "dummy":
                log.info("audio on SDL's dummy driver, as asked: nothing is heard, and %s", DUMMY_PACE)
        return self

    def attach_midi(self, writers: Sequence[PeriodWriter], song_runs: SongRuns) -> None:
        """MIDI outputs carried by the JACK client, on the frame (before `start`; kept across a reopen)."""
        self._midi = (writers, song_runs)
        if isinstance(self._device, JackDevice):
            self._device.attach_midi(writers, song_runs)

    def _open_jack(self, first_frame: int) -> JackDevice:
        """The patch's JACK client, its period checked against the patch (cue latency and the mix assume it)."""
        patch = self.patch
        device = JackDevice(
            self.sample_rate, patch.channels, patch.routes, patch.ports, self._render, self._window, first_frame
        ).__enter__()
        try:
            if device.buffer_frames != patch.buffer_frames:
                raise AudioDeviceError(
                    f"the JACK server's period is {device.buffer_frames} frames, the patch's buffer_frames {patch.buffer_frames}: "
                    f"set audio.buffer_frames: {device.buffer_frames} (or start the server with -p {patch.buffer_frames})"
                )
            if self._midi is not None:
                device.attach_midi(*self._midi)
        except AudioDeviceError:
            device.__exit__(None, None, None)
            raise
        self.driver = "jack"
        return device

    def _make(self, first_frame: int) -> AudioDevice:
        silent = self.driver in SILENT_DRIVERS  # they have one device whatever the patch names
        patch = self.patch
        return AudioDevice(
            None if silent else patch.device,
            self.sample_rate,
            patch.channels,
            patch.buffer_frames,
            self._render,
            self._window,
            first_frame,
            timed_by_the_audio=not silent,
        )

    def start(self) -> None:
        """Start playing (silence until the transport plays) and watching."""
        self.device.start()
        self._started_ns = time.monotonic_ns()
        self._watcher.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._done.set()
        if self._watcher.is_alive():
            self._watcher.join(timeout=5)
        self._close()

    def _close(self) -> None:
        """Close the device and the driver, giving up after CLOSE_WITHIN_S: a show must be able to quit
        while its sound server hangs (the device is then left to the end of the process, as a client of
        PipeWire's JACK always is)."""
        device = self._device

        def close() -> None:
            if device is not None:
                device.__exit__(None, None, None)
            stop_audio_driver()

        closer = threading.Thread(target=close, name="audio-close", daemon=True)
        closer.start()
        closer.join(CLOSE_WITHIN_S)
        if isinstance(device, JackDevice) and device.left_running:  # PipeWire's JACK: see JackDevice.__exit__
            self.left_open = True
        elif closer.is_alive():
            self.left_open = True
            log.warning(
                "the audio device %r did not close within %g s (its sound server hangs); left open", device and device.name, CLOSE_WITHIN_S
            )

    # -- watching ---------------------------------------------------------------------------------
    def _watch(self) -> None:
        raise_priority(HELPER_PRIORITY, warn=False)  # it takes the GIL the dispatcher waits for: see realtime.py
        reopen_at, failed = 0.0, ""
        while not self._done.wait(WATCH_EVERY_S):
            try:
                with self._changing:
                    reopen_at, failed = self._look(reopen_at), ""
            except Exception as error:  # the watch must go on: the next turn tries again; logged once, not every turn
                if repr(error) != failed:
                    log.exception("the audio watch failed (it goes on)")
                failed = repr(error)

    def _look(self, reopen_at: float) -> float:
        """One turn of the watch: report a change of health, keep JACK's connections, reopen a lost device
        while stopped (no sooner than `reopen_at`); the time of the next reopen."""
        device = self.device
        silent_ns = time.monotonic_ns() - max(device.last_callback_ns, self._started_ns)  # since it last called back
        health = AudioHealth.LOST if self._standing_in else audio_health(device.gone, silent_ns, self.driver in SILENT_DRIVERS)
        if health is not self.health:
            self._report(health, device, silent_ns)
        if isinstance(device, JackDevice):
            if health is AudioHealth.LOST:  # a JACK server gone calls back no more: stand in at once, so the show keeps time
                self._stand_in(device)
            else:
                device.maintain()  # destinations that came back are connected again
        elif health is AudioHealth.LOST and self._is_stopped() and time.monotonic() >= reopen_at:
            reopen_at = time.monotonic() + REOPEN_EVERY_S
            self._reopen()
        return reopen_at

    def reopen_if_standing_in(self) -> None:
        """A GO while stopped on the stand-in: try the show's device once now. The watch tries only while the
        show is stopped, and a set goes on to its next song at once, so it may never see that moment."""
        with self._changing:
            if self._standing_in:
                self._reopen()

    def _report(self, health: AudioHealth, device: Device, silent_ns: int) -> None:
        where = f"{device.name!r} ({self.driver})"
        if health is AudioHealth.LOST:
            detail = (
                f"the audio device {where} is gone: nothing is heard, the song keeps time on SDL's clock; "
                "stop, and reconnect the interface: it is reopened while stopped"
            )
        elif health is AudioHealth.STALLED:
            detail = f"the audio device {where} has taken no audio for {silent_ns / 1e6:.0f} ms: the song and its cues wait for it"
        elif self.health is AudioHealth.LOST:
            detail = f"the audio device {where} is back"
        else:
            detail = f"the audio device {where} takes audio again"
        self.health = health
        self._on_change(health, detail)

    def _reopen(self) -> None:
        """Close the lost device and open the show's again, carrying on its frame count; where that fails,
        stand in with the dummy driver, so the show can still be played and keeps time, and retry later."""
        old = self.device
        frames, errors = old.frames_delivered, old.callback_errors
        self._close()
        device: Device
        try:
            if self._show_driver == "jack":
                device = self._open_jack(frames)
            else:
                self.driver = start_audio_driver(self._show_driver)
                device = self._make(frames).__enter__()
            self._start(device, errors)
            self._standing_in = False
            return
        except AudioDeviceError as error:
            log.debug("audio device not back yet: %s", error)
        if self._device is not old:  # opened, but would not start (a JACK server that let us in, then stopped answering)
            self._close()
        self._start(self._dummy(frames), errors)

    def _stand_in(self, lost: JackDevice) -> None:
        """A JACK server that went away: the dummy driver takes over the frame count until it is back."""
        frames, errors = lost.frames_delivered, lost.callback_errors
        self._close()
        self._start(self._dummy(frames), errors)

    def _dummy(self, frames: int) -> AudioDevice:
        stop_audio_driver()
        self.driver = start_audio_driver("dummy")
        self._standing_in = True
        return AudioDevice(
            None,
            self.sample_rate,
            self.patch.channels,
            self.patch.buffer_frames,
            self._render,
            self._window,
            frames,
            timed_by_the_audio=False,
        ).__enter__()

    def _start(self, device: Device, errors: int) -> None:
        device.callback_errors = errors
        self._device = device
        device.start()
        self._started_ns = time.monotonic_ns()
