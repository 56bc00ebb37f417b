"""Bars of another length inside a song (a 7/8 bridge in a 4/4 song, a 2/4 bar before a chorus), found on the
eighth-note grid, and the bars whose bar lines stop fitting the accents.

The downbeat evidence of `downbeats.pulse_features` (bass onset and harmonic change) is measured at every
eighth; a dynamic programme then lays bars of 2 to 5 quarters end to end from bar 1 so their bar lines collect
the most evidence, paying for every bar not in the song's meter and for every change of bar length. A change
is only made where the accents say so over several bars: a stray accent costs more than it gains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from showcontrol.analysis.downbeats import pulse_features
from showcontrol.analysis.onsets import Curve, Onsets
from showcontrol.model.show import Meter, default_groups

BAR_EIGHTHS = (4, 5, 6, 7, 8, 10)  # 2/4, 5/8, 3/4, 7/8, 4/4, 5/4
SWITCH_COST = 3.0  # in z-scored evidence: a change of bar length must win this much back
OTHER_COST = 0.5  # per bar of a length other than the song's meter
EVIDENCE_CAP = 3.0
DRIFT_WINDOW_BARS = 4
DRIFT_MARGIN = 0.75  # the bar lines shifted by some eighths collect this much more evidence per bar: they stopped fitting


@dataclass(frozen=True)
class BarLayout:
    """Each bar's length in eighths from bar 1, and the bars (0-based) whose bar lines do not fit the accents."""

    eighths: tuple[int, ...]
    drifting: tuple[int, ...]
    groups: dict[int, tuple[int, ...]]  # for each odd length laid: its beat groups (7/8 as 2+2+3), as accented


def groupings(eighths: int) -> list[tuple[int, ...]]:
    """The ways to group an odd bar in twos and one three: 2+2+3, 2+3+2, 3+2+2 for 7/8."""
    twos = (eighths - 3) // 2
    return [(2,) * at + (3,) + (2,) * (twos - at) for at in range(twos, -1, -1)]


def accented_groups(onsets: Onsets, eighths: Curve, laid: tuple[int, ...], length: int) -> tuple[int, ...]:
    """Of the groupings of the bars `length` eighths long, the one whose group starts carry the strongest onsets."""
    frames = np.clip(np.round(onsets.frame_rate * eighths).astype(np.int64), 2, len(onsets.flux) - 3)
    strength = np.array([onsets.flux[f - 2 : f + 3].max() for f in frames])
    starts = np.concatenate([[0], np.cumsum(laid)])[:-1]
    bars = [int(start) for start, n in zip(starts, laid, strict=True) if n == length and start + length <= len(strength)]

    def score(groups: tuple[int, ...]) -> float:
        inner = np.cumsum(groups)[:-1]
        return float(np.mean([strength[bar + inner].mean() for bar in bars])) if bars else 0.0

    return max(groupings(length), key=score)


def meter_of(eighths: int, groups: tuple[int, ...] | None = None) -> Meter:
    """The time signature of a bar this many eighths long: quarters where it is even, eighths where odd."""
    if eighths % 2 == 0:
        return Meter(eighths // 2, 4, default_groups(eighths // 2, 4))
    return Meter(eighths, 8, groups or default_groups(eighths, 8))


def eighth_evidence(onsets: Onsets, eighths: Curve, main: int) -> Curve:
    """Bass onset plus harmonic change at each eighth, capped so one outburst (the music stopping) decides nothing alone."""
    bass, change = pulse_features(onsets, eighths, main)
    return np.clip(bass + change, -EVIDENCE_CAP, EVIDENCE_CAP)


def lay_bars(evidence: Curve, main: int) -> tuple[int, ...]:
    """Bar lengths (eighths) from evidence[0] (bar 1) to the end, the best-scoring way."""
    count = len(evidence)
    lengths = BAR_EIGHTHS if main in BAR_EIGHTHS else (main,)
    kinds = len(lengths)
    score = np.full((count, kinds), -np.inf)  # a bar starts here, the bar before it was lengths[k] long
    back = np.full((count, kinds), -1, dtype=np.int64)
    home = lengths.index(main)
    score[0, home] = evidence[0]
    for start in range(1, count):
        for k, length in enumerate(lengths):
            before = start - length
            if before < 0:
                continue
            cost = 0.0 if length == main else OTHER_COST
            options = score[before] - cost - np.where(np.arange(kinds) == k, 0.0, SWITCH_COST)
            best = int(np.argmax(options))
            score[start, k] = evidence[start] + options[best]
            back[start, k] = best
    tail = max(0, count - main)  # the last bar line: one within the last bar's length of the end
    ending = score[tail:] - np.where(np.arange(kinds) == home, 0.0, SWITCH_COST)  # the last bar, in the song's meter, is one more change
    last, kind = np.unravel_index(int(np.argmax(ending)), ending.shape)
    start, k = int(last) + tail, int(kind)
    bars = [main]  # the last bar, heard in part, as the song's own length
    while start > 0:
        bars.append(lengths[k])
        start, k = start - lengths[k], int(back[start, k])
    return tuple(bars[::-1])


def drifting_bars(evidence: Curve, eighths: tuple[int, ...]) -> tuple[int, ...]:
    """Bars whose bar lines collect clearly less evidence than the same lines moved by a few eighths, over a few bars."""
    starts = np.concatenate([[0], np.cumsum(eighths)])[:-1]
    found: set[int] = set()
    for bar in range(len(starts)):
        lines = starts[bar : bar + DRIFT_WINDOW_BARS]
        lines = lines[lines < len(evidence)]
        if len(lines) < 2:
            break
        here = float(np.mean(evidence[lines]))
        shifted = [
            float(np.mean(evidence[np.clip(lines + s, 0, len(evidence) - 1)]))
            for s in range(1, min(eighths[bar : bar + DRIFT_WINDOW_BARS]))
        ]
        if shifted and max(shifted) > here + DRIFT_MARGIN:
            found.update(range(bar, bar + len(lines)))
    return tuple(sorted(found))


def bar_layout(onsets: Onsets, eighths: Curve, main: int) -> BarLayout:
    """Bars laid on an eighth-note grid (times from bar 1), in a song whose meter is `main` eighths a bar."""
    evidence = eighth_evidence(onsets, eighths, main)
    laid = lay_bars(evidence, main)
    groups = {n: accented_groups(onsets, eighths, laid, n) for n in set(laid) if n % 2}
    return BarLayout(laid, drifting_bars(evidence, laid), groups)
