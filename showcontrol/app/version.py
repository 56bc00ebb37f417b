"""A song made ready to play: its timeline, audio and dispatch order with each output's messages, at one tempo.

Another rehearsal tempo and the next song of the set are the same thing: a version prepared in the
background (decoding, resampling, stretching and compiling take seconds of CPU) at a priority below
every show thread, then installed while the transport is stopped.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from showcontrol.audio.click import ClickSounds
from showcontrol.audio.mix import Stem
from showcontrol.beats import beat_states
from showcontrol.codec.monitor import Position
from showcontrol.dispatcher import MESSAGE_KINDS
from showcontrol.engine.plan import Dispatch, dispatch_order
from showcontrol.errors import ShowControlError
from showcontrol.io.output import Output
from showcontrol.model.show import Song
from showcontrol.offline import build_stems
from showcontrol.realtime import background_priority
from showcontrol.timeline.events import Event, Timeline

log = logging.getLogger(__name__)
Routes = Mapping[str, tuple[int, ...]]  # feed -> device channels
MakeStems = Callable[[Song, Timeline, Routes, ClickSounds, int | None], Mapping[str, Stem]]  # build_stems, here or elsewhere


class PreparationCancelled(ShowControlError):
    """The run ends while a version is being made: nothing to report."""


@dataclass(frozen=True)
class SongVersion:
    """One song ready to play at one tempo: its timeline, audio, dispatch order (each message prepared by its
    output), and the monitors' beat table. Installing it swaps all of this in at once, while stopped."""

    song: Song
    tempo: Fraction
    timeline: Timeline
    routes: Routes
    stems: Mapping[str, Stem]
    order: tuple[Dispatch[object], ...]
    beats: Mapping[int, Position]
    max_latency_frames: int  # the earliest any output is fired, in this timeline's frames

    @property
    def key(self) -> tuple[str, Fraction]:
        return self.song.id, self.tempo


@dataclass(frozen=True)
class Cues:
    """What the dispatcher and the monitors need of one timeline: its dispatch order with each output's
    message, the monitors' beat table, and the earliest any output is fired (in the timeline's frames).
    Pure Python work: made while nothing plays where it can be (a set's songs, when the run opens), as
    the interpreter it holds is the one the dispatcher waits for."""

    order: tuple[Dispatch[object], ...]
    beats: Mapping[int, Position]
    max_latency_frames: int


def prepare_cues(timeline: Timeline, outputs: Mapping[str, Output]) -> Cues:
    """The timeline's cues, each message prepared by its output (none without `outputs`: a render's)."""
    latency_frames = {name: round(out.latency_ms * timeline.sample_rate / 1000) for name, out in outputs.items()}

    def message(event: Event) -> object:
        output = outputs.get(event.output)
        return output.prepare(event) if output is not None and event.kind in MESSAGE_KINDS else None

    order = dispatch_order(timeline, latency_frames, message)
    return Cues(order, beat_states(timeline), max(latency_frames.values(), default=0))


def prepare_version(
    song: Song,
    tempo: Fraction,
    timeline: Timeline,
    routes: Routes,
    sounds: ClickSounds,
    cues: Cues,
    keep_pitch_at: int | None,
    make_stems: MakeStems = build_stems,
) -> SongVersion:
    """Everything playback needs (any thread; slow where a track must be decoded or stretched), with the
    timeline's `cues`. `make_stems` builds the audio: in this process, or in another while a song plays
    (app/stem_maker.py)."""
    stems = make_stems(song, timeline, routes, sounds, keep_pitch_at)
    return SongVersion(song, tempo, timeline, routes, stems, cues.order, cues.beats, cues.max_latency_frames)


def bare_version(song: Song, tempo: Fraction, timeline: Timeline, routes: Routes) -> SongVersion:
    """A song with nothing decoded or prepared yet: what a runner holds before it opens."""
    return SongVersion(song, tempo, timeline, routes, {}, (), {}, 0)


@dataclass
class Preparation:
    """A version being made ready in the background, as the operator's screen shows it."""

    song_id: str
    tempo: Fraction
    started: float  # time.monotonic()
    estimate_s: float
    version: SongVersion | None = None
    error: str | None = None
    ready_at: float | None = None  # time.monotonic() when it was done

    def progress(self, now: float) -> float:
        """0..1: done is 1; until then an estimate from the stretcher's measured speed, never past 0.99."""
        if self.version is not None:
            return 1.0
        return min(0.99, (now - self.started) / max(self.estimate_s, 1e-3))

    @property
    def done(self) -> bool:
        return self.version is not None or self.error is not None


def prepare_in_background(job: Preparation, make: Callable[[], SongVersion], then: Callable[[Preparation, SongVersion], None]) -> None:
    """Run `make` on a thread of its own below every show thread; `then(job, version)` keeps the version,
    and only after it `job` says it is done: whoever sees the job ready finds its version kept."""

    def work() -> None:
        background_priority()  # not the priority inherited from the operator's thread: seconds of CPU
        try:
            version = make()
            gc.freeze()  # its objects out of the collector's reach, as the first song's are: no full collection walks them
            then(job, version)
        except PreparationCancelled:
            job.error = "cancelled: the run is ending"
            return
        except Exception as error:  # whatever fails, the operator must see it, not a job stuck at 99 %
            job.error = str(error) or type(error).__name__
            log.error("%s at %g %% could not be made ready: %s", job.song_id, float(job.tempo) * 100, error)
            return
        job.ready_at = time.monotonic()
        job.version = version
        log.debug("%s at %g %% ready in %.1f s", job.song_id, float(job.tempo) * 100, job.ready_at - job.started)

    threading.Thread(target=work, name=f"prepare-{job.song_id}", daemon=True).start()
