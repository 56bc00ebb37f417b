"""Where the next song of a set starts when one segues into it: a pure function of the set list and its timeline."""

from __future__ import annotations

from dataclasses import dataclass

from showcontrol.model.setlist import Gap, GapSeconds, Setlist
from showcontrol.timeline.events import Timeline
from showcontrol.timeline.tempo import frame_at


@dataclass(frozen=True, slots=True)
class SeguePlan:
    """Entry `next_index` starts by itself `gap_frames` device frames after the current song's `end_frame`,
    playing from `next_start_frame` of its own timeline (its top: the count-in, then bar 1)."""

    next_index: int
    gap_frames: int
    next_start_frame: int


def gap_frames(gap: Gap, next_timeline: Timeline, device_rate: int) -> int:
    """A gap in device frames. Seconds are the wall clock's (`device_rate`); bars are the next song's first
    bars, so at a film --speed they scale with it, as its timeline's frames do (which are device frames)."""
    if isinstance(gap, GapSeconds):
        return frame_at(gap.seconds, device_rate)
    tempo = next_timeline.tempo
    bar_seconds = tempo.meter_at(1).bar_quarters * 60 / tempo.quarter_bpm_at(1)  # bar 1 never ramps: exact
    return frame_at(gap.bars * bar_seconds, next_timeline.sample_rate)


def segue_plan(setlist: Setlist, index: int, next_timeline: Timeline, device_rate: int) -> SeguePlan | None:
    """What follows entry `index` by itself (None: the operator's GO starts the next song); `next_timeline` is
    the timeline of entry `index + 1`, compiled for this run."""
    following = setlist.after(index)
    if not setlist.follows(index) or following is None:
        return None
    if setlist[following].song_id != next_timeline.song_id:
        raise ValueError(f"entry {following} plays {setlist[following].song_id}, not {next_timeline.song_id}")
    return SeguePlan(following, gap_frames(setlist[index].gap, next_timeline, device_rate), next_timeline.start_frame)
