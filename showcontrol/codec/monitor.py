"""The monitors' wire schema: the topics under an MQTT output's prefix and their payloads (pure).

One module for both ends: the engine encodes (io/mqtt.py, from showcontrol.beats), the monitor window
decodes (monitor/state.py), and the web pages (web/static/*.js) read the same field names; docs/remote.md
lists them. Every state topic is retained, so a monitor started mid-song draws the right thing from its
first message. A field left out (None here) means "not said": a reader keeps what it showed.

Anything may arrive on these topics (another program, an old engine, an attacker on the broker), and a
retained message comes back at every start: a monitor that one message could kill would stay dead. So
`decode` never raises: each field is read for what it must be (text of a bounded length without control
characters, a small whole number, a finite time); a field that is not is left out and named in the
reading's problems, and the rest of the message is kept.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeGuard

# Topics, relative to the output's prefix.
STATUS = "status"  # the engine's presence: ONLINE, or OFFLINE (also its last will); plain text, not JSON
TRANSPORT = "state/transport"
SECTION = "state/section"
POSITION = "state/position"  # on every beat: where the song is, what is sung, the next breath and cue
LYRIC = "state/lyric"
BREATH = "state/breath"  # for other displays: the position topic carries the breath count on every beat
AUDIO = "state/audio"
SETLIST = "state/setlist"  # the set in play order, with the song playing and the standby one (what GO plays next)
COMMAND, REPLY = "command", "reply"  # remote control (io/mqtt_in.py; docs/remote.md), not monitor state

ONLINE, OFFLINE = "online", "offline"
TRANSPORT_STATES = ("playing", "paused", "stopped")

MAX_PAYLOAD_BYTES = 1_000_000  # far above any state the engine publishes; past it a message is not even parsed
TEXT_LIMIT = 200  # characters of one line on a monitor: longer would shrink to unreadable, and cost each frame
MAX_COUNT = 1_000_000  # bars, beats and breath counts: anything larger is not a song position
MAX_SECONDS = 86_400.0  # a cue more than a day away is not a countdown
MAX_SET_SONGS = 500  # far above any set list; past it the rest is not read
MAX_PROBLEMS = 8  # named per message; a message with a thousand bad fields says so in one line


@dataclass(frozen=True, slots=True)
class Presence:
    engine: str  # ONLINE or OFFLINE


@dataclass(frozen=True, slots=True)
class Transport:
    state: str | None = None  # one of TRANSPORT_STATES
    song: str | None = None  # the song's id
    position: str | None = None  # the song frame it is at, as text
    next_song: str | None = None  # the set list's next song, when the engine plays a set list


@dataclass(frozen=True, slots=True)
class Section:
    name: str | None = None  # "end" once the song has ended
    bar: int | None = None
    beat: int | None = None


@dataclass(frozen=True, slots=True)
class Lyric:
    text: str | None = None
    performer: str | None = None  # None: everybody sings it
    bar: int | None = None
    beat: int | None = None


@dataclass(frozen=True, slots=True)
class Breath(Lyric):
    """A breath mark, with the line it comes before (on BREATH)."""


@dataclass(frozen=True, slots=True)
class Audio:
    health: str | None = None  # the engine's audio device: ok, lost (not heard), stalled (stopped), silent (none)


@dataclass(frozen=True, slots=True)
class SetSong:
    number: int  # 1-based place in the set, as the operator (and a remote's `song` command) names it
    id: str
    title: str
    playing: bool = False
    standby: bool = False  # what GO plays next: the song after the playing one, or the one waiting while stopped
    follows: bool = False  # starts by itself when the song before it ends (a segue: the set list's `follow`)


@dataclass(frozen=True, slots=True)
class SetList:
    """The whole set (on SETLIST): no song standby means the set has been played."""

    songs: tuple[SetSong, ...] = ()

    @property
    def standby(self) -> SetSong | None:
        return next((song for song in self.songs if song.standby), None)


@dataclass(frozen=True, slots=True)
class NextCue:
    name: str
    in_s: float  # from the beat it was published on


@dataclass(frozen=True, slots=True)
class Lines:
    """What is sung, shared or one performer's: on the wire, at the top of a position or under its `parts`."""

    lyric: str | None = None  # the line being sung ("" for none)
    lyric_performer: str | None = None
    next_lyric: str | None = None
    next_lyric_performer: str | None = None
    breath_in_beats: int | None = None  # only when a breath is a few beats away


