"""Tempo maps: bar.beat.tick <-> seconds <-> sample frames, exactly, once.

Constant-tempo stretches are computed in rationals, so a bar line 40 minutes in lands on the
same frame as bar count times bar length predicts. A ramp moves the tempo linearly in time; its
duration is rational too (2L/(r0+r1)), so only positions *inside* a ramp use floating point (the
closed-form inverse has a square root), and nothing after a ramp inherits any rounding.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

from showcontrol.errors import Problem
from showcontrol.model.position import BarBeat
from showcontrol.model.show import Meter, TempoChange

Instant = Fraction | float
"""Song seconds: exact where the tempo is constant, float inside a ramp."""

Rate = int | Fraction
"""Timeline frames per song second: the device rate, divided by the playback speed (film pull-up and
pull-down, slow-motion playback), so that a timeline frame is always a device frame."""


def frame_at(seconds: Instant, sample_rate: Rate) -> int:
    """The sample frame an instant falls on, rounding half up so ties are deterministic."""
    if isinstance(seconds, Fraction) and isinstance(sample_rate, int):  # the same in integers: a load computes 100,000
        return (2 * seconds.numerator * sample_rate + seconds.denominator) // (2 * seconds.denominator)
    if isinstance(seconds, Fraction):
        return math.floor(seconds * sample_rate + Fraction(1, 2))
    return math.floor(seconds * sample_rate + 0.5)


@dataclass(frozen=True, slots=True)
class _Segment:
    """A stretch of bars with one meter whose tempo is constant or ramps linearly in time."""

    start_bar: int
    meter: Meter
    start_seconds: Fraction
    start_qps: Fraction  # quarter notes per second at the start
    end_qps: Fraction
    quarters: Fraction | None  # length; None for the open-ended last segment

    @property
    def is_ramp(self) -> bool:
        return self.start_qps != self.end_qps

    @property
    def duration(self) -> Fraction:
        assert self.quarters is not None
        return 2 * self.quarters / (self.start_qps + self.end_qps)

    def seconds_after_start(self, quarters: Fraction) -> Instant:
        if not self.is_ramp:
            return quarters / self.start_qps
        if quarters == 0:
            return Fraction(0)
        if self.quarters is not None and quarters == self.quarters:
            return self.duration
        r0 = float(self.start_qps)
        accel = float((self.end_qps - self.start_qps) / self.duration)
        q = float(quarters)
        return 2 * q / (r0 + math.sqrt(r0 * r0 + 2 * accel * q))

    def quarters_after_start(self, seconds: Instant) -> Instant:
        if not self.is_ramp:
            return seconds * self.start_qps
        accel = float((self.end_qps - self.start_qps) / self.duration)
        t = float(seconds)
        return float(self.start_qps) * t + accel * t * t / 2

    def qps_at(self, quarters: Fraction) -> Fraction:
        if not self.is_ramp or self.quarters is None:
            return self.start_qps
        # tempo is linear in time, so r(q) = sqrt(r0^2 + 2 a q); report it at bar starts only (exact enough)
        accel = (self.end_qps - self.start_qps) / self.duration
        return Fraction(math.sqrt(float(self.start_qps**2 + 2 * accel * quarters)))


def tempo_problems(changes: Sequence[TempoChange]) -> list[Problem]:
    """Structural problems of a tempo map as a whole (single entries are checked by the loader)."""
    problems: list[Problem] = []
    if not changes:
        return problems
    first = changes[0]
    if first.bar != 1:
        problems.append(Problem(first.mark, f"the tempo map starts at bar {first.bar}", "its first entry must be bar: 1"))
    if first.ramp_bars:
        problems.append(
            Problem(first.mark, "the first tempo entry cannot ramp", "there is no earlier tempo to ramp from; remove ramp_bars")
        )
    for before, after in itertools.pairwise(changes):
        if after.bar <= before.bar:
            problems.append(
                Problem(
                    after.mark,
                    f"tempo entry for bar {after.bar} comes after bar {before.bar}",
                    "list tempo entries in bar order, one per bar",
                )
            )
        elif before.ramp_bars and after.bar < before.bar + before.ramp_bars:
            problems.append(
                Problem(
                    after.mark,
                    f"bar {after.bar} changes tempo inside the ramp of bar {before.bar} (it runs to bar {before.bar + before.ramp_bars})",
                    "shorten ramp_bars or move this entry after the ramp",
                )
            )
    return problems


class TempoMap:
    """Converts musical positions to song seconds and frames and back. Immutable.

    Song seconds count from the start of the audio file; bar 1 beat 1 is at `first_downbeat`.
    Bars before 1 (pickups, count-ins) extend the first tempo backwards.
    """

    def __init__(self, changes: Sequence[TempoChange], first_downbeat: Fraction, ticks_per_beat: int) -> None:
        problems = tempo_problems(changes)
        if problems or not changes:
            raise ValueError("; ".join(str(p) for p in problems) or "empty tempo map")
        self.ticks_per_beat = ticks_per_beat
        self.first_downbeat = first_downbeat
        self._segments = self._build(changes, first_downbeat)
        self._start_bars = [s.start_bar for s in self._segments]
        self._start_seconds = [float(s.start_seconds) for s in self._segments]
        self._start_quarters = list(itertools.accumulate((s.quarters or Fraction(0) for s in self._segments[:-1]), initial=Fraction(0)))

    @staticmethod
    def _build(changes: Sequence[TempoChange], origin: Fraction) -> tuple[_Segment, ...]:
        segments: list[_Segment] = []
        seconds = origin
        previous_qps = changes[0].quarter_bpm / 60
        for index, change in enumerate(changes):
            next_bar = changes[index + 1].bar if index + 1 < len(changes) else None
            qps = change.quarter_bpm / 60
            bar = change.bar
            if change.ramp_bars:
                ramp = _Segment(bar, change.meter, seconds, previous_qps, qps, change.ramp_bars * change.meter.bar_quarters)
                segments.append(ramp)
                seconds += ramp.duration
                bar += change.ramp_bars
            if next_bar is None or bar < next_bar:
                quarters = None if next_bar is None else (next_bar - bar) * change.meter.bar_quarters
                segments.append(_Segment(bar, change.meter, seconds, qps, qps, quarters))
                if quarters is not None:
                    seconds += quarters / qps
            previous_qps = qps
        return tuple(segments)

    def _segment_for_bar(self, bar: int) -> _Segment:
        return self._segments[max(0, bisect.bisect_right(self._start_bars, bar) - 1)]

    def meter_at(self, bar: int) -> Meter:
        return self._segment_for_bar(bar).meter

    def quarter_bpm_at(self, bar: int) -> Fraction:
        """The tempo at the start of a bar, in quarter notes per minute."""
        segment = self._segment_for_bar(bar)
        return segment.qps_at((bar - segment.start_bar) * segment.meter.bar_quarters) * 60

    def check(self, position: BarBeat) -> str | None:
        """Why a bar.beat.tick does not exist in this map (beat 5 of a 4/4 bar), or None."""
        meter = self.meter_at(position.bar)
        if not 1 <= position.beat <= meter.numerator:
            return f"bar {position.bar} is in {meter}, so it has beats 1 to {meter.numerator}, not {position.beat}"
        if not 0 <= position.tick < self.ticks_per_beat:
            return f"tick {position.tick} is out of range: a beat has ticks 0 to {self.ticks_per_beat - 1}"
        return None

    def seconds(self, position: BarBeat) -> Instant:
        """Song seconds of a valid position (see `check`)."""
        segment = self._segment_for_bar(position.bar)
        meter = segment.meter
        ticks = ((position.bar - segment.start_bar) * meter.numerator + position.beat - 1) * self.ticks_per_beat + position.tick
        quarters = Fraction(ticks * 4, self.ticks_per_beat * meter.denominator)  # one rational, not six (a show has 100,000 cues)
        return segment.start_seconds + segment.seconds_after_start(quarters)

    def seconds_at_quarters(self, quarters: Fraction) -> Instant:
        """Song seconds `quarters` quarter notes after bar 1 beat 1, whatever the meters (MIDI clock counts these)."""
        index = max(0, bisect.bisect_right(self._start_quarters, quarters) - 1)
        segment = self._segments[index]
        return segment.start_seconds + segment.seconds_after_start(quarters - self._start_quarters[index])

    def quarters_before(self, bar: int) -> Fraction:
        """Quarter notes from bar 1 beat 1 to the start of `bar` (for MIDI song position)."""
        segment = self._segment_for_bar(bar)
        index = self._segments.index(segment)
        return self._start_quarters[index] + (bar - segment.start_bar) * segment.meter.bar_quarters

    def frame(self, position: BarBeat, sample_rate: Rate) -> int:
        return frame_at(self.seconds(position), sample_rate)

    def position_at(self, seconds: Instant) -> BarBeat:
        """The bar.beat.tick sounding at an instant (floored to the tick), for display."""
        index = max(0, bisect.bisect_right(self._start_seconds, float(seconds)) - 1)
        segment = self._segments[index]
        quarters = segment.quarters_after_start(seconds - segment.start_seconds)
        meter = segment.meter
        ticks_total = math.floor(Fraction(quarters) / meter.beat_quarters * self.ticks_per_beat + Fraction(1, 10**6))
        beats_total, tick = divmod(ticks_total, self.ticks_per_beat)
        bars, beat = divmod(beats_total, meter.numerator)
        return BarBeat(segment.start_bar + bars, beat + 1, tick)

    def bar_starts(self, first_bar: int) -> Iterator[tuple[int, Meter]]:
        """Bars from `first_bar` on, with their meters, forever; callers stop at the song's end."""
        bar = first_bar
        while True:
            yield bar, self.meter_at(bar)
            bar += 1
