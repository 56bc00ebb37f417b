"""The show as frozen values: songs, tempo maps, sections, lyrics, cues and their actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from showcontrol.errors import SourceMark
from showcontrol.model.patch import MAIN_CLICK, Patch
from showcontrol.model.position import BarBeat, Position, SectionOffset
from showcontrol.model.rights import Rights
from showcontrol.model.setlist import Setlist
from showcontrol.model.timecode import Label, TimecodeRate

NO_MARK = SourceMark("<none>", 0, 0)
BAR_ONE = BarBeat(1)


@dataclass(frozen=True, slots=True)
class Meter:
    """A time signature; `groups` says how the counted beats group into pulses (7/8 as 2+2+3)."""

    numerator: int
    denominator: int
    groups: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @property
    def beat_quarters(self) -> Fraction:
        """Length of one counted beat in quarter notes (an eighth is 1/2)."""
        return Fraction(4, self.denominator)

    @property
    def bar_quarters(self) -> Fraction:
        return self.numerator * self.beat_quarters

    @property
    def pulse_beats(self) -> frozenset[int]:
        """The 1-based beats that start a group: where the click's main pulses fall."""
        starts, beat = [], 1
        for size in self.groups:
            starts.append(beat)
            beat += size
        return frozenset(starts)


def default_groups(numerator: int, denominator: int) -> tuple[int, ...]:
    """Compound meters (6/8, 9/8, 12/8) pulse in threes; everything else on every beat."""
    if denominator >= 8 and numerator % 3 == 0 and numerator > 3:
        return (3,) * (numerator // 3)
    return (1,) * numerator


@dataclass(frozen=True, slots=True)
class TempoChange:
    """From `bar` on: tempo in quarter notes per minute, and meter.

    With `ramp_bars`, the tempo moves linearly in time from the previous tempo to this one
    over that many bars, then stays.
    """

    bar: int
    quarter_bpm: Fraction
    meter: Meter
    ramp_bars: int = 0
    mark: SourceMark = field(default=NO_MARK, compare=False)


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    bar: int
    mark: SourceMark = field(default=NO_MARK, compare=False)


@dataclass(frozen=True, slots=True)
class CountIn:
    """Pre-roll bars clicked (and optionally counted aloud) before the start bar."""

    bars: int = 0
    voice: bool = False


@dataclass(frozen=True, slots=True)
class GuideCalls:
    """Spoken calls before each section ("verse two in four"): `beats` before it (None: the length of the
    bar before), saying `words[section]` or the section's name."""

    beats: int | None = None
    words: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClickSettings:
    """How an earpiece click sounds: on/off, level, subdivisions per counted beat, which beats are
    accented (1-based), and optional spoken guide calls."""

    enabled: bool = True
    level_db: float = -6.0
    subdivide: int = 1
    accents: tuple[int, ...] = (1,)
    calls: GuideCalls | None = None


@dataclass(frozen=True, slots=True)
class ClickFeed:
    """One performer's earpiece feed: its own click, count-in and calls, on the channel the patch gives
    `routes.clicks.NAME`. Everything it does not set comes from the song's click and count-in."""

    name: str
    click: ClickSettings
    count_in: CountIn
    mark: SourceMark = field(default=NO_MARK, compare=False)

    @property
    def feed(self) -> str:
        return f"{MAIN_CLICK}:{self.name}"


@dataclass(frozen=True, slots=True)
class TimecodeSettings:
    """LTC (and later MTC) for this song: its rate and the timecode at the start of the audio file."""

    rate: TimecodeRate
    start: Label
    level_db: float = -12.0
    mark: SourceMark = field(default=NO_MARK, compare=False)


@dataclass(frozen=True, slots=True)
class Lyric:
    at: Position
    text: str
    breath: Position | None = None
    performer: str | None = None
    mark: SourceMark = field(default=NO_MARK, compare=False)


@dataclass(frozen=True, slots=True)
class OscAction:
    output: str
    address: str
    args: tuple[int | float | str | bool, ...] = ()
    mark: SourceMark = field(default=NO_MARK, compare=False)


MIDI_KINDS = ("note_on", "note_off", "control_change", "program_change", "sysex")


@dataclass(frozen=True, slots=True)
class MidiAction:
    """One message; `data` is (note, velocity), (controller, value), (program,), or a whole SysEx F0 ... F7 (MSC)."""

    output: str
    kind: str
    channel: int
    data: tuple[int, ...]
    mark: SourceMark = field(default=NO_MARK, compare=False)


@dataclass(frozen=True, slots=True)
class MqttAction:
    output: str
    topic: str
    payload: str
    qos: int = 0
    retain: bool = False
    mark: SourceMark = field(default=NO_MARK, compare=False)


Action = OscAction | MidiAction | MqttAction


@dataclass(frozen=True, slots=True)
class Cue:
    """Actions fired together at one position; `once` cues (pyro, confetti) never re-fire on a locate or loop."""

    at: Position
    actions: tuple[Action, ...]
    name: str = ""
    once: bool = False
    mark: SourceMark = field(default=NO_MARK, compare=False)


@dataclass(frozen=True, slots=True)
class Track:
    """One recording of a song, laid on the song's tempo grid (a mashup has several).

    The downbeat `first_downbeat` seconds into the file sounds on the song's bar `at`. A recording
    made at another tempo (`native_bpm`, in quarter notes) is time-stretched to the grid's tempo at
    `at`, its pitch kept. `enter` and `leave` bring it in and take it out, each with an equal-power
    crossfade `fade_s` long centred on that position (0: a hard cut on the frame).
    """

    audio: Path
    first_downbeat: Fraction = Fraction(0)
    at: BarBeat | SectionOffset = BAR_ONE
    native_bpm: Fraction | None = None
    gain_db: float = 0.0
    enter: Position | None = None
    leave: Position | None = None
    fade_s: Fraction = Fraction(0)
    mark: SourceMark = field(default=NO_MARK, compare=False)
    rights: Rights | None = None  # a mashup's source recording, for the cue sheet


@dataclass(frozen=True, slots=True)
class Song:
    """`first_downbeat` is where bar 1 sounds on the song's time axis for a song without tracks;
    with tracks it is worked out from them (`timeline.tracks.song_first_downbeat`)."""

    id: str
    title: str
    tracks: tuple[Track, ...]
    first_downbeat: Fraction
    end: Position | None
    gain_db: float
    tempo: tuple[TempoChange, ...]
    sections: tuple[Section, ...]
    count_in: CountIn
    click: ClickSettings
    timecode: TimecodeSettings | None
    lyrics: tuple[Lyric, ...]
    cues: tuple[Cue, ...]
    mark: SourceMark = field(default=NO_MARK, compare=False)
    click_feeds: tuple[ClickFeed, ...] = ()  # performers' own earpiece feeds, besides the song's click
    rights: Rights | None = None  # for the music cue sheet


@dataclass(frozen=True, slots=True)
class Show:
    path: Path
    title: str
    patch: Patch
    ticks_per_beat: int
    songs: tuple[Song, ...]
    demo: bool = False  # tracks that are missing are synthesised from the tempo map (the shipped demo)
    setlist: Setlist = field(default_factory=Setlist)  # the play order; left empty, every song once in file order, none following

    def __post_init__(self) -> None:
        if not self.setlist.entries:
            object.__setattr__(self, "setlist", Setlist.in_order(song.id for song in self.songs))

    def song(self, song_id: str) -> Song:
        for song in self.songs:
            if song.id == song_id:
                return song
        raise KeyError(song_id)
