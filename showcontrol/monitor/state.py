"""What the monitor shows, updated from the engine's MQTT state topics (pure: time is an argument).

The topics and their payloads are codec/monitor.py's; all are retained, so a monitor started mid-song
draws the right thing from its first frame. What a message says is read there, field by field, and
never raises; here a field left out keeps what was shown, what the message did say is shown, and the
topic is flagged (`bad`) until a good message on it replaces the bad one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TypeVar

from showcontrol.codec import monitor as wire
from showcontrol.codec.monitor import NextCue

FLASH_S = 0.15
T = TypeVar("T")


@dataclass(frozen=True)
class MonitorView:
    connected: bool = False
    engine: str = "unknown"  # online / offline, from the engine's presence topic
    audio: str = "ok"  # the engine's audio device: ok, lost (the track is not heard) or stalled (it has stopped)
    transport: str = "stopped"
    song: str = ""
    next_song: str = ""  # the set list's next song, from an engine that plays one
    set_list: wire.SetList | None = None  # the set, from an engine that publishes it (state/setlist)
    section: str = ""
    bar: int | None = None
    beat: int | None = None
    downbeat: bool = False
    beat_at_s: float = -1.0  # when the last beat arrived (for the flash)
    timecode: str = ""
    lyric: str = ""
    lyric_performer: str = ""
    next_lyric: str = ""
    next_lyric_performer: str = ""
    breath_in_beats: int | None = None
    performer: str | None = None  # a performer's own monitor: only their lines (and everyone's) and breaths
    next_cue: NextCue | None = field(default=None, compare=False)
    bad: tuple[tuple[str, str], ...] = ()  # (topic, what was wrong) for each topic whose last message was not readable

    @property
    def live(self) -> bool:
        """Whether what is shown comes from an engine that is running now (else it is the last thing it said)."""
        return self.connected and self.engine != "offline"

    @property
    def next_up(self) -> str:
        """What comes next, as performers read it: the set's standby song (what GO plays: after the
        playing one, or the one waiting while stopped) by number and title, marked "— follows" while the
        song before it plays where it starts by itself (a segue: no GO, no pause between; as the performer
        page says it, but in a dash the window's font has); "end of the set" once it has been played; else the next song's id."""
        if self.set_list is None:
            return self.next_song
        standby = self.set_list.standby
        if standby is None:
            return "end of the set" if self.set_played else ""
        playing = next((song for song in self.set_list.songs if song.playing), None)
        segue = standby.follows and playing is not None and playing.number + 1 == standby.number
        return f"{standby.number}. {standby.title}{' — follows' if segue else ''}"

    @property
    def set_played(self) -> bool:
        """The engine's set has no standby song left: the show's last number has been played."""
        return self.set_list is not None and bool(self.set_list.songs) and self.set_list.standby is None

    def line(self, text: str, performer: str) -> str:
        """A lyric as shown: with who sings it on a shared monitor, plain on a performer's own."""
        return f"{performer}: {text}" if text and performer and self.performer is None else text

    def flash(self, now_s: float) -> str | None:
        """'downbeat', 'beat' or None: whether the beat flash is lit now."""
        if self.transport != "playing" or not self.live or now_s - self.beat_at_s > FLASH_S:
            return None
        return "downbeat" if self.downbeat else "beat"

    def cue_countdown(self, now_s: float) -> tuple[str, float] | None:
        if self.next_cue is None or self.transport != "playing" or not self.live:
            return None
        return self.next_cue.name, max(0.0, self.next_cue.in_s - (now_s - self.beat_at_s))


def apply(view: MonitorView, topic: str, payload: bytes, now_s: float) -> MonitorView:
    """The view after one message; `topic` is relative to the prefix. Never raises: what cannot be read
    changes nothing but the topic's flag; topics that are not the monitors' (cues) are ignored."""
    reading = wire.decode(topic, payload)
    if reading is None:
        return view
    updated = view if reading.message is None else _shown(view, reading.message, now_s)
    return _flagged(updated, topic, reading.problems)


def _flagged(view: MonitorView, topic: str, problems: tuple[str, ...]) -> MonitorView:
    """The view with `topic`'s flag set to its latest problems (cleared by a message without any)."""
    others = tuple(entry for entry in view.bad if entry[0] != topic)
    return replace(view, bad=(*others, (topic, "; ".join(problems))) if problems else others)


def _shown(view: MonitorView, message: wire.Message, now_s: float) -> MonitorView:
    match message:
        case wire.Presence(engine=engine):
            return replace(view, engine=engine)
        case wire.Audio(health=health):
            return replace(view, audio=health or "ok")
        case wire.Transport():
            return replace(
                view,
                transport=_or(message.state, view.transport),
                song=_or(message.song, view.song),
                next_song=_or(message.next_song, view.next_song),
            )
        case wire.SetList():
            return replace(view, set_list=message)
        case wire.Section(name=name):
            return replace(view, section=name or "")
        case wire.Breath():
            return view  # the position topic carries the breath count on every beat
        case wire.Lyric(text=text, performer=singer):
            if view.performer is not None and singer not in (None, "", view.performer):
                return view  # someone else's line
            return replace(view, lyric=text or "", lyric_performer=singer or "")
        case wire.Position():
            return _position(view, message, now_s)
    raise AssertionError(message)  # every message is matched above


def _position(view: MonitorView, position: wire.Position, now_s: float) -> MonitorView:
    lines = position.lines
    if view.performer is not None and position.parts is not None:
        lines = position.parts.get(view.performer, lines)  # a performer's lines that could not be read: the shared ones
    return replace(
        view,
        bar=_or(position.bar, view.bar),
        beat=_or(position.beat, view.beat),
        downbeat=position.downbeat,
        beat_at_s=now_s,
        section=_or(position.section, view.section),
        timecode=_or(position.timecode, view.timecode),
        lyric=_or(lines.lyric, view.lyric),
        lyric_performer=lines.lyric_performer or "",
        next_lyric=_or(lines.next_lyric, view.next_lyric),
        next_lyric_performer=lines.next_lyric_performer or "",
        breath_in_beats=lines.breath_in_beats,
        next_cue=position.next_cue,
    )


def _or(said: T | None, shown: T) -> T:
    """What a message said, or (a field it left out) what was shown."""
    return shown if said is None else said
