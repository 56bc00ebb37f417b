"""Where every click, count-in hit and spoken guide call of an earpiece feed falls: pure tempo-map maths.

A song has its own click (feed "click") and may give performers feeds of their own ("click:ava"),
each with its accents, subdivisions, count-in and calls; all of them are events on the one timeline,
so a render or a trace shows exactly what each performer hears.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from fractions import Fraction

from showcontrol.model.position import BarBeat
from showcontrol.model.show import ClickSettings, CountIn, GuideCalls, Section
from showcontrol.timeline.events import ClickHit, Event, Kind
from showcontrol.timeline.tempo import Rate, TempoMap, frame_at


def click_events(tempo: TempoMap, click: ClickSettings, sample_rate: Rate, end_frame: int, feed: str) -> Iterator[Event]:
    """The click from bar 1 to the end: accents on `click.accents`, pulses on group starts, softer subs elsewhere."""
    step = Fraction(tempo.ticks_per_beat, click.subdivide)
    for bar, meter in tempo.bar_starts(1):
        if tempo.frame(BarBeat(bar), sample_rate) >= end_frame:
            return
        pulses = meter.pulse_beats
        for beat in range(1, meter.numerator + 1):
            for part in range(click.subdivide):
                tick = int(part * step)
                position = BarBeat(bar, beat, tick)
                frame = tempo.frame(position, sample_rate)
                if frame >= end_frame:
                    return
                sound = "sub" if part else "accent" if beat in click.accents else "beat" if beat in pulses else "sub"
                yield Event(frame, position, Kind.CLICK, feed, ClickHit(sound))


def beat_events(tempo: TempoMap, sample_rate: Rate, end_frame: int) -> Iterator[Event]:
    """Every pulse of the grid from bar 1 to the end, accent on the downbeat: what monitors count and flash,
    whatever the clicks (or none) performers hear."""
    for event in click_events(tempo, ClickSettings(), sample_rate, end_frame, ""):
        if isinstance(event.payload, ClickHit) and event.payload.sound != "sub":
            yield replace(event, kind=Kind.BEAT)


def count_in_events(tempo: TempoMap, start_at: BarBeat, count_in: CountIn, sample_rate: Rate, feed: str) -> list[Event]:
    """`count_in.bars` bars ending exactly at `start_at` (a downbeat, or another beat of the bar), in its bar's
    meter and tempo, counting their pulses aloud."""
    if count_in.bars <= 0:
        return []
    start_bar = start_at.bar
    meter = tempo.meter_at(start_bar)
    seconds_per_quarter = 60 / tempo.quarter_bpm_at(start_bar)
    start = tempo.seconds(start_at)
    events = []
    pulses = sorted(meter.pulse_beats)
    for bar_index in range(count_in.bars):
        bar_start = start - (count_in.bars - bar_index) * meter.bar_quarters * seconds_per_quarter
        for count, beat in enumerate(pulses, start=1):
            at = bar_start + (beat - 1) * meter.beat_quarters * seconds_per_quarter
            hit = ClickHit("count", count if count_in.voice else None)
            events.append(Event(frame_at(at, sample_rate), BarBeat(start_bar - count_in.bars + bar_index, beat), Kind.CLICK, feed, hit))
    return events


def call_events(tempo: TempoMap, sections: Sequence[Section], calls: GuideCalls, sample_rate: Rate, feed: str) -> Iterator[Event]:
    """A spoken call before each section after the first bar ("verse two in four"), `calls.beats` beats
    before it, or the length of the bar before (so "in four" in 4/4 means the next downbeat)."""
    for section in sections:
        if section.bar <= 1:
            continue  # the count-in announces the top
        lead = calls.beats or tempo.meter_at(section.bar - 1).numerator
        position = beats_before(tempo, section.bar, lead)
        if position.bar < 1:
            continue
        words = calls.words.get(section.name) or spoken_name(section.name)
        yield Event(tempo.frame(position, sample_rate), position, Kind.CLICK, feed, ClickHit("call", call=f"{words} in {lead}"))


def beats_before(tempo: TempoMap, bar: int, beats: int) -> BarBeat:
    """The counted beat `beats` beats before the downbeat of `bar`, through meter changes."""
    while True:
        bar -= 1
        numerator = tempo.meter_at(bar).numerator
        if beats <= numerator:
            return BarBeat(bar, numerator - beats + 1)
        beats -= numerator


def spoken_name(section: str) -> str:
    """How a section's name is said: `verse2` is "verse 2", `pre-chorus_b` is "pre chorus b"."""
    return re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", section.replace("-", " ").replace("_", " "))
