"""The set list a run plays: which songs, in which order, and which follow the one before by themselves."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from showcontrol.model.position import BarBeat
from showcontrol.model.show import Show
from showcontrol.timeline.events import Timeline


@dataclass(frozen=True)
class SetEntry:
    """One place in the set: a song (the same song may come twice), and whether it starts by itself when
    the one before ends, after a gap of seconds or of its own first bars."""

    song_id: str
    follow: bool = False
    gap_s: Fraction | None = None
    gap_bars: int | None = None


def set_entries(show: Show, song_id: str | None) -> tuple[SetEntry, ...]:
    """The run's set: one song for `--song`, else the show's songs in order."""
    if song_id is not None:
        return (SetEntry(song_id),)
    return tuple(SetEntry(song.id) for song in show.songs)


def gap_frames(entry: SetEntry, timeline: Timeline) -> int:
    """The silence between the end of the song before and `entry`'s start, in `timeline`'s frames."""
    if entry.gap_bars:
        tempo, rate = timeline.tempo, timeline.sample_rate
        return tempo.frame(BarBeat(1 + entry.gap_bars), rate) - tempo.frame(BarBeat(1), rate)
    return round((entry.gap_s or 0) * timeline.sample_rate)
