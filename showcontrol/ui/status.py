"""The one-line status an operator reads while a song plays: pure text from a snapshot of the runner."""

from __future__ import annotations

from dataclasses import dataclass

from showcontrol.audio.link import health_text
from showcontrol.beats import timecode_text
from showcontrol.describe import clock_text
from showcontrol.io.output import Health, Output
from showcontrol.status import Cueing

ICONS = {"playing": "▶", "paused": "⏸", "stopped": "■"}


@dataclass(frozen=True)
class Field:
    """A piece of the status line; on a narrow terminal the fields of the highest `rank` go first, whole, or
    become their `short` form (which then stays)."""

    text: str
    rank: int
    short: str | None = None


# What an operator must always see ranks 0: the state, the position, anything that is NOT ok.
ESSENTIAL, NOTICE, CUEING, PLACE, TIME, DETAIL = range(6)


def status_fields(
    cueing: Cueing, song_id: str, state: str, frame: int, outputs: dict[str, Output], cue_bar: int, audio: str = "ok"
) -> list[Field]:
    """The fields in reading order; a lost audio link and every output that is not up (`⚠ down: keys`) lead the line."""
    timeline = cueing.timeline
    rate = timeline.sample_rate
    position = timeline.tempo.position_at(frame / rate)
    trouble: dict[str, list[str]] = {}  # health -> the outputs in it, so three lost outputs take one short field
    for name, output in outputs.items():
        if output.status.health is not Health.UP:
            trouble.setdefault(str(output.status.health), []).append(name)
    shown = health_text(audio)  # silent: "SILENT (no device)"
    warning = f"⚠ AUDIO {shown if shown != audio else audio.upper()}"
    fields = [Field(warning, ESSENTIAL, short=f"⚠ AUDIO {audio.upper()}")] if audio != "ok" else []
    icon = ICONS.get(state, state)
    fields += [
        Field(f"{icon} {song_id}", CUEING, short=icon),
        Field(f"{position.bar}.{position.beat}", ESSENTIAL),
    ]  # the title says the song
    fields += [Field("⚠ " + " ".join(f"{health}: {' '.join(names)}" for health, names in trouble.items()), ESSENTIAL)] if trouble else []
    fields.append(Field(cueing.section_at(frame), PLACE))
    fields.append(Field(clock_text(float(frame / rate)), TIME))
    if timeline.ltc is not None:
        fields.append(Field(f"TC {timecode_text(timeline, frame)}", DETAIL))
    for upcoming in cueing.next_cues(frame, 1):
        fields.append(Field(f"next {upcoming.name[:24]} in {upcoming.in_s:.1f}s", CUEING))
    if state != "playing":
        fields.append(Field(f"cued bar {cue_bar}", CUEING))
    if not trouble and outputs:
        fields.append(Field(f"outputs ok ({len(outputs)})", DETAIL))
    return fields


def fit(fields: list[Field], width: int) -> str:
    """The fields joined by ` | ` in `width` columns: the highest ranks dropped whole until it fits, never a word cut.
    What still does not fit (essentials on a very narrow terminal) is dropped from the end, field by field."""
    kept = list(fields)
    for rank in sorted({f.rank for f in fields if f.rank != ESSENTIAL}, reverse=True):
        if len(" | ".join(f.text for f in kept)) <= width:
            break
        kept = [
            f if f.rank != rank or f.short is None else Field(f.short, ESSENTIAL) for f in kept if f.rank != rank or f.short is not None
        ]
    if len(" | ".join(f.text for f in kept)) > width:  # the essentials' short forms, before any goes
        kept = [Field(f.short, f.rank) if f.short is not None else f for f in kept]
    while len(kept) > 1 and len(" | ".join(f.text for f in kept)) > width:
        kept.pop()
    return " | ".join(f.text for f in kept)
