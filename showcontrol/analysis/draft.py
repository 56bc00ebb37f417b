"""From a mono recording to a draft song entry: pulses, bar lines, counted beats, a fitted map, confidence and warnings."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from showcontrol.analysis.beats import Pulse, pulse
from showcontrol.analysis.downbeats import Phase, bar_phase
from showcontrol.analysis.meter_changes import bar_layout, meter_of
from showcontrol.analysis.onsets import ANALYSIS_RATE, Curve, Onsets, onset_curves
from showcontrol.analysis.tempo_fit import FittedMap, fit_bars, fit_tempo_map
from showcontrol.model.show import Meter, TempoChange, default_groups

Progress = Callable[[int, int], None]

FOUR_FOUR = Meter(4, 4, (1, 1, 1, 1))
THREE_FOUR = Meter(3, 4, (1, 1, 1))
THREE_FOUR_MARGIN = 0.1
WEAK_BAR = 0.25  # a bar whose beats are this faint or irregular is flagged
ODD_BEAT = 0.2  # a beat this much longer or shorter than its neighbours is flagged
OTHER_OCTAVE = 0.5  # a half or double tempo whose autocorrelation is this strong (against the one found) is worth a warning
FAST_PULSE = (140.0, 160.0)  # quarter-note pulses faster than the first may be felt at half; slower than half the second, at double
BAR1_REACH_SECONDS = 0.07
DRIFT_CONFIDENCE = 0.3  # the most a bar whose bar line does not fit the accents may claim
SILENT_PULSE = 0.5  # pulses after the last one this strong (against the median beat) are the tail ringing out
TAIL_IRREGULAR = 0.12  # a last pulse this much off the one before is the music stopping, not a beat
DEFAULT_PULSE_BPM = (50.0, 220.0, 110.0)  # range and centre for a quarter-note pulse; scaled for other pulses


@dataclass(frozen=True)
class Hints:
    """What the user knows: the meter, the range of the pulse's BPM (see `pulse_layout`), where bar 1 sounds."""

    meter: Meter | None = None
    bpm_range: tuple[float, float] | None = None
    bar1_seconds: float | None = None


@dataclass(frozen=True)
class Draft:
    meter: Meter
    first_downbeat: Fraction
    tempo: tuple[TempoChange, ...]
    beats: Curve  # every counted beat heard, seconds (before bar 1 too)
    downbeats: Curve  # every bar line heard, seconds
    bar_confidence: tuple[float, ...]  # bar 1 on, 0-1
    map_error: Curve  # the written map's beats minus the heard ones, seconds, bar 1 on
    warnings: tuple[str, ...]


def pulse_layout(meter: Meter) -> tuple[int, int]:
    """(pulses per bar, counted beats per pulse): what a listener taps.

    Quarters in x/4; dotted quarters in compound meters (6/8, 9/8, 12/8); eighths in other x/8 (5/8, 7/8).
    """
    if meter.denominator >= 8 and default_groups(meter.numerator, meter.denominator) == meter.groups and meter.groups[0] == 3:
        return meter.numerator // 3, 3
    return meter.numerator, 1


def subdivide(times: Curve, parts: int) -> Curve:
    """Split each interval between pulses into `parts` equal beats."""
    if parts == 1 or len(times) < 2:
        return times
    steps = np.arange(parts) / parts
    inner = times[:-1, None] + np.diff(times)[:, None] * steps[None, :]
    return np.concatenate([inner.ravel(), times[-1:]])


