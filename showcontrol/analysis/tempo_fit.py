"""A tempo map for beat times: as few entries as keep every beat within a tolerance of where it was heard.

Bar by bar from bar 1, the longest stretch that one constant tempo (least squares, starting where the map
so far puts the stretch's first bar line) or one linear ramp from the tempo before keeps within
`tolerance` becomes one entry; where not even a bar fits, the bar gets its own tempo. Each stretch starts
where the map written so far puts it, so rounding the written BPM never accumulates. A studio track comes
out as one entry, a tempo change as two, an accelerando as a ramp, and a live recording as a tempo every
bar or few.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from showcontrol.analysis.onsets import Curve
from showcontrol.model.show import Meter, TempoChange

TOLERANCE_SECONDS = 0.008  # the beats heard are placed at their attacks within ~4 ms (sd) of live truth: a map may follow them this close
BPM_DECIMALS = 2
RAMP_RANGE = (0.75, 1.33)  # a ramp may end at this fraction of the tempo it starts from
GIVE_UP_FACTOR = 4  # once a stretch misses by this many tolerances, longer ones will not fit
WORST_FACTOR = 1.5  # no beat heard may be further than this many tolerances from the map


@dataclass(frozen=True)
class FittedMap:
    tempo: tuple[TempoChange, ...]
    first_downbeat: Fraction
    map_beats: Curve  # where the map puts each of the given beats, seconds
    error: Curve  # map_beats minus the given beats, seconds


def _rounded_bpm(beat_seconds: float, beat_quarters: Fraction) -> Fraction:
    bpm = 60 * float(beat_quarters) / beat_seconds
    return Fraction(round(bpm * 10**BPM_DECIMALS), 10**BPM_DECIMALS)


def _seconds_per_beat(bpm: Fraction, beat_quarters: Fraction) -> float:
    return float(60 * beat_quarters / bpm)


def ramp_offsets(start_bpm: float, end_bpm: Curve, beats: int, beat_quarters: float) -> Curve:
    """Seconds from a ramp's start to each of its beats 0..beats, for each candidate end tempo (rows).

    The timeline's ramp (tempo linear in time, `timeline.tempo`), vectorised over candidates for fitting;
    the map that results is checked against the timeline's own TempoMap by the caller's tests.
    """
    r0 = start_bpm / 60.0
    r1 = np.asarray(end_bpm, dtype=np.float64)[:, None] / 60.0
    quarters = np.arange(beats + 1)[None, :] * beat_quarters
    length = beats * beat_quarters
    accel = (r1 - r0) / (2 * length / (r0 + r1))
    root = np.sqrt(np.maximum(r0 * r0 + 2 * accel * quarters, 1e-12))
    return 2 * quarters / (r0 + root)


@dataclass(frozen=True)
class _Stretch:
    bars: int
    bpm: Fraction
    ramp: bool
    offsets: Curve  # seconds from the stretch's first bar line to each of its beats, bar line after it included


def _miss(start: float, offsets: Curve, heard: Curve) -> float:
    """How far a stretch misses the beats heard in it: the larger of its 90th-percentile error and half its
    worst, so one beat the tracker misplaced does not split a steady passage, but a real change does."""
    errors = np.abs(start + offsets[..., : heard.shape[-1]] - heard)
    return np.maximum(np.percentile(errors, 90, axis=-1), errors.max(axis=-1) / WORST_FACTOR)  # type: ignore[no-any-return]


def _constant(start: float, heard: Curve, beats: int, beat_quarters: Fraction) -> tuple[Fraction, Curve, float]:
    steps = np.arange(len(heard), dtype=np.float64)
    slope = float(steps[1:] @ (heard[1:] - start) / (steps[1:] @ steps[1:]))
    bpm = _rounded_bpm(slope, beat_quarters)
    offsets = np.arange(beats + 1, dtype=np.float64) * _seconds_per_beat(bpm, beat_quarters)
    return bpm, offsets, float(_miss(start, offsets, heard))


def _ramp(start: float, heard: Curve, beats: int, from_bpm: Fraction, beat_quarters: Fraction) -> tuple[Fraction, Curve, float]:
    candidates = np.linspace(float(from_bpm) * RAMP_RANGE[0], float(from_bpm) * RAMP_RANGE[1], 241)
    for _ in range(3):  # coarse to fine
        offsets = ramp_offsets(float(from_bpm), candidates, beats, float(beat_quarters))
        best = int(np.argmin(_miss(start, offsets, heard[None, :])))
        step = candidates[1] - candidates[0]
        candidates = np.linspace(candidates[best] - step, candidates[best] + step, 41)
    bpm = Fraction(round(float(candidates[20]) * 10**BPM_DECIMALS), 10**BPM_DECIMALS)
    offsets = ramp_offsets(float(from_bpm), np.array([float(bpm)]), beats, float(beat_quarters))[0]
    return bpm, offsets, float(_miss(start, offsets, heard))


def _held(
    start: float,
    beats: Curve,
    starts: npt.NDArray[np.int64],
    end: int,
    limit: int,
    bpm: Fraction,
    beat_quarters: Fraction,
    tolerance: float,
) -> int:
    """How many bars after bar `end` (whose line the map puts at `start`) one constant `bpm` still fits."""
    held = 0
    for after in range(end + 1, limit + 1):
        heard = beats[starts[end] : starts[after] + 1]
        if len(heard) < 2:
            break
        offsets = np.arange(int(starts[after] - starts[end]) + 1, dtype=np.float64) * _seconds_per_beat(bpm, beat_quarters)
        if _miss(start, offsets, heard) > tolerance:
            break
        held = after - end
    return held


def _next_stretch(
    start: float,
    beats: Curve,
    bar: int,
    starts: npt.NDArray[np.int64],
    limit: int,
    previous: Fraction | None,
    beat_quarters: Fraction,
    tolerance: float,
) -> _Stretch:
    """The next entry from `bar` (up to `limit`, the next change of meter): the longest stretch one tempo fits, or a
    ramp from the tempo before, where a ramp and the tempo it arrives at then cover more bars. Of the ramps that fit,
    the one whose end tempo holds longest after it wins, so a ramp ends where the music arrives, at the tempo it arrives at."""
    steady: _Stretch | None = None
    ramps: list[tuple[int, float, _Stretch]] = []  # (bars covered with the tempo held after it, -error, the ramp)
    for ramp in (False, True) if previous is not None else (False,):
        for end in range(bar + 1, limit + 1):
            heard = beats[starts[bar] : starts[end] + 1]  # the last bar may be heard only in part
            length = int(starts[end] - starts[bar])
            if ramp:
                assert previous is not None
                bpm, offsets, error = _ramp(start, heard, length, previous, beat_quarters)
            else:
                bpm, offsets, error = _constant(start, heard, length, beat_quarters)
                if previous is not None and bpm != previous:  # across a change of meter, the same tempo where it fits
                    kept = np.arange(length + 1, dtype=np.float64) * _seconds_per_beat(previous, beat_quarters)
                    if (kept_error := float(_miss(start, kept, heard))) <= tolerance:
                        bpm, offsets, error = previous, kept, kept_error
            if ramp and bpm == previous:
                continue
            if error <= tolerance:
                stretch = _Stretch(end - bar, bpm, ramp, offsets)
                if not ramp:
                    steady = stretch
                else:
                    held = _held(start + float(offsets[-1]), beats, starts, end, limit, bpm, beat_quarters, tolerance)
                    ramps.append((end - bar + held, -error, stretch))
            elif error > GIVE_UP_FACTOR * tolerance:
                break
    if ramps:
        reach, _, best_ramp = max(ramps, key=lambda candidate: candidate[:2])
        if steady is None or reach > steady.bars:
            return best_ramp
    if steady is None:  # not even one bar fits one tempo: give the bar its own anyway
        length = int(starts[bar + 1] - starts[bar])
        bpm, offsets, _ = _constant(start, beats[starts[bar] : starts[bar + 1] + 1], length, beat_quarters)
        steady = _Stretch(1, bpm, False, offsets)
    return steady


def fit_tempo_map(beats: Curve, per_bar: int, meter: Meter, tolerance: float = TOLERANCE_SECONDS) -> FittedMap:
    """A tempo map for `beats`: counted beats in seconds, the first on bar 1 beat 1, `per_bar` to a bar.

    A last bar heard only in part is mapped by what was heard of it; the last entry's tempo carries on.
    """
    if len(beats) < 2:
        raise ValueError("a tempo map needs at least two beats")
    bars = -(-(len(beats) - 1) // per_bar)
    return fit_bars(beats, [(per_bar, meter)] * bars, meter.beat_quarters, tolerance)


def fit_bars(beats: Curve, bars: Sequence[tuple[int, Meter]], beat_quarters: Fraction, tolerance: float = TOLERANCE_SECONDS) -> FittedMap:
    """A tempo map for `beats` (seconds, a grid of `beat_quarters` each, the first on bar 1 beat 1) laid in `bars`:
    each bar's length in grid beats and its meter, bar 1 on. A change of meter starts a new entry."""
    if len(beats) < 2:
        raise ValueError("a tempo map needs at least two beats")
    starts = np.concatenate([[0], np.cumsum([length for length, _ in bars])]).astype(np.int64)
    meter_starts = [index for index in range(1, len(bars)) if bars[index][1] != bars[index - 1][1]] + [len(bars)]
    first = Fraction(round(float(beats[0]) * 1000), 1000)
    start = float(first)
    changes: list[TempoChange] = []
    predicted = [np.array([start])]
    bar, previous = 0, None
    while bar < len(bars):
        limit = next(index for index in meter_starts if index > bar)
        stretch = _next_stretch(start, beats, bar, starts, limit, previous, beat_quarters, tolerance)
        changes.append(TempoChange(bar + 1, stretch.bpm, bars[bar][1], stretch.bars if stretch.ramp else 0))
        predicted.append(start + stretch.offsets[1:])
        start = float(start + stretch.offsets[-1])
        bar += stretch.bars
        previous = stretch.bpm
    merged = [changes[0]]
    for change in changes[1:]:
        if change.ramp_bars or change.quarter_bpm != merged[-1].quarter_bpm or change.meter != merged[-1].meter:
            merged.append(change)
    map_beats = np.concatenate(predicted)[: len(beats)]
    return FittedMap(tuple(merged), first, map_beats, map_beats - beats)
