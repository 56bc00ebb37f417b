"""The composition root of `showcontrol run`: loads, wires, starts threads, and shuts down in order.

Threads: SDL's audio thread (mixes stems, advances the transport, keeps the clock), the dispatcher
(fires events at audio-clock deadlines), one network thread per MQTT output, the show-log writer and a
supervisor that reopens lost MIDI ports. The caller's thread runs the operator interface and talks
to all of this only through `ShowRunner` methods, which queue transport commands.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from showcontrol.audio.link import AudioHealth, AudioLink, Device
from showcontrol.audio.mix import Stem, crossfade_seam, fade_out, mix_block, mix_fading
from showcontrol.beats import beat_states
from showcontrol.describe import clock_text
from showcontrol.dispatcher import MAX_LEAD_S, Dispatcher, DispatcherConfig, DispatcherPorts
from showcontrol.engine.plan import Dispatch, StartPlan, dispatch_order, feed_count_ins, plan_start
from showcontrol.engine.transport import Loop, Pause, Play, Resume, Segment, State, Stop, Transport
from showcontrol.errors import ShowControlError
from showcontrol.io.jack_midi import JackMidiOutput
from showcontrol.io.midi import MidiPortOutput
from showcontrol.io.mqtt import MqttPublisher
from showcontrol.io.osc import OscUdpOutput
from showcontrol.io.osc_tcp import OscTcpOutput
from showcontrol.io.output import Output
from showcontrol.load.show_file import LoadedShow, compile_at_speed
from showcontrol.model.patch import MidiOutput, MqttOutput, OscOutput
from showcontrol.model.position import BarBeat
from showcontrol.offline import build_stems, click_sounds, stems_seconds
from showcontrol.realtime import (
    HELPER_PRIORITY,
    FiringWindow,
    hold_cpu_wakeup_latency,
    normal_priority,
    raise_priority,
    shorten_gil_switch_interval,
)
from showcontrol.showlog import ShowLog
from showcontrol.takes.keeper import TakeKeeper
from showcontrol.takes.log import TAKE_LOG_NAME
from showcontrol.timeline.events import Kind, Timeline
from showcontrol.timeline.start import TOP, start_text
from showcontrol.timeline.sync import sync_point

log = logging.getLogger(__name__)
LOOP_SEAM_S = 0.005  # a loop's wrap crossfades the track over 5 ms: no click, and the downbeat stays on its frame
SUPERVISE_EVERY_S = 0.5  # MIDI port checks and keep-alives (X32 wants /xremote within every 10 s)


@dataclass(frozen=True)
class RunOptions:
    song_id: str
    start: BarBeat = TOP  # where GO plays from: a bar's downbeat or another beat (timeline/start.py)
    audio_driver: str | None = None
    require_audio: bool = False
    midi_api: str = "auto"
    log_path: Path | None = None
    stop_fade_s: float = 0.5  # an interrupted number fades out over this long
    count_in_bars: int | None = None  # bars of count-in before a start from a later bar (None: the song's own)
    takes_path: Path | None = None  # the take log (None: takes.jsonl beside the show log)
    audio_device: str | None = None  # --audio-device: this output instead of the patch's


@dataclass(frozen=True)
class TempoVersion:
    """The song ready to play at one rehearsal tempo: its timeline, audio, dispatch order and prepared
    messages, and the monitors' beat table. A tempo change swaps the whole version in while stopped."""

    tempo: Fraction
    timeline: Timeline
    stems: Mapping[str, Stem]
    order: tuple[Dispatch, ...]
    prepared: Mapping[int, object]
    beats: Mapping[int, dict[str, Any]]
    max_latency_frames: int  # the earliest any output is fired, in this timeline's frames


