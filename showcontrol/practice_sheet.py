"""What a practice pack says besides its audio, from a compiled song: chapters at the sections and the lyrics
with breath marks as LRC, timed in the rendered file: it starts at the timeline's first frame and plays
`device_rate` frames a second (a timeline at a rehearsal tempo counts song time at another rate). Pure."""

from __future__ import annotations

from fractions import Fraction

from showcontrol.codec.id3 import Chapter
from showcontrol.model.show import Lyric, Section
from showcontrol.timeline.events import Kind, Timeline

BREATH = "(breathe)"


def _file_ms(timeline: Timeline, frame: int, device_rate: int) -> int:
    return round(Fraction(frame - timeline.start_frame, device_rate) * 1000)


def chapters(timeline: Timeline, device_rate: int) -> list[Chapter]:
    """A chapter per section, the first from the file's start (its count-in) and the last to its end."""
    sections = [e for e in timeline.of_kind(Kind.SECTION) if isinstance(e.payload, Section)]
    if not sections:  # a song without sections: a file without chapters
        return []
    end = _file_ms(timeline, timeline.end_frame, device_rate)
    starts = [0, *(_file_ms(timeline, e.at_frame, device_rate) for e in sections[1:])]
    names = [e.payload.name for e in sections if isinstance(e.payload, Section)]
    return [Chapter(name, start, stop) for name, start, stop in zip(names, starts, [*starts[1:], end], strict=True)]


def sings(lyric: Lyric, performer: str | None) -> bool:
    """A performer's own lines and the lines everyone sings (no performer); everything without a performer."""
    return performer is None or lyric.performer is None or lyric.performer.lower() == performer.lower()


def _stamp(ms: int) -> str:
    minutes, rest = divmod(max(0, ms), 60_000)
    return f"[{minutes:02d}:{rest // 1000:02d}.{rest % 1000 // 10:02d}]"


def lrc_text(timeline: Timeline, device_rate: int, title: str, performer: str | None, tempo_percent: Fraction) -> str:
    """Lyrics as LRC: a line at each lyric's start and a (breathe) line at each breath mark, in file time."""
    lines = [f"[ti:{title}]", *([f"[ar:{performer}]"] if performer else []), f"[re:showcontrol practice at {float(tempo_percent):g} %]"]
    timed = []
    for event in timeline.of_kind(Kind.LYRIC, Kind.BREATH):
        lyric = event.payload
        if isinstance(lyric, Lyric) and sings(lyric, performer):
            text = (
                BREATH
                if event.kind is Kind.BREATH
                else (f"{lyric.performer}: {lyric.text}" if lyric.performer and not performer else lyric.text)
            )
            timed.append((_file_ms(timeline, event.at_frame, device_rate), event.kind is Kind.LYRIC, text))
    lines.extend(f"{_stamp(ms)}{text}" for ms, _, text in sorted(timed))
    return "\n".join(lines) + "\n"


def lyrics_text(timeline: Timeline, performer: str | None) -> str:
    """Plain lyrics for the MP3's lyrics frame: a line each, a breath mark (‸) before the lines that have one."""
    lines = []
    for event in timeline.of_kind(Kind.LYRIC):
        lyric = event.payload
        if isinstance(lyric, Lyric) and sings(lyric, performer):
            lines.append(("‸ " if lyric.breath is not None else "") + lyric.text)
    return "\n".join(lines)
