"""What a compiled timeline holds: events on the song's sample-frame axis."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from showcontrol.model.position import BarBeat
from showcontrol.model.show import Action, Lyric, Section
from showcontrol.model.timecode import TimecodeRate
from showcontrol.timeline.tempo import Rate, TempoMap
from showcontrol.timeline.tracks import TrackPlacement


class Kind(StrEnum):
    SYNC = "sync"  # MIDI clock and MTC quarter frames: sent before cues at the same frame
    OSC = "osc"
    MIDI = "midi"
    MQTT = "mqtt"
    BEAT = "beat"  # a pulse of the grid, for monitors; there whether or not a click sounds
    SECTION = "section"
    LYRIC = "lyric"
    BREATH = "breath"
    CLICK = "click"  # audio only: a hit in an earpiece feed
    END = "end"


# At one frame: the clocks, then the cues, then the monitors' position (which carries the section, the
# lyric and the breath count of its beat), then those on topics of their own. A page that drew the lyric's
# own message before the position's showed a line beside the bar before it (seen in tests/test_web.py).
ORDER_AT_SAME_FRAME = {kind: rank for rank, kind in enumerate(Kind)}


@dataclass(frozen=True, slots=True)
class ClickHit:
    """One click: `sound` is accent, beat, sub, count or call; `count` is the number spoken in a count-in,
    `call` the words of a spoken guide call ("verse 2 in 4"), which has no hit of its own."""

    sound: str
    count: int | None = None
    call: str | None = None


@dataclass(frozen=True, slots=True)
class SyncMessage:
    """A MIDI clock tick or an MTC quarter frame: its bytes, and what they mean for traces."""

    stream: str  # "clock" or "mtc"
    data: bytes
    detail: str  # "tick 24 (quarter 1)" or "01:00:00:00 piece 3"


Payload = Action | Lyric | Section | ClickHit | SyncMessage | None


@dataclass(frozen=True, slots=True)
class Event:
    at_frame: int
    position: BarBeat
    kind: Kind
    output: str
    payload: Payload
    cue_name: str = ""
    once: bool = False


@dataclass(frozen=True, slots=True)
class LtcSpec:
    """Timecode for a song: frame k reads count `start_count + k` and starts at song frame k × clock / fps,
    where the clock is `clock_rate` if set (timecode that stays real-time at a rehearsal tempo), else the
    timeline's rate (timecode that follows the song)."""

    rate: TimecodeRate
    start_count: int
    level_db: float
    clock_rate: Rate | None = None


@dataclass(frozen=True)
class Timeline:
    """A song compiled for one sample rate: sorted events, the tempo map they came from, and its extent.

    `start_frame` is where playback from the top begins (before 0 when the count-in precedes the audio);
    `end_frame` is where the song ends.
    """

    song_id: str
    sample_rate: Rate  # timeline frames per song second (the device rate over the playback speed)
    start_frame: int
    end_frame: int
    tempo: TempoMap
    ltc: LtcSpec | None
    events: tuple[Event, ...]
    tracks: tuple[TrackPlacement, ...] = ()  # the recordings, on the song's frame axis (several in a mashup)
    _frames: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_frames", tuple(e.at_frame for e in self.events))

    def between(self, first_frame: int, end_frame: int) -> tuple[Event, ...]:
        """Events with first_frame <= at_frame < end_frame, in order."""
        lo = bisect.bisect_left(self._frames, first_frame)
        hi = bisect.bisect_left(self._frames, end_frame)
        return self.events[lo:hi]

    def of_kind(self, *kinds: Kind) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.kind in kinds)

    @property
    def timecode_rate(self) -> Rate:
        """Timeline frames per second of timecode."""
        return self.ltc.clock_rate if self.ltc is not None and self.ltc.clock_rate is not None else self.sample_rate

    @property
    def length_frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def last_bar(self) -> int:
        """The bar the song ends in."""
        return self.tempo.position_at(Fraction(self.end_frame - 1) / self.sample_rate).bar
