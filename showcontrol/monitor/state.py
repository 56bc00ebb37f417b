"""What the monitor shows, updated from the engine's MQTT state topics (pure: time is an argument).

Topics under the prefix: status (online/offline), state/transport, state/section, state/position (the
beat summary from showcontrol.beats), state/lyric, state/breath, state/audio (the engine's audio device). All are retained, so a monitor started
mid-song draws the right thing from its first frame.

Anything may arrive on these topics (another program, an old engine, an attacker on the broker), and
a retained message comes back at every start: a monitor that one message could kill would stay dead.
So each field is read for what it must be (text of a bounded length without control characters, a
small whole number, a finite time); a field that is not is left as it was, what the message did say
is shown, and the topic is flagged (`bad`) until a good message on it replaces the bad one.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

FLASH_S = 0.15
MAX_PAYLOAD_CHARS = 1_000_000  # far above any state the engine publishes; past it a message is not even parsed
TEXT_LIMIT = 200  # characters of one line on a monitor: longer would shrink to unreadable, and cost each frame
MAX_COUNT = 1_000_000  # bars, beats and breath counts: anything larger is not a song position
TRANSPORT_STATES = ("playing", "paused", "stopped")
ENGINE_STATES = ("online", "offline")


@dataclass(frozen=True)
class NextCue:
    name: str
    in_s: float  # from the beat it was published on


@dataclass(frozen=True)
class MonitorView:
    connected: bool = False
    engine: str = "unknown"  # online / offline, from the engine's presence topic
    audio: str = "ok"  # the engine's audio device: ok, lost (the track is not heard) or stalled (it has stopped)
    transport: str = "stopped"
    song: str = ""
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


class _Fields:
    """One message's fields, each read as what it must be; what is not is noted and left out."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []

    def text(self, key: str, default: str, source: dict[str, Any] | None = None) -> str:
        value = (self.data if source is None else source).get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problems.append(f"{key} is not text")
            return default
        return self._shown(key, value)

    def _shown(self, key: str, value: str) -> str:
        if len(value) > TEXT_LIMIT:
            self.problems.append(f"{key} cut to {TEXT_LIMIT} of {len(value)} characters")
            value = value[: TEXT_LIMIT - 1] + "…"
        # Control characters (a NUL stops pygame's renderer; escapes mean nothing on a screen) are left out.
        return "".join(c for c in value if unicodedata.category(c)[0] != "C")

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.data.get(key)
        if value is None:
            return default
        if value not in allowed:
            self.problems.append(f"{key} is not one of {', '.join(allowed)}")
            return default
        return str(value)

    def count(self, key: str, default: int | None, source: dict[str, Any] | None = None) -> int | None:
        value = (self.data if source is None else source).get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            self.problems.append(f"{key} is not a count")
            return default
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            self.problems.append(f"{key} is not true or false")
            return False
        return value

    def mapping(self, key: str, source: dict[str, Any] | None = None) -> dict[str, Any] | None:
        value = (self.data if source is None else source).get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problems.append(f"{key} is not an object")
            return None
        return value

    def next_cue(self) -> NextCue | None:
        cue = self.mapping("next_cue")
        if cue is None:
            return None
        seconds = cue.get("in_s", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or not 0 <= seconds < 86400:
            self.problems.append("next_cue.in_s is not a time in seconds")
            return None
        return NextCue(self.text("name", "", cue), float(seconds))


def apply(view: MonitorView, topic: str, payload: str, now_s: float) -> MonitorView:
    """The view after one message; `topic` is relative to the prefix. Never raises: what cannot be read
    changes nothing but the topic's flag; topics that are not the monitors' (cues) are ignored."""
    if topic not in READERS and topic != "status":
        return view
    if len(payload) > MAX_PAYLOAD_CHARS:
        return _flagged(view, topic, [f"{len(payload)} characters, more than a monitor reads ({MAX_PAYLOAD_CHARS})"])
    if topic == "status":
        if payload in ENGINE_STATES:
            return _flagged(replace(view, engine=payload), topic, [])
        return _flagged(view, topic, ["not online or offline"]) if payload else view
    try:
        data = json.loads(payload) if payload else {}
    except (ValueError, RecursionError):  # ValueError: not JSON, or a number of thousands of digits
        return _flagged(view, topic, ["not JSON"])
    if not isinstance(data, dict):
        return _flagged(view, topic, ["not a JSON object"])
    fields = _Fields(data)
    updated = READERS[topic](view, fields, now_s)
    return _flagged(updated, topic, fields.problems)


def _flagged(view: MonitorView, topic: str, problems: list[str]) -> MonitorView:
    """The view with `topic`'s flag set to its latest problems (cleared by a message without any)."""
    others = tuple(entry for entry in view.bad if entry[0] != topic)
    return replace(view, bad=(*others, (topic, "; ".join(problems))) if problems else others)


def _audio(view: MonitorView, fields: _Fields, now_s: float) -> MonitorView:
    return replace(view, audio=fields.text("health", "ok"))


def _transport(view: MonitorView, fields: _Fields, now_s: float) -> MonitorView:
    return replace(view, transport=fields.choice("state", TRANSPORT_STATES, view.transport), song=fields.text("song", view.song))


def _section(view: MonitorView, fields: _Fields, now_s: float) -> MonitorView:
    return replace(view, section=fields.text("name", ""))


def _lyric(view: MonitorView, fields: _Fields, now_s: float) -> MonitorView:
    singer = fields.text("performer", "")
    if view.performer is not None and singer not in ("", view.performer):
        return view  # someone else's line
    return replace(view, lyric=fields.text("text", ""), lyric_performer=singer)


def _position(view: MonitorView, fields: _Fields, now_s: float) -> MonitorView:
    lines = fields.data
    parts = fields.mapping("parts")
    if view.performer is not None and parts is not None and view.performer in parts:
        own = fields.mapping(view.performer, parts)
        lines = own if own is not None else lines  # a performer's lines that cannot be read: the shared ones
    return replace(
        view,
        bar=fields.count("bar", view.bar),
        beat=fields.count("beat", view.beat),
        downbeat=fields.flag("downbeat"),
        beat_at_s=now_s,
        section=fields.text("section", view.section),
        timecode=fields.text("timecode", view.timecode),
        lyric=fields.text("lyric", view.lyric, lines),
        lyric_performer=fields.text("lyric_performer", "", lines),
        next_lyric=fields.text("next_lyric", view.next_lyric, lines),
        next_lyric_performer=fields.text("next_lyric_performer", "", lines),
        breath_in_beats=fields.count("breath_in_beats", None, lines),
        next_cue=fields.next_cue(),
    )


READERS = {
    "state/audio": _audio,
    "state/transport": _transport,
    "state/section": _section,
    "state/lyric": _lyric,
    "state/position": _position,
}  # state/breath is for other displays: the position topic carries the breath count on every beat