@dataclass(frozen=True, slots=True)
class Position:
    bar: int | None = None
    beat: int | None = None
    downbeat: bool = False
    section: str | None = None
    timecode: str | None = None  # as LTC says it ("" for a song without timecode)
    lines: Lines = Lines()
    next_cue: NextCue | None = None
    parts: Mapping[str, Lines] | None = field(default=None, hash=False)  # each performer's own lines, on a show that names them


Message = Presence | Transport | Section | Lyric | Audio | Position | SetList

_TOPICS: dict[type[Any], str] = {
    Presence: STATUS,
    Transport: TRANSPORT,
    Section: SECTION,
    Lyric: LYRIC,
    Breath: BREATH,
    Audio: AUDIO,
    Position: POSITION,
    SetList: SETLIST,
}


def topic_of(message: Message) -> str:
    """The topic a message is published on, relative to the prefix."""
    return _TOPICS[type(message)]


def encode(message: Message) -> bytes:
    """The payload: JSON (UTF-8) without the fields left out; the presence as its plain word."""
    if isinstance(message, Presence):
        return message.engine.encode()
    return json.dumps(_plain(message), ensure_ascii=False).encode(errors="replace")


def _plain(message: Transport | Section | Lyric | Audio | Position | SetList | SetSong | Lines) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if isinstance(message, SetList):
        return {"songs": [_plain(song) for song in message.songs]}
    for item in fields(message):
        value = getattr(message, item.name)
        if isinstance(value, Lines):
            data |= _plain(value)
        elif isinstance(value, NextCue):
            data[item.name] = {"name": value.name, "in_s": value.in_s}
        elif item.name == "parts" and value is not None:
            data[item.name] = {who: _plain(lines) for who, lines in value.items()}
        elif value is not None:
            data[item.name] = value
    return data


@dataclass(frozen=True, slots=True)
class Reading:
    """One message as read: `message` is None when nothing in it could be; `problems` says what was wrong."""

    topic: str
    message: Message | None
    problems: tuple[str, ...] = ()


def decode(topic: str, payload: bytes) -> Reading | None:
    """Read a message on `topic` (relative to the prefix); None for a topic that is not the monitors'
    (cues, commands). Never raises, whatever the bytes."""
    if topic != STATUS and topic not in _READERS:
        return None
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Reading(topic, None, (f"{len(payload)} bytes, more than a monitor reads ({MAX_PAYLOAD_BYTES})",))
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        return Reading(topic, None, ("not UTF-8 text",))
    if topic == STATUS:
        if text in (ONLINE, OFFLINE):
            return Reading(topic, Presence(text))
        return Reading(topic, None, ("not online or offline",) if text else ())
    try:
        data = json.loads(text) if text else {}
    except (ValueError, RecursionError):  # ValueError: not JSON, or a number of thousands of digits
        return Reading(topic, None, ("not JSON",))
    if not isinstance(data, dict):
        return Reading(topic, None, ("not a JSON object",))
    fields_ = _Fields()
    message = _READERS[topic](fields_, data)
    return Reading(topic, message, fields_.said())


