"""Takes as plain values: what a take-log line says, how lines fold into takes, how takes are numbered,
and what a crash leaves. Pure: times, process ids and the show log's last line are arguments.

A take log is append-only, one whole JSON object per line: `take-start` when GO is pressed, `take-end`
when the take ends (stop, song end, quit, or a crash found at the next start), `take-mark` when someone
marks it good or no good or adds a note. Lines are never rewritten, so a crash loses nothing written.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

START, END, MARK = "take-start", "take-end", "take-mark"


class Status(StrEnum):
    OPEN = "open"  # still playing, or its process is still running
    COMPLETE = "complete"  # played to the song's end
    INTERRUPTED = "interrupted"  # stopped, played again from elsewhere, or quit before the end
    ABORTED = "aborted"  # the program ended under it (a crash, kill -9, power): closed at the next start


@dataclass(frozen=True, slots=True)
class Take:
    """One GO: the song from `from_bar` until it ended. Seconds `from_s`/`to_s` are positions in the song
    (the recording's own time); `factor` is how much faster than recorded it played (tempo × speed), so
    the music sounded for (to_s − from_s) / factor seconds."""

    take_id: str
    song: str
    number: int  # per song, per day
    day: str  # YYYY-MM-DD, the local date of the GO
    from_bar: int
    from_s: float
    started_at: float  # wall clock, seconds since the epoch
    timecode_in: str
    tempo_percent: float
    speed: float
    show_log: str
    show: str = ""
    pid: int = 0
    pid_started: str = ""  # when that process started (/proc's clock ticks since boot; "" unknown): tells a reused pid
    host: str = ""
    status: Status = Status.OPEN
    to_bar: int | None = None
    to_s: float | None = None
    ended_at: float | None = None
    timecode_out: str = ""
    reason: str = ""  # what ended it: song end, stop, go, quit, error, crash
    audio: str = ""  # what went wrong with the audio during it ("AUDIO LOST at 0:03.093 (bar 2.3)"): not heard whole
    good: bool | None = None  # marked good (True), no good (False), or not marked
    note: str = ""

    @property
    def factor(self) -> float:
        return self.tempo_percent / 100 * self.speed

    @property
    def music_s(self) -> float:
        """Seconds of music heard: from the GO's bar (not its count-in) to where it ended."""
        if self.to_s is None:
            return 0.0
        return max(0.0, self.to_s - max(self.from_s, 0.0)) / self.factor


def start_record(take: Take) -> dict[str, Any]:
    return {
        "record": START,
        "take_id": take.take_id,
        "song": take.song,
        "take": take.number,
        "day": take.day,
        "from_bar": take.from_bar,
        "from_s": take.from_s,
        "started_at": take.started_at,
        "timecode_in": take.timecode_in,
        "tempo_percent": take.tempo_percent,
        "speed": take.speed,
        "show_log": take.show_log,
        "show": take.show,
        "pid": take.pid,
        "pid_started": take.pid_started,
        "host": take.host,
    }


def end_record(take_id: str, status: Status, reason: str, to_bar: int | None, to_s: float | None, ended_at: float | None, timecode_out: str, audio: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        **({"audio": audio} if audio else {}),
        "record": END,
        "take_id": take_id,
        "status": str(status),
        "reason": reason,
        "to_bar": to_bar,
        "to_s": to_s,
        "ended_at": ended_at,
        "timecode_out": timecode_out,
    }


def mark_record(take_id: str, good: bool | None = None, note: str | None = None) -> dict[str, Any]:
    """A later word on a take: good or no good, and/or a note (a later mark replaces an earlier one)."""
    record: dict[str, Any] = {"record": MARK, "take_id": take_id}
    if good is not None:
        record["good"] = good
    if note is not None:
        record["note"] = clean_note(note)
    return record


NOTE_LENGTH = 200


def clean_note(text: str) -> str:
    """One line of printable text, at most NOTE_LENGTH characters: what a take's note may be."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:NOTE_LENGTH]


def fold(lines: Iterable[Mapping[str, Any]]) -> list[Take]:
    """The takes that lines describe, in the order they started; lines of other kinds are passed over,
    and so is a line that names a take nobody started (a log cut at its start) or that cannot be read
    (a hand-edited log)."""
    takes: dict[str, Take] = {}
    for line in lines:
        apply(takes, line)
    return list(takes.values())


def apply(takes: dict[str, Take], line: Mapping[str, Any]) -> None:
    """Fold one more line into `takes` (by take id); a line that cannot be read changes nothing."""
    with contextlib.suppress(KeyError, TypeError, ValueError):
        _apply(takes, line)


def _apply(takes: dict[str, Take], line: Mapping[str, Any]) -> None:
    kind, take_id = line.get("record"), str(line.get("take_id", ""))
    if kind == START:
        takes[take_id] = _started(line)
    elif take_id not in takes:
        return
    elif kind == END:
        takes[take_id] = replace(
            takes[take_id],
            status=Status(str(line.get("status", Status.ABORTED))),
            reason=str(line.get("reason", "")),
            to_bar=_int_or_none(line.get("to_bar")),
            to_s=_float_or_none(line.get("to_s")),
            ended_at=_float_or_none(line.get("ended_at")),
            timecode_out=str(line.get("timecode_out") or ""),
            audio=str(line.get("audio") or ""),
        )
    elif kind == MARK:
        take = takes[take_id]
        good = line["good"] if "good" in line and isinstance(line["good"], bool) else take.good
        takes[take_id] = replace(take, good=good, note=str(line.get("note", take.note)))


def _started(line: Mapping[str, Any]) -> Take:
    tempo, speed = float(line.get("tempo_percent", 100.0)), float(line.get("speed", 1.0))
    if not (tempo > 0 and speed > 0):
        raise ValueError("a take plays at a tempo and speed above 0")
    return Take(
        take_id=str(line["take_id"]),
        song=str(line.get("song", "?")),
        number=int(line.get("take", 0)),
        day=str(line.get("day", "")),
        from_bar=int(line.get("from_bar", 1)),
        from_s=float(line.get("from_s", 0.0)),
        started_at=float(line.get("started_at", 0.0)),
        timecode_in=str(line.get("timecode_in") or ""),
        tempo_percent=tempo,
        speed=speed,
        show_log=str(line.get("show_log", "")),
        show=str(line.get("show", "")),
        pid=int(line.get("pid", 0)),
        pid_started=str(line.get("pid_started", "")),
        host=str(line.get("host", "")),
    )


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) else None


def next_number(takes: Iterable[Take], song: str, day: str) -> int:
    """Takes count from 1 for each song on each shooting day."""
    return 1 + max((t.number for t in takes if t.song == song and t.day == day), default=0)


def last_take(takes: Iterable[Take]) -> Take | None:
    return max(takes, key=lambda t: t.started_at, default=None)


def owned_by(take: Take, pid: int, host: str) -> bool:
    """Whether this process (`pid` on `host`) may mark `take`: any ended take, and an open one only if it
    is this process's own. Another run's open take is still playing (or its crash is not closed yet):
    its end, and so what it is worth, is not known."""
    return take.status is not Status.OPEN or (take.pid == pid and take.host == host)


def last_of_show(takes: Iterable[Take], show: str, pid: int, host: str) -> Take | None:
    """The latest take of the show file `show` that this process may mark: what the operator's screen
    shows and its keys mark. Takes of other shows, and another run's open take, are not this show's to mark."""
    return last_take(t for t in takes if t.show == show and owned_by(t, pid, host))


def abandoned(takes: Iterable[Take], host: str, pid: int, alive: Callable[[int, str], bool]) -> list[Take]:
    """Open takes whose program is gone: started on this host by a process that no longer runs
    (`alive(pid, pid_started)`: a pid another process took since is gone too). An open take of a live
    process (another run sharing the log) or of another machine is left alone. This process (`pid`) has
    started none yet, so an open take under its pid is an earlier process's that had the same pid (a
    container restarted after a crash numbers its processes the same)."""
    return [t for t in takes if t.status is Status.OPEN and t.host == host and (t.pid == pid or not alive(t.pid, t.pid_started))]


def aborted_end(take: Take, last_event: Mapping[str, Any] | None) -> dict[str, Any]:
    """The end record that closes a take its crash left open. Where it got to is the last event its show
    log holds after the GO (position, song time, when it was sent); without one, it is unknown."""
    if last_event is None:
        return end_record(take.take_id, Status.ABORTED, "crash: closed at the next start", None, None, None, "")
    bar = str(last_event.get("position", "")).partition(".")[0]
    sent = last_event.get("sent", last_event.get("logged_at"))
    return end_record(
        take.take_id,
        Status.ABORTED,
        "crash: closed at the next start; ends at its show log's last event",
        int(bar) if bar.lstrip("-").isdigit() else None,
        _float_or_none(last_event.get("time")),
        _float_or_none(sent),
        "",
    )


def last_event_after(lines: Iterable[Mapping[str, Any]], song: str, since: float) -> Mapping[str, Any] | None:
    """The last fired event of `song` sent at or after `since` (wall clock), from a show log's lines."""
    last = None
    for line in lines:
        sent = line.get("sent")
        if line.get("song") == song and "position" in line and isinstance(sent, int | float) and sent >= since:
            last = line
    return last


def usable(take: Take) -> bool:
    """Whether a cue sheet can time the take: it ended, and where is known (a crash before any event was logged is not)."""
    return take.status is not Status.OPEN and take.to_s is not None


def chosen(takes: Iterable[Take]) -> list[Take]:
    """The takes a cue sheet reports: for each song, those marked good that it can time, if any are;
    else every complete take not marked no good. A good take it cannot time (still open, or a crash
    that logged nothing) never hides the song's complete takes."""
    every = list(takes)
    good_songs = {t.song for t in every if t.good and usable(t)}
    return [
        t for t in every if (t.good is True and usable(t) if t.song in good_songs else t.status is Status.COMPLETE and t.good is not False)
    ]
