"""Where a take starts, as an operator types it (`--from`, a remote locate): a bar, a beat, a section's bar, or a
time; resolved on one song's timeline to the counted beat that playback (and the count-in's end) lands on.

A time starts on the beat at or before it, so the count-in leads into a beat and the click carries on in
time; a time before bar 1 is the top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from showcontrol.model.position import BarBeat, Position, Seconds, SectionOffset, parse_position
from showcontrol.model.show import Section
from showcontrol.timeline.events import Timeline

TOP = BarBeat(1)
START_FORMS = "give a bar (13), bar.beat (13.3), a section (chorus1) or its bar (chorus1:2), or a song time (1:30, 1:30.5)"


def resolve_start(text: str, timeline: Timeline, sections: Sequence[Section]) -> BarBeat:
    """The counted beat (tick 0) that `text` means on `timeline`; ValueError saying what exists where it is not."""
    try:
        position = parse_position(text)
    except ValueError:
        raise ValueError(START_FORMS) from None
    start = _beat(position, timeline, sections)
    if start > TOP and timeline.tempo.frame(start, timeline.sample_rate) >= timeline.end_frame:
        raise ValueError(f"{timeline.song_id} ends at {timeline.tempo.position_at(_end_seconds(timeline))}: start before it")
    return start


def start_text(at: BarBeat) -> str:
    """How a start reads in logs and replies: `the top`, `bar 13`, `bar 13 beat 3`."""
    if at == TOP:
        return "the top"
    return f"bar {at.bar}" if at.beat == 1 else f"bar {at.bar} beat {at.beat}"


def _beat(position: Position, timeline: Timeline, sections: Sequence[Section]) -> BarBeat:
    if isinstance(position, Seconds):
        return _beat_at_or_before(position.seconds, timeline)
    if isinstance(position, SectionOffset):
        position = _in_section(position, timeline, sections)
    if position.tick:
        raise ValueError(f"a start is on a beat: write {position.bar}.{position.beat}, without the tick")
    if not 1 <= position.bar <= timeline.last_bar:
        raise ValueError(f"{timeline.song_id} has bars 1-{timeline.last_bar}")
    meter = timeline.tempo.meter_at(position.bar)
    if not 1 <= position.beat <= meter.numerator:
        raise ValueError(f"bar {position.bar} has {meter.numerator} beats ({meter})")
    return position


def _in_section(position: SectionOffset, timeline: Timeline, sections: Sequence[Section]) -> BarBeat:
    starts = sorted((s.bar, s.name) for s in sections)
    names = [name for _, name in starts]
    if position.section not in names:
        raise ValueError(f"no section {position.section[:40]!r} in {timeline.song_id}; sections: {', '.join(names) or 'none'}")
    index = names.index(position.section)
    first = starts[index][0]
    bars = (starts[index + 1][0] if index + 1 < len(starts) else timeline.last_bar + 1) - first
    if not 1 <= position.bar <= bars:
        raise ValueError(f"{position.section} has {bars} bar{'s' if bars != 1 else ''}")
    return BarBeat(first + position.bar - 1, position.beat, position.tick)


def _beat_at_or_before(seconds: Fraction, timeline: Timeline) -> BarBeat:
    if seconds >= _end_seconds(timeline):
        raise ValueError(f"{timeline.song_id} is {_clock(_end_seconds(timeline))} long")
    at = timeline.tempo.position_at(seconds)
    beat = BarBeat(at.bar, at.beat)
    return beat if beat > TOP else TOP


def _end_seconds(timeline: Timeline) -> Fraction:
    return Fraction(timeline.end_frame) / timeline.sample_rate


def _clock(seconds: Fraction) -> str:
    """m:ss, rounded down, as an operator reads a song's length."""
    whole = math.floor(seconds)
    return f"{whole // 60}:{whole % 60:02d}"
