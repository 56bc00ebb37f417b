"""What `showcontrol plot` draws, as plain values read from a compiled song: the grid, sections, lyrics,
breaths and each output's cues, in song seconds, for a range of bars. Pure: the drawing is in `plot.py`."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from showcontrol.describe import message_text
from showcontrol.model.position import BarBeat
from showcontrol.model.show import Lyric, Section
from showcontrol.timeline.events import Kind, Timeline

CUE_KINDS = (Kind.OSC, Kind.MIDI, Kind.MQTT)


@dataclass(frozen=True)
class Mark:
    seconds: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    start: float  # the view, song seconds
    end: float
    bar_lines: tuple[tuple[float, int], ...]  # (seconds, bar number)
    beats: tuple[float, ...]  # the other beats
    sections: tuple[tuple[float, float, str, int], ...]  # (start, end, name, its index in the song: its colour)
    lyrics: tuple[Mark, ...]
    breaths: tuple[Mark, ...]
    lanes: tuple[tuple[str, tuple[Mark, ...]], ...]  # output, its cues


def bar_range(text: str, last_bar: int) -> tuple[int, int]:
    """--bars 9-16 (or 9): first and last bar shown; raises ValueError."""
    first, dash, last = text.partition("-")
    if not first.strip().isdigit() or (dash and not last.strip().isdigit()):
        raise ValueError(f"--bars {text}: give bars like 9-16")
    low, high = int(first), int(last) if dash else int(first)
    if not 1 <= low <= high <= last_bar:
        raise ValueError(f"--bars {text}: the song has bars 1-{last_bar}")
    return low, high


def song_chart(timeline: Timeline, title: str, bars: tuple[int, int] | None = None) -> Chart:
    """The chart of a compiled song, the whole of it (from the file's start) or bars `first` to `last`."""
    rate = timeline.sample_rate

    def seconds(frame: int) -> float:
        return float(Fraction(frame) / rate)

    end_frame = timeline.end_frame
    if bars is None:
        start, end = min(0.0, seconds(timeline.start_frame)), seconds(end_frame)
    else:
        start = float(timeline.tempo.seconds(BarBeat(bars[0])))
        end = min(float(timeline.tempo.seconds(BarBeat(bars[1] + 1))), seconds(end_frame))

    inside = [e for e in timeline.events if start - 1e-9 <= seconds(e.at_frame) <= end + 1e-9]
    beats = [e for e in inside if e.kind is Kind.BEAT]
    section_events = [e for e in timeline.events if e.kind is Kind.SECTION]
    sections = []
    for index, event in enumerate(section_events):
        assert isinstance(event.payload, Section)
        until = seconds(section_events[index + 1].at_frame) if index + 1 < len(section_events) else seconds(end_frame)
        if until > start and seconds(event.at_frame) < end:
            sections.append((max(start, seconds(event.at_frame)), min(end, until), event.payload.name, index))
    lanes: dict[str, list[Mark]] = {}
    for event in inside:
        if event.kind in CUE_KINDS:
            lanes.setdefault(event.output, []).append(Mark(seconds(event.at_frame), event.cue_name or message_text(event)))
    return Chart(
        title,
        start,
        end,
        tuple((seconds(e.at_frame), e.position.bar) for e in beats if e.position.beat == 1),
        tuple(seconds(e.at_frame) for e in beats if e.position.beat != 1),
        tuple(sections),
        tuple(Mark(seconds(e.at_frame), _lyric_text(e.payload)) for e in inside if e.kind is Kind.LYRIC),
        tuple(Mark(seconds(e.at_frame), "") for e in inside if e.kind is Kind.BREATH),
        tuple((name, tuple(marks)) for name, marks in sorted(lanes.items())),
    )


def _lyric_text(payload: object) -> str:
    assert isinstance(payload, Lyric)
    return f"{payload.performer}: {payload.text}" if payload.performer else payload.text
