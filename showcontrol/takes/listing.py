"""`showcontrol takes`: the takes as a table for the script supervisor, CSV for a spreadsheet, or JSON.
Pure: the takes and the local-time conversion come in, text goes out."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict

from showcontrol.takes.record import Take

COLUMNS = ("day", "song", "take", "status", "mark", "from", "to", "start", "end", "music", "tc in", "tc out", "tempo", "speed", "note", "show log", "id")  # fmt: skip
Clock = Callable[[float], time.struct_time]


def mark_text(take: Take) -> str:
    return {True: "GOOD", False: "NG", None: ""}[take.good]


def music_text(seconds: float) -> str:
    """Music heard, as m:ss.s."""
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def printable(text: str) -> str:
    """A cell read from a file, with control characters (terminal escapes) shown as '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


def status_text(take: Take) -> str:
    """Its status, and whether its audio was lost or stalled on the way ("complete, audio lost")."""
    troubles = [kind for kind in ("lost", "stalled") if f"AUDIO {kind.upper()}" in take.audio]
    return f"{take.status}, audio {' and '.join(troubles)}" if troubles else str(take.status)


def _row(take: Take, local: Clock) -> tuple[str, ...]:
    def at(wall: float | None) -> str:
        return time.strftime("%H:%M:%S", local(wall)) if wall is not None else "?"

    return (
        take.day,
        take.song,
        str(take.number),
        status_text(take),
        mark_text(take),
        str(take.from_bar),
        str(take.to_bar) if take.to_bar is not None else "?",
        at(take.started_at),
        at(take.ended_at) if take.status != "open" else "",
        music_text(take.music_s) if take.to_s is not None else "",
        take.timecode_in,
        take.timecode_out,
        f"{take.tempo_percent:g} %",
        f"{take.speed:g}",
        take.note,
        take.show_log,
        take.take_id,
    )


def takes_text(takes: Sequence[Take], fmt: str, local: Clock = time.localtime) -> str:
    """The takes as `table`, `csv` or `json` (every field, plus the seconds of music heard)."""
    if fmt == "json":
        return json.dumps([{**asdict(t), "music_s": round(t.music_s, 3)} for t in takes], indent=1, ensure_ascii=False)
    rows = [tuple(printable(cell) for cell in _row(take, local)) for take in takes]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    if not rows:
        return "no takes"
    shown = len(COLUMNS) - 2  # the table leaves out the show log and id (in csv and json)
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(shown)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row[:shown], widths, strict=True)).rstrip() for row in [COLUMNS, *rows])