class _Fields:
    """Reads fields as what they must be; what is not is noted and left out."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def said(self) -> tuple[str, ...]:
        if len(self.problems) <= MAX_PROBLEMS:
            return tuple(self.problems)
        return (*self.problems[:MAX_PROBLEMS], f"and {len(self.problems) - MAX_PROBLEMS} more")

    def field(self, data: Mapping[str, Any], key: str, valid: Callable[[Any], bool], what: str, where: str = "") -> Any:
        """The field if it is what it must be; None where it is left out or is not (which is noted)."""
        value = data.get(key)
        if value is None or valid(value):
            return value
        self.problems.append(f"{where}{shown(key[:40])} is not {what}")
        return None

    def text(self, data: Mapping[str, Any], key: str, where: str = "") -> str | None:
        value: str | None = self.field(data, key, lambda v: isinstance(v, str), "text", where)
        if value is not None and len(value) > TEXT_LIMIT:
            self.problems.append(f"{where}{key} cut to {TEXT_LIMIT} of {len(value)} characters")
            value = value[: TEXT_LIMIT - 1] + "…"
        return None if value is None else shown(value)

    def choice(self, data: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
        value: str | None = self.field(data, key, lambda v: v in allowed, f"one of {', '.join(allowed)}")
        return value

    def count(self, data: Mapping[str, Any], key: str, where: str = "") -> int | None:
        value: int | None = self.field(data, key, _is_count, "a count", where)
        return value

    def flag(self, data: Mapping[str, Any], key: str, where: str = "") -> bool:
        return self.field(data, key, lambda v: isinstance(v, bool), "true or false", where) is True

    def mapping(self, data: Mapping[str, Any], key: str, where: str = "") -> dict[str, Any] | None:
        value: dict[str, Any] | None = self.field(data, key, lambda v: isinstance(v, dict), "an object", where)
        return value

    def next_cue(self, data: Mapping[str, Any]) -> NextCue | None:
        cue = self.mapping(data, "next_cue")
        if cue is None:
            return None
        seconds = cue.get("in_s", 0)
        if not _is_number(seconds) or not 0 <= seconds < MAX_SECONDS:
            self.problems.append("next_cue.in_s is not a time in seconds")
            return None
        return NextCue(self.text(cue, "name", "next_cue.") or "", float(seconds))

    def lines(self, data: Mapping[str, Any], where: str = "") -> Lines:
        return Lines(
            lyric=self.text(data, "lyric", where),
            lyric_performer=self.text(data, "lyric_performer", where),
            next_lyric=self.text(data, "next_lyric", where),
            next_lyric_performer=self.text(data, "next_lyric_performer", where),
            breath_in_beats=self.count(data, "breath_in_beats", where),
        )

    def songs(self, data: Mapping[str, Any]) -> tuple[SetSong, ...]:
        listed = self.field(data, "songs", lambda v: isinstance(v, list), "a list")
        if listed is None:
            return ()
        if len(listed) > MAX_SET_SONGS:
            self.problems.append(f"songs cut to {MAX_SET_SONGS} of {len(listed)}")
        read = []
        for place, song in enumerate(listed[:MAX_SET_SONGS]):
            where = f"songs.{place}."
            if not isinstance(song, dict):
                self.problems.append(f"{where[:-1]} is not an object")
                continue
            number, song_id = self.count(song, "number", where), self.text(song, "id", where)
            if number is None or not song_id:
                self.problems.append(f"{where[:-1]} has no number or id")
                continue
            title = self.text(song, "title", where) or song_id
            flags = (self.flag(song, name, where) for name in ("playing", "standby", "follows"))
            read.append(SetSong(number, song_id, title, *flags))
        return tuple(read)

    def parts(self, data: Mapping[str, Any]) -> dict[str, Lines] | None:
        parts = self.mapping(data, "parts")
        if parts is None:
            return None
        read = {}
        for who in parts:
            own = self.mapping(parts, who, "parts.")
            if own is not None:
                read[who] = self.lines(own, f"parts.{shown(who[:40])}.")
        return read


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _is_number(value: object) -> TypeGuard[int | float]:
    """A finite JSON number (true and false are not numbers here, though Python counts them)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def shown(text: str) -> str:
    """Text without control characters (a NUL stops pygame's renderer; escapes mean nothing on a screen)."""
    return "".join(c for c in text if unicodedata.category(c)[0] != "C")


def _transport(fields_: _Fields, data: Mapping[str, Any]) -> Transport:
    return Transport(
        fields_.choice(data, "state", TRANSPORT_STATES),
        fields_.text(data, "song"),
        fields_.text(data, "position"),
        fields_.text(data, "next_song"),
    )


def _section(fields_: _Fields, data: Mapping[str, Any]) -> Section:
    return Section(fields_.text(data, "name"), fields_.count(data, "bar"), fields_.count(data, "beat"))


def _lyric(fields_: _Fields, data: Mapping[str, Any], kind: type[Lyric] = Lyric) -> Lyric:
    return kind(fields_.text(data, "text"), fields_.text(data, "performer"), fields_.count(data, "bar"), fields_.count(data, "beat"))


def _breath(fields_: _Fields, data: Mapping[str, Any]) -> Lyric:
    return _lyric(fields_, data, Breath)


def _audio(fields_: _Fields, data: Mapping[str, Any]) -> Audio:
    return Audio(fields_.text(data, "health"))


def _position(fields_: _Fields, data: Mapping[str, Any]) -> Position:
    return Position(
        bar=fields_.count(data, "bar"),
        beat=fields_.count(data, "beat"),
        downbeat=fields_.flag(data, "downbeat"),
        section=fields_.text(data, "section"),
        timecode=fields_.text(data, "timecode"),
        lines=fields_.lines(data),
        next_cue=fields_.next_cue(data),
        parts=fields_.parts(data),
    )


def _setlist(fields_: _Fields, data: Mapping[str, Any]) -> SetList:
    return SetList(fields_.songs(data))


_READERS: dict[str, Callable[[_Fields, Mapping[str, Any]], Message]] = {
    TRANSPORT: _transport,
    SECTION: _section,
    LYRIC: _lyric,
    BREATH: _breath,
    AUDIO: _audio,
    POSITION: _position,
    SETLIST: _setlist,
}
