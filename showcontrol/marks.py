"""Marking while listening: markers at the playhead, snapped to the grid, and a tap-tempo meter. Pure:
positions come from a tempo map and times are arguments; `load/marks_file.py` saves them."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
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


@dataclass(frozen=True)
class LyricsFold:
    """Where new lyric lines go and which breaths to set, in the song's final line order, with every change and
    every conflict (a breath a person wrote, kept against a marker) said in words."""

    inserts: tuple[tuple[int, int], ...]  # (index in the final lyrics, index of the new line), ascending
    breaths: Mapping[int, str]  # index in the final lyrics -> the breath to write there
    changes: tuple[str, ...]
    conflicts: tuple[str, ...]


def fold_lyrics(
    lines: Sequence[tuple[int, str | None, str]], new_lines: Sequence[tuple[int, str]], breaths: Sequence[tuple[int, str]], replace: bool
) -> LyricsFold:
    """Fold lyric and breath markers into a song's lines, never overwriting a written breath unless `replace`.

    `lines`: the song's lines as (frame, breath as written or None, label); `new_lines` and `breaths`: markers as
    (frame, position). A new line goes before the first line that starts after it; a breath belongs to the first line
    at or after it, and of several breaths before one line the last (nearest the line) is taken.
    """
    order: list[tuple[int, int | None, str | None, str]] = []  # (frame, index of the new line or None, breath, label)
    pending = sorted(range(len(new_lines)), key=lambda index: new_lines[index][0])
    for frame, breath, label in lines:
        while pending and new_lines[pending[0]][0] < frame:
            index = pending.pop(0)
            order.append((new_lines[index][0], index, None, f"the new line at {new_lines[index][1]}"))
        order.append((frame, None, breath, label))
    order += [(new_lines[index][0], index, None, f"the new line at {new_lines[index][1]}") for index in pending]
    changes = [
        f"lyric line added at {new_lines[new][1]} (line {final + 1})" for final, (_, new, _, _) in enumerate(order) if new is not None
    ]
    conflicts: list[str] = []
    chosen: dict[int, tuple[int, str]] = {}
    targets = breath_targets([frame for frame, _, _, _ in order], [frame for frame, _ in breaths])
    for (frame, at), target in zip(breaths, targets, strict=True):
        if target is None:
            conflicts.append(f"the breath marker at {at} has no lyric line after it: left out")
        elif target in chosen:
            earlier = min(chosen[target], (frame, at))
            chosen[target] = max(chosen[target], (frame, at))
            conflicts.append(f"two breath markers before {order[target][3]}: took {chosen[target][1]}, the nearer, not {earlier[1]}")
        else:
            chosen[target] = (frame, at)
    written: dict[int, str] = {}
    for target, (_, at) in sorted(chosen.items()):
        label, before = order[target][3], order[target][2]
        if before is None:
            changes.append(f"breath {at} set on {label}")
        elif before == at:
            continue
        elif replace:
            changes.append(f"breath of {label} replaced: {before} -> {at}")
        else:
            conflicts.append(f"{label} keeps its breath {before} (the marker says {at}): --replace takes the marker's")
            continue
        written[target] = at
    inserts = tuple((final, new) for final, (_, new, _, _) in enumerate(order) if new is not None)
    return LyricsFold(inserts, written, tuple(changes), tuple(conflicts))
