"""The one-line status an operator reads while a song plays: pure text from a snapshot of the runner."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from showcontrol.audio.link import health_text
from showcontrol.beats import timecode_text
from showcontrol.describe import clock_text, message_text
from showcontrol.io.output import Health, Output
from showcontrol.model.show import Section
from showcontrol.timeline.events import Event, Kind, Timeline

ICONS = {"playing": "▶", "paused": "⏸", "stopped": "■"}


@dataclass(frozen=True)
class Cueing:
    """Precomputed lookups so the status line costs a few bisects per refresh."""

    timeline: Timeline
    cue_frames: tuple[int, ...]
    cues: tuple[Event, ...]
    section_frames: tuple[int, ...]
    sections: tuple[Event, ...]

    @classmethod
    def of(cls, timeline: Timeline) -> Cueing:
        cues = timeline.of_kind(Kind.OSC, Kind.MIDI, Kind.MQTT)
        sections = timeline.of_kind(Kind.SECTION)
        return cls(timeline, tuple(e.at_frame for e in cues), cues, tuple(e.at_frame for e in sections), sections)

    def section_at(self, frame: int) -> str:
        index = bisect.bisect_right(self.section_frames, frame) - 1
        payload = self.sections[index].payload if index >= 0 else None
        return payload.name if isinstance(payload, Section) else "-"

    def next_cue(self, frame: int) -> Event | None:
        index = bisect.bisect_right(self.cue_frames, frame)
        return self.cues[index] if index < len(self.cues) else None


def status_line(
    cueing: Cueing, song_id: str, state: str, frame: int, outputs: dict[str, Output], cue_bar: int, audio: str = "ok"
) -> str:
    """The line; a device that is lost or stalled leads it (the end of a long line is cut on a narrow terminal)."""
    timeline = cueing.timeline
    rate = timeline.sample_rate
    position = timeline.tempo.position_at(frame / rate)
    parts = [
        f"{ICONS.get(state, state)} {song_id}",
        cueing.section_at(frame),
        f"{position.bar}.{position.beat}",
        clock_text(float(frame / rate)),
    ]
    if timeline.ltc is not None:
        parts.append(f"TC {timecode_text(timeline, frame)}")
    upcoming = cueing.next_cue(frame)
    if upcoming is not None:
        name = upcoming.cue_name or message_text(upcoming)
        parts.append(f"next {name[:24]} in {float((upcoming.at_frame - frame) / rate):4.1f}s")
    if state != "playing":
        parts.append(f"cued bar {cue_bar}")
    health = " ".join(f"{name}:{'ok' if o.status.health is Health.UP else o.status.health}" for name, o in outputs.items())
    shown = health_text(audio)
    line = " | ".join([*parts, f"audio: {shown} {health}"])
    return line if audio == "ok" else f"⚠ AUDIO {shown if shown != audio else audio.upper()} | {line}"
