"""Where each recording of a song sounds on the song's frame axis: pure maths over the tempo map.

A mashup lays several recordings on one tempo grid. Each track names the grid bar its own downbeat
lands on and, when it was recorded at another tempo, is time-stretched by grid tempo / its tempo.
The song's time axis starts where the earliest track's file starts, so no track begins before 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from showcontrol.model.position import BarBeat
from showcontrol.model.show import Song, Track
from showcontrol.timeline.tempo import Rate, TempoMap, frame_at


@dataclass(frozen=True, slots=True)
class TrackPlacement:
    """A track on the song's frame axis.

    Frame 0 of the file, played `speed` times as fast as recorded (stretched, pitch kept), sounds at
    song frame `origin_frame` and lasts `frames`. It is heard from `enter_frame` to `leave_frame`
    (None: from its start, to its end), each with an equal-power crossfade `fade_frames` long centred there.
    """

    track: Track
    speed: Fraction
    origin_frame: int
    frames: int
    enter_frame: int | None
    leave_frame: int | None
    fade_frames: int

    @property
    def end_frame(self) -> int:
        """The last frame it is heard, exclusive."""
        end = self.origin_frame + self.frames
        return end if self.leave_frame is None else min(end, self.leave_frame + self.fade_frames // 2)


def track_speed(track: Track, grid: TempoMap, at: BarBeat) -> Fraction:
    """How much faster than recorded the track must play to sit on the grid (1 when its tempo is not given)."""
    if track.native_bpm is None:
        return Fraction(1)
    return grid.quarter_bpm_at(at.bar) / track.native_bpm


def song_first_downbeat(song: Song, aligned_at: list[BarBeat], ticks_per_beat: int) -> Fraction:
    """Seconds from the song's time zero to bar 1: just enough that every track's file starts at or after 0.

    `aligned_at` is each track's `at`, resolved to a bar.beat. A song without tracks keeps its own value.
    """
    if not song.tracks:
        return song.first_downbeat
    grid = TempoMap(song.tempo, Fraction(0), ticks_per_beat)  # bar 1 at 0: seconds() is time after bar 1
    lead = Fraction(0)
    for track, at in zip(song.tracks, aligned_at, strict=True):
        lead = max(lead, track.first_downbeat / track_speed(track, grid, at) - _fraction(grid.seconds(at)))
    return lead


def place_track(
    track: Track, at: BarBeat, grid: TempoMap, sample_rate: Rate, file_frames: int, enter_frame: int | None, leave_frame: int | None
) -> TrackPlacement:
    """Place one track on the final grid; `file_frames` is its decoded length at `sample_rate`, unstretched."""
    speed = track_speed(track, grid, at)
    origin = frame_at(_fraction(grid.seconds(at)) - track.first_downbeat / speed, sample_rate)
    frames = -(-file_frames * speed.denominator // speed.numerator)  # ceil(file_frames / speed)
    return TrackPlacement(track, speed, origin, frames, enter_frame, leave_frame, round(track.fade_s * Fraction(sample_rate)))


def _fraction(seconds: float | Fraction) -> Fraction:
    return seconds if isinstance(seconds, Fraction) else Fraction(seconds)
