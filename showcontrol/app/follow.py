"""A follow armed before the end: the next song of the set on a player of its own, its dispatcher idle, while
the song before it plays; the audio callback hands over in the block where that song's end falls, so that a
segue with no gap starts on the frame after the last one (the set's watcher would notice the end 10-30 ms
after it, when the next song's first frames have already gone by).

The runner arms it once the next song is ready and only a command can still move the end, and every such
command disarms it first. The callback and a disarm race for one token, and whoever takes it decides: the
callback that takes it ends the song before on its end frame, starts the next one `gap` after it (its
count-in first, as planned) and mixes that one's part of the block; a disarm that comes too late waits for
the callback to have made the next song the one playing, and the command then applies to that one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from showcontrol.app.player import SongPlayer
from showcontrol.engine.plan import StartPlan
from showcontrol.engine.transport import Play, Segment


@dataclass(frozen=True, slots=True)
class Handover:
    """What the callback did: the song before ended at device frame `ended_at`, on `segment` (its last
    playing one) of schedule `schedule` (its version's key); the next song plays from `playing_generation`."""

    ended_at: int
    segment: Segment
    schedule: Hashable
    playing_generation: int


class ArmedFollow:
    """`after` armed to follow `before`, `gap_frames` after its end, from `plan` (the top, its count-in first).
    `scratch` is the callback's block for the next song's part (preallocated: nothing is allocated there)."""

    def __init__(self, before: SongPlayer, after: SongPlayer, gap_frames: int, plan: StartPlan, scratch: npt.NDArray[np.float32]) -> None:
        self.before = before
        self.after = after
        self.gap_frames = gap_frames
        self.song_from_frame = plan.song_from_frame
        self._start_frame = plan.start_frame
        self._lead = gap_frames + plan.start_frame - plan.song_from_frame  # from the end to where it starts, as a follow after the end
        self._scratch = scratch
        self._token = [True]  # taken once: by the callback (handed over) or by the runner (disarmed)
        self.handover: Handover | None = None  # once the callback has made `after` the player

    def _take(self) -> bool:
        try:
            self._token.pop()  # atomic under the GIL, and no lock for the audio thread to wait on
        except IndexError:
            return False
        return True

    def cancel(self) -> bool:
        """The runner: disarm; whether that was before the callback took it (else see `wait_handed_over`)."""
        return self._take()

    def wait_handed_over(self, timeout_s: float) -> Handover | None:
        """After a `cancel` that came too late: the callback is handing over now, in this very block."""
        deadline = time.monotonic() + timeout_s
        while self.handover is None and time.monotonic() < deadline:
            os.sched_yield()  # lets the audio thread, holding the block, take the GIL back
        return self.handover

    def hand_over(self, device_frame: int, frames: int) -> Handover | None:
        """The audio thread, after the song before rendered the block of `frames` at `device_frame`: if its end
        falls in the block, end it there and start the next song on its frame; what it did (None: not in this
        block, or disarmed). The caller makes `after` the player, then `mix`es its part in."""
        transport = self.before.transport
        ended_at = transport.end_in_block(device_frame, frames)
        if ended_at is None or frames > len(self._scratch) or not self._take():
            return None
        last = transport.segment
        transport.end_now(device_frame + frames)
        final = transport.segment.generation  # the song before's last: the next one counts on from it
        play = Play(self._start_frame, self.song_from_frame, at_device_frame=ended_at + self._lead, after_generation=final)
        self.after.transport.request(play)
        return Handover(ended_at, last, self.before.version.key, final + 1)

    def mix(self, handover: Handover, device_frame: int, out: npt.NDArray[np.float32]) -> None:
        """The block of the hand-over: the song before up to its end, then the next song from its first frame."""
        out[handover.ended_at - device_frame :] = 0.0
        scratch = self._scratch[: len(out)]
        self.after.render(device_frame, scratch)
        out += scratch
