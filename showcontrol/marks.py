"""Marking while listening: markers at the playhead, snapped to the grid, and a tap-tempo meter. Pure:
positions come from a tempo map and times are arguments; `load/marks_file.py` saves them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from fractions import Fraction

from showcontrol.model.position import BarBeat
from showcontrol.timeline.tempo import TempoMap

MARK_KINDS = {"c": "cue", "y": "lyric", "b": "breath"}  # the key, and with shift (upper case) unquantised
GRID_BEATS = Fraction(1, 2)  # markers snap to the nearest half beat: breaths often fall on the "and" before a line
TAP_RESET_SECONDS = 2.0  # a pause this long starts a new tap count
TAPS_KEPT = 8


@dataclass(frozen=True, slots=True)
class Marker:
    kind: str  # cue, lyric or breath
    at: BarBeat  # where it goes: snapped, or as heard for a raw marker
    heard: BarBeat  # the playhead when the key was pressed
    seconds: float  # song seconds of the playhead
    raw: bool


def snapped(tempo: TempoMap, heard: BarBeat, grid_beats: Fraction = GRID_BEATS) -> BarBeat:
    """The grid point nearest to `heard` (a half beat by default), carrying into the next bar."""
    step = max(1, round(tempo.ticks_per_beat * grid_beats))
    beats_in_bar = tempo.meter_at(heard.bar).numerator
    ticks = (heard.beat - 1) * tempo.ticks_per_beat + heard.tick
    nearest = round(Fraction(ticks, step)) * step
    if nearest >= beats_in_bar * tempo.ticks_per_beat:
        return BarBeat(heard.bar + 1, 1, 0)
    beat, tick = divmod(nearest, tempo.ticks_per_beat)
    return BarBeat(heard.bar, beat + 1, tick)


def marker_at(tempo: TempoMap, seconds: float, key: str) -> Marker:
    """The marker a key drops at song second `seconds`: c, y, b snapped; C, Y, B raw."""
    heard = tempo.position_at(seconds)
    raw = key.isupper()
    return Marker(MARK_KINDS[key.lower()], heard if raw else snapped(tempo, heard), heard, seconds, raw)


@dataclass
class TapTempo:
    """Beats per minute from the last taps (the median interval, so one early tap does not swing it)."""

    taps: list[float] = field(default_factory=list)

    def tap(self, now: float) -> float | None:
        if self.taps and now - self.taps[-1] > TAP_RESET_SECONDS:
            self.taps.clear()
        self.taps = [*self.taps, now][-TAPS_KEPT:]
        if len(self.taps) < 2:
            return None
        return 60 / statistics.median(b - a for a, b in zip(self.taps, self.taps[1:], strict=False))


def breath_targets(line_frames: list[int], breath_frames: list[int]) -> list[int | None]:
    """For each breath, the lyric line it is taken for: the first line starting at or after it (None: no line follows)."""
    order = sorted(range(len(line_frames)), key=lambda index: line_frames[index])
    targets: list[int | None] = []
    for breath in breath_frames:
        targets.append(next((index for index in order if line_frames[index] >= breath), None))
    return targets