@dataclass
class TempoJob:
    """A tempo being made ready in the background (stretching takes seconds), as the status line shows it."""

    tempo: Fraction
    started: float  # time.monotonic()
    estimate_s: float
    version: TempoVersion | None = None
    error: str | None = None

    def progress(self, now: float) -> float:
        """0..1: done is 1; until then an estimate from the stretcher's measured speed, never past 0.99."""
        if self.version is not None:
            return 1.0
        return min(0.99, (now - self.started) / max(self.estimate_s, 1e-3))


KEEP_VERSIONS = 3  # 100 % and the two latest tempos stay in memory; others come back from the disk cache


class ShowRunner:
    """One song, playing: `with ShowRunner(loaded, options) as runner: runner.play(); ...`."""

    def __init__(self, loaded: LoadedShow, options: RunOptions) -> None:
        self.loaded = loaded
        self.options = options
        self.song = loaded.show.song(options.song_id)
        self.timeline = loaded.timelines[options.song_id]
        self.audio = loaded.patch_for(options.song_id).audio  # this song's routes; outputs: all, opened once
        if options.audio_device is not None:
            self.audio = replace(self.audio, device=options.audio_device)
        self.sample_rate = loaded.sample_rate
        self.routes = {feed: chans for feed, chans in self.audio.routes.items() if chans}
        self.sounds = click_sounds(self.sample_rate)
        self.transport = Transport(self.timeline.end_frame)
        fade_frames = round(options.stop_fade_s * self.sample_rate)
        self._seam_out = fade_out(round(LOOP_SEAM_S * self.sample_rate))
        self._seam_in = np.ascontiguousarray(self._seam_out[::-1])  # cos and sin: equal power
        self._fade = np.concatenate(
            [fade_out(fade_frames) if fade_frames else np.zeros(0, np.float32), np.zeros(self.audio.buffer_frames, np.float32)]
        )
        self.outputs: dict[str, Output] = {}
        self.cue_at = options.start
        self.loop_bars: tuple[int, int] | None = None
        self.audio_incidents: list[str] = []  # what went wrong with the audio device, for the run's report
        self._stack = ExitStack()
        self._song_stems: dict[str, Stem] = {}
        self._preroll_stems: dict[str, Stem] = {}
        self._link: AudioLink | None = None
        self._dispatcher: Dispatcher | None = None
        self._firing = FiringWindow()  # the dispatcher's, which the audio callback stands aside for
        self._supervising = threading.Event()
        self.showlog: ShowLog | None = None
        self.tempo = loaded.speed if loaded.keep_pitch else Fraction(1)  # the rehearsal tempo being played
        self.tempo_job: TempoJob | None = None
        self._versions: dict[Fraction, TempoVersion] = {}
        self._pending: TempoVersion | None = None
        self.takes = TakeKeeper(self)  # every GO is a take: the take log

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> ShowRunner:
        try:
            self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _open(self) -> None:
        self._check_credentials()
        self.showlog = self._stack.enter_context(ShowLog(self.options.log_path or default_log_path(self.song.id)))
        self._stack.enter_context(self.takes.open(self.options.takes_path or self.showlog.path.parent / TAKE_LOG_NAME))
        beats = beat_states(self.timeline)
        for name, spec in self.loaded.show.patch.outputs.items():
            self.outputs[name] = self._open_output(spec, beats)
        self._stack.callback(self._close_outputs)
        version = self._version(self.tempo, self.timeline)
        self._versions[self.tempo] = version
        self._link = self._stack.enter_context(
            AudioLink(
                self.audio,
                self.sample_rate,
                self.options.audio_driver,
                self.options.require_audio,
                self._render,
                self._firing,
                lambda: self.transport.segment.state is State.STOPPED and not self.dispatcher.draining,
                self._audio_changed,
            )
        )
        if jack_midi := [o for o in self.outputs.values() if isinstance(o, JackMidiOutput)]:
            self._link.attach_midi(jack_midi, self._song_frame_at)
        self._install(version)
        self._stack.callback(lambda: self.dispatcher.stop())
        supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        supervisor.start()
        self._stack.callback(self._supervising.set)
        gc.collect()
        gc.freeze()  # keep the collector away from the objects the callback touches
        shorten_gil_switch_interval()
        if (awake := hold_cpu_wakeup_latency()) is not None:
            self._stack.callback(os.close, awake)
        self._link.start()
        for output in self.outputs.values():
            output.audio(str(self._link.health))  # replaces what an earlier run left retained

    def _version(self, tempo: Fraction, timeline: Timeline) -> TempoVersion:
        """Everything playback needs at one tempo; slow where a track must be stretched (any thread)."""
        stems = build_stems(self.song, timeline, self.routes, self.sounds, self._keep_pitch_at)
        latency_frames = {name: round(out.latency_ms * timeline.sample_rate / 1000) for name, out in self.outputs.items()}
        order = dispatch_order(timeline, latency_frames)
        prepared = {
            id(item): self.outputs[item.event.output].prepare(item.event)
            for item in order
            if item.event.kind in (Kind.OSC, Kind.MIDI, Kind.MQTT, Kind.SYNC) and item.event.output in self.outputs
        }
        return TempoVersion(tempo, timeline, stems, order, prepared, beat_states(timeline), max(latency_frames.values(), default=0))

    @property
    def _keep_pitch_at(self) -> int | None:
        """The device rate, where a timeline at another rate means a rehearsal tempo; None under a film --speed."""
        return self.sample_rate if self.loaded.keep_pitch or self.loaded.speed == 1 else None

    def _install(self, version: TempoVersion) -> None:
        """Make `version` the one playing (while stopped): a new transport and dispatcher on its timeline."""
        link, previous = self.link, self._dispatcher
        if previous is not None:
            previous.wait_for_drain(1.0)
            previous.stop()
        self.timeline, self._song_stems, self.tempo = version.timeline, dict(version.stems), version.tempo
        self.transport = Transport(version.timeline.end_frame)
        for output in self.outputs.values():
            if isinstance(output, JackMidiOutput):  # the JACK client writes its events at their frames
                output.schedule(version.order, version.prepared)
        looped, self.loop_bars = self.loop_bars, None
        for output in self.outputs.values():
            if isinstance(output, MqttPublisher):
                output.set_beats(version.beats)
        assert self.showlog is not None
        dispatcher = Dispatcher(
            DispatcherConfig(
                song_id=self.song.id,
                timeline=version.timeline,
                order=version.order,
                prepared=version.prepared,
                device_latency_ns=int((self.audio.buffer_frames / self.sample_rate + self.audio.output_latency_ms / 1000) * 1e9),
                max_lead_frames=round(MAX_LEAD_S * self.sample_rate),
                max_latency_frames=version.max_latency_frames,
                on_locate={name: spec.on_locate for name, spec in self.loaded.show.patch.outputs.items()},
            ),
            DispatcherPorts(self.transport, link, self.outputs, self.showlog, self._firing),
        )
        if previous is not None:
            dispatcher.stats, dispatcher.skipped_once = previous.stats, previous.skipped_once  # one report for the whole run
        self._dispatcher = dispatcher
        dispatcher.start()
        if looped is not None:
            self.loop(*looped)  # the same bars, on the new tempo's frames

    def _check_credentials(self) -> None:
        for spec in self.loaded.show.patch.outputs.values():
            if isinstance(spec, MqttOutput) and spec.password_env and spec.password_env not in os.environ:
                raise ShowControlError(f"output {spec.name!r}: environment variable {spec.password_env} (its MQTT password) is not set")

    def _open_output(self, spec: OscOutput | MidiOutput | MqttOutput, beats: Mapping[int, dict[str, Any]]) -> Output:
        assert self.showlog is not None
        if isinstance(spec, OscOutput):
            return (
                OscTcpOutput(spec, self.showlog.record).open()
                if spec.transport == "tcp"
                else OscUdpOutput(spec, self.showlog.record).open()
            )
        if isinstance(spec, MidiOutput):
            if self.audio.backend == "jack":  # on the JACK audio client, written at each event's frame
                return JackMidiOutput(spec, self.sample_rate, lambda: self.transport.segment).open()
            return MidiPortOutput(spec, self.options.midi_api).open()
        return MqttPublisher(spec, report=self.showlog.record, beats=beats).open()

    def _audio_changed(self, health: AudioHealth, detail: str) -> None:
        """The audio watcher's word (its own thread): to the log, the show log and the run's report."""
        segment = self.transport.segment
        song_frame = segment.song_frame_at(self.device.frames_delivered)
        seconds = Fraction(song_frame) / self.timeline.sample_rate
        position = self.timeline.tempo.position_at(seconds)
        where = f"{clock_text(float(seconds))} (bar {position.bar}.{position.beat})"
        if health in (AudioHealth.OK, AudioHealth.SILENT):
            log.warning("audio: %s, at %s", detail, where)
        else:
            log.error("AUDIO %s: %s; at %s", health.upper(), detail, where)
            self.audio_incidents.append(f"AUDIO {health.upper()} at {where}")
        assert self.showlog is not None
        self.showlog.record({"song": self.song.id, "kind": "audio", "result": str(health), "detail": detail, "song_frame": song_frame})
        for output in self.outputs.values():
            output.audio(str(health))

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

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.takes.closing(error)
        self.transport.request(Stop())
        time.sleep(2 * self.audio.buffer_frames / self.sample_rate)
        if self._dispatcher is not None:
            self._dispatcher.wait_for_drain(1.0)  # the last clock ticks and cues of what was already played
            self._dispatcher.stop()  # before the final word, so that nothing it sends comes after it
        self._announce_final_stop()
        gc.unfreeze()
        self._stack.close()

    def _announce_final_stop(self) -> None:
        """However the run ends (the song's end, a quit mid-song, a signal, an error) outputs and the show
        log are told it stopped, where the dispatcher may not have had the time to: a retained "playing"
        would freeze every monitor on a countdown, also monitors started later."""
        segment = self.transport.segment
        frame = segment.song_frame_at(self.device.frames_delivered)
        for output in self.outputs.values():
            output.transport(State.STOPPED.value, self.song.id, str(frame), sync_point(self.timeline, frame))
        assert self.showlog is not None
        self.showlog.record({"song": self.song.id, "kind": "transport", "state": "stopped", "song_frame": frame, "final": True})

    # -- the audio thread -----------------------------------------------------------------
    def _song_frame_at(self, device_frame: int) -> int | None:
        """The song frame of a device frame of the block just rendered, while it plays (JACK MIDI's period)."""
        segment = self.transport.segment
        return segment.song_frame_at(device_frame) if segment.state is State.PLAYING else None

    def _render(self, device_frame: int, out: npt.NDArray[np.float32]) -> None:
        segment = self.transport.next_block(device_frame, len(out))
        if segment.state is not State.PLAYING:
            tail, track = self.transport.tail, self._song_stems.get("track")
            if tail is not None and track is not None and tail.active(device_frame):
                offset = device_frame - tail.device_frame
                mix_fading(track, self.routes["track"], tail.song_frame_at(device_frame), out, self._fade[offset : offset + len(out)])
            else:
                out.fill(0.0)
            return
        if segment.wrap_from is not None and segment.device_frame > device_frame:  # a loop wraps inside this block
            before = segment.device_frame - device_frame
            mix_block(self._song_stems, self.routes, segment.wrap_from - before, out[:before])
            self._mix_from(segment, segment.device_frame, out[before:])
        else:
            self._mix_from(segment, device_frame, out)
        if segment.wrap_from is not None:
            self._blend_loop_seam(segment, device_frame, out)

    def _mix_from(self, segment: Segment, device_frame: int, out: npt.NDArray[np.float32]) -> None:
        song_frame = segment.song_frame_at(device_frame)
        preroll = min(max(segment.song_from_frame - song_frame, 0), len(out))
        if preroll:
            mix_block(self._preroll_stems, self.routes, song_frame, out[:preroll])
        if preroll < len(out):
            mix_block(self._song_stems, self.routes, song_frame + preroll, out[preroll:])

    def _blend_loop_seam(self, segment: Segment, device_frame: int, out: npt.NDArray[np.float32]) -> None:
        """The first few ms after a loop wraps: crossfade the track from what followed the loop's end."""
        track, wrap_from = self._song_stems.get("track"), segment.wrap_from
        first = max(device_frame, segment.device_frame)
        last = min(device_frame + len(out), segment.device_frame + len(self._seam_in))
        if track is None or wrap_from is None or first >= last:
            return
        k = first - segment.device_frame
        crossfade_seam(
            track,
            self.routes["track"],
            out[first - device_frame : last - device_frame],
            segment.song_frame + k,
            wrap_from + k,
            self._seam_in[k : k + last - first],
            self._seam_out[k : k + last - first],
        )

    # -- operator commands (any thread) ------------------------------------------------------------
    def play(self, at: BarBeat | int | None = None) -> StartPlan:
        """Play from `at`, a bar or bar.beat (default: the cued one), with the song's count-in as pre-roll."""
        self.apply_pending_tempo()
        self.cue_at = self.cue_at if at is None else BarBeat(at) if isinstance(at, int) else at
        count_ins = feed_count_ins(self.song, self.routes, self.options.count_in_bars)
        plan = plan_start(self.timeline, self.cue_at, count_ins, self.sounds)
        preroll = {"ltc": self._song_stems["ltc"]} if "ltc" in self._song_stems else {}
        self._preroll_stems = {**preroll, **plan.count_in}
        self.takes.went(self.cue_at.bar, plan.song_from_frame)
        self.transport.request(Play(plan.start_frame, plan.song_from_frame))
        self._wake()
        return plan

    def stop(self) -> None:
        """Interrupt: cues stop now, the track fades out (`stop_fade_s`), MIDI notes off, final state published."""
        self.takes.stopped()
        self.transport.request(Stop(len(self._fade) - self.audio.buffer_frames))
        self._wake()
        for output in self.outputs.values():
            output.panic()

    def loop(self, first_bar: int, last_bar: int) -> None:
        """Loop bars first_bar..last_bar (inclusive) until `release_loop`; takes effect when playback reaches the end."""
        tempo, rate = self.timeline.tempo, self.timeline.sample_rate
        start, end = tempo.frame(BarBeat(first_bar), rate), tempo.frame(BarBeat(last_bar + 1), rate)
        if first_bar < 1 or last_bar < first_bar or end > self.timeline.end_frame:
            raise ShowControlError(f"cannot loop bars {first_bar}-{last_bar} of {self.song.id}")
        self.loop_bars = (first_bar, last_bar)
        self.transport.request(Loop(start, end))

    def release_loop(self) -> None:
        """The loop plays to its end once more, then the song carries on."""
        self.loop_bars = None
        self.transport.request(Loop(None, None))

    def pause(self) -> None:
        self.transport.request(Pause())
        self._wake()

    def resume(self) -> None:
        self.transport.request(Resume())
        self._wake()

    def locate(self, at: BarBeat | int) -> None:
        """Cue a bar or bar.beat to start from (takes effect at the next play)."""
        at = BarBeat(at) if isinstance(at, int) else at
        if at.bar < 1 or self.timeline.tempo.frame(at, self.timeline.sample_rate) >= self.timeline.end_frame:
            raise ShowControlError(f"{start_text(at)} is not in {self.song.id}")
        self.cue_at = at

    @property
    def cue_bar(self) -> int:
        """The bar of the cued start, as the status line and remote state show it."""
        return self.cue_at.bar

    def set_tempo(self, tempo: Fraction) -> TempoJob | None:
        """Rehearse at `tempo` (0.5-2, pitch kept). A tempo played before switches at once (when stopped);
        a new one is made ready in the background and played from the next start. Returns that job."""
        if self.loaded.speed != 1 and not self.loaded.keep_pitch:
            raise ShowControlError("this run plays at a film --speed; rehearsal tempos need a run without --speed")
        if not Fraction(1, 2) <= tempo <= 2:
            raise ShowControlError(f"tempo {float(tempo) * 100:g} % is outside 50-200 %")
        if tempo in self._versions:
            self.tempo_job, self._pending = None, self._versions[tempo]
            self.apply_pending_tempo()
            return None
        timeline = compile_at_speed(self.loaded, self.song.id, tempo)
        job = TempoJob(tempo, time.monotonic(), stems_seconds(timeline, self._keep_pitch_at))
        self.tempo_job = job
        threading.Thread(target=self._make_ready, args=(job, timeline), name="tempo", daemon=True).start()
        return job

    def _make_ready(self, job: TempoJob, timeline: Timeline) -> None:
        """The tempo thread: stretch and prepare at ordinary priority, below everything else in the show."""
        normal_priority()  # not the real-time one inherited from the operator's thread: seconds of stretching
        try:
            version = self._version(job.tempo, timeline)
        except Exception as error:  # whatever fails, the operator must see it, not a job stuck at 99 %
            job.error = str(error) or type(error).__name__
            log.error("tempo %g %% could not be made ready: %s", float(job.tempo) * 100, error)
            return
        self._versions[job.tempo] = version
        if self.tempo_job is job:
            self._pending = version
        job.version = version  # last: whoever sees the job ready finds its version pending
        log.info("tempo %g %% ready in %.1f s", float(job.tempo) * 100, time.monotonic() - job.started)

    def apply_pending_tempo(self) -> bool:
        """The operator's thread, while stopped: switch to a tempo made ready since; whether it did."""
        pending = self._pending
        if pending is None or self.transport.segment.state is not State.STOPPED or self._dispatcher is None:
            return False
        self._pending = None
        if pending is not self._versions.get(self.tempo):
            self._install(pending)
            self._forget_old_versions()
        return True

    def _forget_old_versions(self) -> None:
        """Keep 100 %, the tempo playing and the latest others; the tempo thread may add one meanwhile."""
        tempos = list(self._versions)  # a snapshot: the tempo thread inserts while we look
        keep = {Fraction(1), self.tempo}
        for tempo in reversed(tempos):
            if len(keep) >= KEEP_VERSIONS:
                break
            keep.add(tempo)
        for tempo in tempos:
            if tempo not in keep:
                self._versions.pop(tempo, None)

    def _wake(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.wake()

    # -- what the operator sees -----------------------------------------------------------
    @property
    def segment(self) -> Segment:
        return self.transport.segment

    def song_frame_now(self) -> int:
        """The song frame leaving the device now (clock + latency), for displays."""
        segment = self.transport.segment
        device = self._link.device if self._link is not None else None
        if device is None or device.clock is None or segment.state is not State.PLAYING:
            return segment.song_frame
        latency = self.audio.buffer_frames + self.audio.output_latency_ms * self.sample_rate / 1000
        taken = min(device.clock.frame_at(time.monotonic_ns()), device.frames_delivered)  # a stalled device: where it stopped
        return segment.song_frame_at(int(taken - latency))

    @property
    def dispatcher(self) -> Dispatcher:
        assert self._dispatcher is not None
        return self._dispatcher

    @property
    def link(self) -> AudioLink:
        assert self._link is not None
        return self._link

    @property
    def device(self) -> Device:
        return self.link.device

    @property
    def audio_left_open(self) -> bool:
        """Whether the audio device would not close (a hung sound server), also after a failed start."""
        return self._link is not None and self._link.left_open

    @property
    def driver(self) -> str:
        return self.link.driver


def default_log_path(song_id: str) -> Path:
    return Path("showlogs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{song_id}.jsonl"