def _runs(flags: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, last) indexes of each run of True."""
    runs, start = [], None
    for index, flag in enumerate([*flags.tolist(), False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            runs.append((start, index - 1))
            start = None
    return runs


def _bars_text(first: int, last: int) -> str:
    return f"bar {first}" if first == last else f"bars {first}-{last}"


def _confidence(tracked: Pulse, bounds: npt.NDArray[np.int64]) -> Curve:
    """Per bar (its pulses from bounds[b] to bounds[b + 1]): how strong their onsets are, lowered where their
    spacing strays from the local period."""
    intervals = np.diff(tracked.times, append=tracked.times[-1] + tracked.periods[-1])
    regular = np.clip(1 - np.abs(intervals / tracked.periods - 1) * 4, 0, 1)
    per_pulse = np.clip(tracked.strength * 2, 0, 1) * regular
    return np.array(
        [per_pulse[low : max(high, low + 1)].mean() if low < len(per_pulse) else 0.0 for low, high in itertools.pairwise(bounds)]
    )


def _warnings(
    tracked: Pulse,
    hints: Hints,
    bpm_range: tuple[float, float],
    pulse_quarters: float,
    bounds: npt.NDArray[np.int64],
    pulses_per_bar: int,
    confidence: Curve,
    phase_confidence: float,
) -> list[str]:
    found = []
    for low, high in _runs(confidence < WEAK_BAR):
        found.append(
            f"{_bars_text(low + 1, high + 1)}: weak or irregular beats (an intro without drums, a rubato passage?): "
            "listen with `render` and the click, or give --bar1"
        )
    odd = []
    for index in range(int(bounds[0]) + 1, len(tracked.times) - 1):
        interval = tracked.times[index + 1] - tracked.times[index]
        neighbours = np.median(np.diff(tracked.times[max(0, index - 4) : index + 6]))
        if abs(interval / neighbours - 1) > ODD_BEAT:
            odd.append(f"{int(np.searchsorted(bounds, index, side='right'))} ({interval / neighbours:.1f}×)")
    if odd:
        listed = ", ".join(odd[:8]) + (f" and {len(odd) - 8} more" if len(odd) > 8 else "")
        found.append(f"a beat much longer or shorter than its neighbours (a fermata, a held chord, a stumble?) in bar {listed}")
    heard_bpm = 60 / tracked.global_period
    for bpm, strength in tracked.alternatives:
        # every pattern repeats at two beats, so a half-tempo reading is only suspect in a fast song, a double one in a slow song
        quarter_bpm = heard_bpm * pulse_quarters
        suspect = (bpm < heard_bpm and quarter_bpm > FAST_PULSE[0]) or (bpm > heard_bpm and quarter_bpm < FAST_PULSE[1] / 2)
        if suspect and strength >= OTHER_OCTAVE and bpm_range[0] <= bpm <= bpm_range[1]:
            found.append(
                f"the pulse could also be heard at {bpm:.0f} BPM ({'double' if bpm > heard_bpm else 'half'} the {heard_bpm:.0f} found): "
                "if so, give --bpm around it"
            )
    if hints.bar1_seconds is None and phase_confidence < 0.15:
        found.append(f"bar lines are unsure (beat 1 could be another of the {pulses_per_bar} beats): check bar 1 by ear or give --bar1")
    return found


def _meter_warnings(fitted: FittedMap, meter: Meter, drifting: list[int]) -> list[str]:
    """Say where the meter changes (heard in the accents), and where the bar lines stop fitting them."""
    found = []
    for index, change in enumerate(fitted.tempo):
        if change.meter != meter:
            following = next((c.bar for c in fitted.tempo[index + 1 :] if c.meter != change.meter), None)
            span = _bars_text(change.bar, following - 1) if following else f"from bar {change.bar}"
            found.append(f"{span}: {change.meter}, heard in the accents (the bass and chords move there): a meter change, check it by ear")
    flags = np.zeros(max(drifting, default=-1) + 1, dtype=np.bool_)
    flags[drifting] = True
    for low, high in _runs(flags):
        found.append(
            f"{_bars_text(low + 1, high + 1)}: the bar lines stop fitting the accents (beat 1 is heard elsewhere): "
            f"meter change near bar {low + 1}? check by ear, give --bar1 or map that passage by hand"
        )
    return found


def _without_tail(tracked: Pulse) -> Pulse:
    """Drop the pulses the tracker carried on into the silence or the ringing after the music: faint ones,
    and then any that come irregularly after the last steady one."""
    strong = np.flatnonzero(tracked.strength >= SILENT_PULSE)
    keep = int(strong[-1]) + 1 if len(strong) else len(tracked.times)
    intervals = np.diff(tracked.times[:keep])
    while keep > 3 and abs(intervals[keep - 2] / intervals[keep - 3] - 1) > TAIL_IRREGULAR:
        keep -= 1
    return replace(tracked, times=tracked.times[:keep], periods=tracked.periods[:keep], strength=tracked.strength[:keep])


def _reach_back(tracked: Pulse, bar1_seconds: float) -> tuple[Pulse, int]:
    """Where no beat was heard near --bar1 (an intro with no attacks to track), the pulses guessed before the
    first strong one after it (a pickup before it too) give way to pulses at the first beats' spacing back to --bar1, with no strength; and
    how many were put there."""
    strong = np.flatnonzero((tracked.strength >= SILENT_PULSE) & (tracked.times >= bar1_seconds - BAR1_REACH_SECONDS))
    start = int(strong[0]) if len(strong) else 0
    tracked = replace(tracked, times=tracked.times[start:], periods=tracked.periods[start:], strength=tracked.strength[start:])
    period = float(np.median(np.diff(tracked.times[:9])))  # the first beats' own spacing
    count = round((float(tracked.times[0]) - bar1_seconds) / period)
    if count <= 0:
        return tracked, 0
    before = tracked.times[0] - period * np.arange(count, 0, -1)
    return (
        replace(
            tracked,
            times=np.concatenate([before, tracked.times]),
            periods=np.concatenate([np.full(count, period), tracked.periods]),
            strength=np.concatenate([np.zeros(count), tracked.strength]),
        ),
        count,
    )


def _heard_meter(onsets: Onsets, times: Curve) -> tuple[Meter, Phase]:
    """4/4 or 3/4, whichever bar length the bass and harmony mark more clearly (4/4 unless 3/4 is clearer by a margin)."""
    four, three = bar_phase(onsets, times, 4), bar_phase(onsets, times, 3)
    if three.confidence > four.confidence + THREE_FOUR_MARGIN:
        return THREE_FOUR, three
    return FOUR_FOUR, four


def analyse(mono: npt.NDArray[np.float32], hints: Hints, progress: Progress | None = None) -> Draft:
    """A draft for a mono recording at ANALYSIS_RATE; raises ValueError if too few beats are heard to map."""
    report = progress or (lambda done, total: None)
    meter = hints.meter or FOUR_FOUR
    pulses_per_bar, beats_per_pulse = pulse_layout(meter)
    report(0, 4)
    onsets = onset_curves(mono, ANALYSIS_RATE)
    report(1, 4)
    if hints.bpm_range is None:
        quarters = float(meter.beat_quarters) * beats_per_pulse  # how long the pulse a listener taps is
        bpm_range, centre = (DEFAULT_PULSE_BPM[0] / quarters, DEFAULT_PULSE_BPM[1] / quarters), DEFAULT_PULSE_BPM[2] / quarters
    else:
        bpm_range, centre = hints.bpm_range, float(np.sqrt(hints.bpm_range[0] * hints.bpm_range[1]))
    tracked = _without_tail(pulse(onsets, bpm_range, centre))
    report(2, 4)
    if len(tracked.times) < 2 * pulses_per_bar + 1:
        raise ValueError(f"only {len(tracked.times)} beats were heard: too few for a tempo map")
    if hints.meter is None:
        meter, phase = _heard_meter(onsets, tracked.times)
        pulses_per_bar = meter.numerator
    else:
        phase = bar_phase(onsets, tracked.times, pulses_per_bar)
    first, phase_confidence = phase.first, phase.confidence
    reached_back = 0
    if hints.bar1_seconds is not None:
        if float(np.min(np.abs(tracked.times - hints.bar1_seconds))) > BAR1_REACH_SECONDS:
            tracked, reached_back = _reach_back(tracked, hints.bar1_seconds)
        first, phase_confidence = int(np.argmin(np.abs(tracked.times - hints.bar1_seconds))), 1.0
    beats = subdivide(tracked.times, beats_per_pulse)
    per_bar = meter.numerator
    first_beat = first * beats_per_pulse
    layout = bar_layout(onsets, subdivide(tracked.times[first:], 2), 2 * per_bar) if meter.denominator == 4 else None
    if layout is not None and set(layout.eighths) != {2 * per_bar}:  # bars of another length: fitted on the eighths
        eighths = subdivide(tracked.times[first:], 2)
        fitted = fit_bars(
            eighths, [(n, meter if n == 2 * per_bar else meter_of(n, layout.groups.get(n))) for n in layout.eighths], Fraction(1, 2)
        )
        starts = np.concatenate([[0], np.cumsum(layout.eighths)]).astype(np.int64)
        downbeats = eighths[starts[starts < len(eighths)]]
        bounds = first + (starts + 1) // 2
    else:
        fitted = fit_tempo_map(beats[first_beat:], per_bar, meter)
        downbeats = beats[first_beat::per_bar]
        bars = -(-len(fitted.map_beats) // per_bar)
        bounds = first + np.arange(bars + 1, dtype=np.int64) * pulses_per_bar
    report(3, 4)
    confidence = _confidence(tracked, bounds)
    drifting = [bar for bar in (layout.drifting if layout else ()) if bar < len(confidence)]
    confidence[drifting] = np.minimum(confidence[drifting], DRIFT_CONFIDENCE)
    pulse_quarters = float(meter.beat_quarters) * beats_per_pulse
    warnings = _warnings(tracked, hints, bpm_range, pulse_quarters, bounds, pulses_per_bar, confidence, phase_confidence)
    warnings += _meter_warnings(fitted, meter, drifting)
    if reached_back:
        warnings.insert(
            0,
            f"no beat was heard before {tracked.times[reached_back]:.2f} s: the first tempo is carried back to --bar1 over {reached_back} beats",
        )
    if hints.meter is None:
        warnings.insert(0, f"meter heard as {meter} (3/4 and 4/4 are told apart): give --meter if it is not, or for 6/8, 7/8 ...")
    if hints.bar1_seconds is not None and abs(tracked.times[first] - hints.bar1_seconds) > BAR1_REACH_SECONDS:
        warnings.insert(0, f"no beat was heard near --bar1 {hints.bar1_seconds}: bar 1 is the nearest one, at {tracked.times[first]:.3f} s")
    report(4, 4)
    return Draft(
        meter,
        fitted.first_downbeat,
        fitted.tempo,
        beats,
        downbeats,
        tuple(float(c) for c in confidence),
        fitted.error,
        tuple(warnings),
    )
