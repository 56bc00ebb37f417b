"""What the monitor shows, updated from the engine's MQTT state topics (pure: time is an argument).

Topics under the prefix: status (online/offline), state/transport, state/section, state/position (the
beat summary from timeline.beats), state/lyric, state/breath, state/audio (the engine's audio device). All are retained, so a monitor started
mid-song draws the right thing from its first frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

FLASH_S = 0.15


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
    next_cue: dict[str, Any] | None = field(default=None, compare=False)

    def line(self, text: str, performer: str) -> str:
        """A lyric as shown: with who sings it on a shared monitor, plain on a performer's own."""
        return f"{performer}: {text}" if text and performer and self.performer is None else text

    def flash(self, now_s: float) -> str | None:
        """'downbeat', 'beat' or None: whether the beat flash is lit now."""
        if self.transport != "playing" or now_s - self.beat_at_s > FLASH_S:
            return None
        return "downbeat" if self.downbeat else "beat"

    def cue_countdown(self, now_s: float) -> tuple[str, float] | None:
        if not self.next_cue or self.transport != "playing":
            return None
        return str(self.next_cue.get("name", "")), max(0.0, float(self.next_cue.get("in_s", 0)) - (now_s - self.beat_at_s))


def apply(view: MonitorView, topic: str, payload: str, now_s: float) -> MonitorView:
    """The view after one message; `topic` is relative to the prefix. Unknown or broken messages change nothing."""
    if topic == "status":
        return replace(view, engine=payload or "unknown")
    try:
        data = json.loads(payload) if payload else {}
    except json.JSONDecodeError:
        return view
    if not isinstance(data, dict):
        return view
    if topic == "state/audio":
        return replace(view, audio=str(data.get("health", "ok")))
    if topic == "state/transport":
        return replace(view, transport=str(data.get("state", view.transport)), song=str(data.get("song", view.song)))
    if topic == "state/section":
        return replace(view, section=str(data.get("name", "")))
    if topic == "state/lyric":
        singer = str(data.get("performer") or "")
        if view.performer is not None and singer not in ("", view.performer):
            return view  # someone else's line
        return replace(view, lyric=str(data.get("text", "")), lyric_performer=singer)
    if topic == "state/position":
        parts = data.get("parts")
        lines = parts[view.performer] if view.performer is not None and isinstance(parts, dict) and view.performer in parts else data
        return replace(
            view,
            bar=data.get("bar"),
            beat=data.get("beat"),
            downbeat=bool(data.get("downbeat")),
            beat_at_s=now_s,
            section=str(data.get("section", view.section)),
            timecode=str(data.get("timecode", view.timecode)),
            lyric=str(lines.get("lyric", view.lyric)),
            lyric_performer=str(lines.get("lyric_performer", "")),
            next_lyric=str(lines.get("next_lyric", view.next_lyric)),
            next_lyric_performer=str(lines.get("next_lyric_performer", "")),
            breath_in_beats=lines.get("breath_in_beats"),
            next_cue=data.get("next_cue"),
        )
    return view
