"""One song version installed and playing: its transport, its audio in the device's callback, its dispatcher.

The audio thread calls `render` for every block: it mixes the version's stems (and a start's count-in)
by the transport's segment, crossfades a loop's seam, and lets an interrupted number fade out. A new
song or tempo is a new player, made while stopped: the callback reads whichever is installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from showcontrol.app.version import SongVersion
from showcontrol.audio.mix import Stem, crossfade_seam, fade_out, mix_block, mix_fading
from showcontrol.dispatcher import Dispatcher, DispatcherConfig, DispatcherPorts
from showcontrol.engine.transport import Segment, State, Transport
from showcontrol.io.jack_midi import SongRun, period_runs

LOOP_SEAM_S = 0.005  # a loop's wrap crossfades the track over 5 ms: no click, and the downbeat stays on its frame


@dataclass(frozen=True)
class Shapes:
    """The envelopes the callback slices, made once for the run: the stop's fade-out and the loop seam's pair."""

    fade: npt.NDArray[np.float32]  # the stop's fade, then a buffer of silence
    seam_in: npt.NDArray[np.float32]
    seam_out: npt.NDArray[np.float32]

    @classmethod
    def make(cls, sample_rate: int, stop_fade_s: float, buffer_frames: int) -> Shapes:
        fade_frames = round(stop_fade_s * sample_rate)
        seam_out = fade_out(round(LOOP_SEAM_S * sample_rate))
        fade = np.concatenate([fade_out(fade_frames) if fade_frames else np.zeros(0, np.float32), np.zeros(buffer_frames, np.float32)])
        return cls(fade, np.ascontiguousarray(seam_out[::-1]), seam_out)  # cos and sin: equal power

    @property
    def fade_frames(self) -> int:
        return len(self.fade)


class SongPlayer:
    """`version` on a transport of its own, continuing the generations of the player before it."""

    def __init__(self, version: SongVersion, shapes: Shapes, generation: int = 0) -> None:
        self.version = version
        self.shapes = shapes
        self.stems: dict[str, Stem] = dict(version.stems)
        self.preroll_stems: Mapping[str, Stem] = {}
        self.routes = version.routes
        self.transport = Transport(version.timeline.end_frame, generation)
        self.dispatcher: Dispatcher | None = None
        self.go_generation: int | None = None  # the transport's generation at the last GO (None: not played yet)

    def start_dispatcher(
        self, config: DispatcherConfig, ports: DispatcherPorts, previous: Dispatcher | None, follows: bool = False
    ) -> Dispatcher:
        """`follows`: this player is armed to follow the one `previous` dispatches for (see Dispatcher)."""
        dispatcher = Dispatcher(config, ports, previous if follows else None)
        if previous is not None:
            dispatcher.stats, dispatcher.skipped_once = previous.stats, previous.skipped_once  # one report for the whole run
        self.dispatcher = dispatcher
        dispatcher.start()
        return dispatcher

    def stop_dispatcher(self, drain_s: float = 1.0) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wait_for_drain(drain_s)  # the last clock ticks and cues of what was already played
            self.dispatcher.stop()

    def wake(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def went(self, generation: int) -> None:
        """A GO (or a follow) was asked at the transport's `generation`."""
        self.go_generation = generation

    @property
    def finished(self) -> bool:
        """Played since the last GO, and stopped (at its end, or interrupted), with nothing left to send."""
        segment = self.transport.segment
        return self.go_generation is not None and segment.generation > self.go_generation and self.quiet

    @property
    def idle(self) -> bool:
        """Stopped, and no GO asked that the audio callback has not taken yet: another version may come in
        (installing it lets the cues still due from the buffers go out first)."""
        segment = self.transport.segment
        return segment.state is State.STOPPED and (self.go_generation is None or segment.generation > self.go_generation)

    @property
    def quiet(self) -> bool:
        """Stopped with nothing left to send: the audio device may be reopened now."""
        return self.transport.segment.state is State.STOPPED and not (self.dispatcher is not None and self.dispatcher.draining)

    # -- the audio thread -----------------------------------------------------------------
    def song_runs(self, first_device_frame: int, frames: int) -> tuple[SongRun, ...]:
        """The song frames of the period just rendered (JACK MIDI's period), as the transport ended it."""
        return period_runs(self.transport.segment, first_device_frame, frames, self.version.key)

    def render(self, device_frame: int, out: npt.NDArray[np.float32]) -> None:
        segment = self.transport.next_block(device_frame, len(out))
        if segment.state is not State.PLAYING:
            tail, track = self.transport.tail, self.stems.get("track")
            if tail is not None and track is not None and tail.active(device_frame):
                offset = device_frame - tail.device_frame
                mix_fading(track, self.routes["track"], tail.song_frame_at(device_frame), out, self.shapes.fade[offset : offset + len(out)])
            else:
                out.fill(0.0)
            return
        if segment.wrap_from is not None and segment.device_frame > device_frame:  # a loop wraps inside this block
            before = segment.device_frame - device_frame
            mix_block(self.stems, self.routes, segment.wrap_from - before, out[:before])
            self._mix_from(segment, segment.device_frame, out[before:])
        else:
            self._mix_from(segment, device_frame, out)
        if segment.wrap_from is not None:
            self._blend_loop_seam(segment, device_frame, out)

    def _mix_from(self, segment: Segment, device_frame: int, out: npt.NDArray[np.float32]) -> None:
        song_frame = segment.song_frame_at(device_frame)
        preroll = min(max(segment.song_from_frame - song_frame, 0), len(out))
        if preroll:
            mix_block(self.preroll_stems, self.routes, song_frame, out[:preroll])
        if preroll < len(out):
            mix_block(self.stems, self.routes, song_frame + preroll, out[preroll:])

    def _blend_loop_seam(self, segment: Segment, device_frame: int, out: npt.NDArray[np.float32]) -> None:
        """The first few ms after a loop wraps: crossfade the track from what followed the loop's end."""
        track, wrap_from, seam_in = self.stems.get("track"), segment.wrap_from, self.shapes.seam_in
        first = max(device_frame, segment.device_frame)
        last = min(device_frame + len(out), segment.device_frame + len(seam_in))
        if track is None or wrap_from is None or first >= last:
            return
        k = first - segment.device_frame
        crossfade_seam(
            track,
            self.routes["track"],
            out[first - device_frame : last - device_frame],
            segment.song_frame + k,
            wrap_from + k,
            seam_in[k : k + last - first],
            self.shapes.seam_out[k : k + last - first],
        )
