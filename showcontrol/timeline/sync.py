"""Sync streams on the song's frame line: MIDI beat clock (24 per quarter, following ramps and meter
changes) and MTC quarter frames (4 per timecode frame, on the same frames as the song's LTC).

Both are ordinary events, placed exactly like cues, so the dispatcher sends them against the audio
clock and a render trace shows them where they fall. `sync_point` says what a receiver needs when the
transport starts somewhere: the song position (sixteenths since bar 1) and the timecode label there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction

from showcontrol.codec.midi_sync import CLOCK, CLOCKS_PER_QUARTER, SIXTEENTHS_PER_QUARTER
from showcontrol.codec.mtc import quarter_frame, rate_code
from showcontrol.model.timecode import Label, count_to_label
from showcontrol.timeline.events import ORDER_AT_SAME_FRAME, Event, Kind, SyncMessage, Timeline
from showcontrol.timeline.tempo import frame_at


@dataclass(frozen=True, slots=True)
class SyncStreams:
    """Which streams one MIDI output carries."""

    clock: bool = False
    mtc: bool = False


@dataclass(frozen=True, slots=True)
class SyncPoint:
    """Where a locate lands, for Song Position Pointer and the MTC full-frame message."""

    sixteenths: int  # from bar 1 beat 1; clamped at 0
    timecode: Label | None
    mtc_rate_code: int


def clock_events(timeline: Timeline, output: str) -> Iterator[Event]:
    """A clock tick every 1/24 quarter note from bar 1 beat 1 to the end of the song."""
    tempo, rate = timeline.tempo, timeline.sample_rate
    for tick in range(10**9):
        seconds = tempo.seconds_at_quarters(Fraction(tick, CLOCKS_PER_QUARTER))
        frame = frame_at(seconds, rate)
        if frame >= timeline.end_frame:
            return
        detail = f"tick {tick}" + (f" (quarter {tick // CLOCKS_PER_QUARTER})" if tick % CLOCKS_PER_QUARTER == 0 else "")
        yield Event(frame, tempo.position_at(seconds), Kind.SYNC, output, SyncMessage("clock", CLOCK, detail))


def mtc_events(timeline: Timeline, output: str) -> Iterator[Event]:
    """Quarter frames at j/(4 fps) seconds of timecode, sequence m carrying the label of LTC frame 2m."""
    ltc = timeline.ltc
    if ltc is None:
        return
    tempo, rate, code = timeline.tempo, timeline.timecode_rate, rate_code(ltc.rate)
    to_song_seconds = Fraction(rate) / Fraction(timeline.sample_rate)  # 1 unless timecode stays real-time at another tempo
    for index in range(10**9):
        seconds = Fraction(index, 4) / ltc.rate.fps
        frame = frame_at(seconds, rate)
        if frame >= timeline.end_frame:
            return
        piece = index % 8
        label = count_to_label(ltc.start_count + index // 8 * 2, ltc.rate)
        message = SyncMessage("mtc", quarter_frame(piece, label, code), f"{label.format(ltc.rate.drop)} piece {piece}")
        yield Event(frame, tempo.position_at(seconds * to_song_seconds), Kind.SYNC, output, message)


def with_sync(timeline: Timeline, streams: Mapping[str, SyncStreams]) -> Timeline:
    """The timeline with each output's sync streams merged in, in send order."""
    extra: list[Event] = []
    for output, wanted in streams.items():
        if wanted.clock:
            extra.extend(clock_events(timeline, output))
        if wanted.mtc:
            extra.extend(mtc_events(timeline, output))
    if not extra:
        return timeline
    events = sorted((*timeline.events, *extra), key=lambda e: (e.at_frame, ORDER_AT_SAME_FRAME[e.kind]))
    return replace(timeline, events=tuple(events))


def sync_point(timeline: Timeline, song_frame: int) -> SyncPoint:
    """Song position and timecode at `song_frame` (a locate target), rounded down to what can be sent."""
    tempo, rate = timeline.tempo, timeline.sample_rate
    position = tempo.position_at(Fraction(2 * song_frame + 1, 2 * rate))  # the frame's end: a beat rounded to it still counts
    quarters = tempo.quarters_before(position.bar) + (position.beat - 1) * tempo.meter_at(position.bar).beat_quarters
    sixteenths = max(0, math.floor(quarters * SIXTEENTHS_PER_QUARTER))
    ltc = timeline.ltc
    if ltc is None:
        return SyncPoint(sixteenths, None, 0)
    count = ltc.start_count + max(0, math.floor(Fraction(song_frame) / Fraction(timeline.timecode_rate) * ltc.rate.fps))
    return SyncPoint(sixteenths, count_to_label(count, ltc.rate), rate_code(ltc.rate))
