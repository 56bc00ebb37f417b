"""What `showcontrol run` tells the take log: a GO starts a take; a stop, the song's end, another GO, a
quit or an error ends it. The runner calls four methods; this reads the rest (song, timeline, tempo,
where the audio is) from it, so the runner's own code stays about playing. Takes are per song: a set
list's songs each count their own.

Marking a take good or no good, and noting on it, are `mark_last`/`note_last`, for the operator's keys:
they mark this show's latest take (`last`), never another show's, nor a take another run still plays.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from showcontrol.audio.link import Device
from showcontrol.engine.transport import Segment, State
from showcontrol.load.show_file import LoadedShow
from showcontrol.model.show import Song
from showcontrol.showlog import ShowLog
from showcontrol.takes.log import TakeLog, default_take_log
from showcontrol.takes.record import Status, Take, end_record, last_of_show, next_number
from showcontrol.timeline.events import Timeline
from showcontrol.timeline.sync import sync_point


class Playing(Protocol):
    """The runner, as the take log sees it."""

    loaded: LoadedShow

    @property
    def song(self) -> Song: ...

    @property
    def timeline(self) -> Timeline: ...

    @property
    def tempo(self) -> Fraction: ...

    @property
    def showlog(self) -> ShowLog | None: ...

    @property
    def segment(self) -> Segment: ...

    @property
    def device(self) -> Device: ...

    def song_frame_now(self) -> int: ...


class TakeKeeper:
    """The takes of one run. Until `open`, every method does nothing (a runner that failed to start)."""

    def __init__(self, runner: Playing) -> None:
        self._runner = runner
        self._log: TakeLog | None = None
        self._lock = threading.Lock()
        self._open: Take | None = None
        self._go_generation = 0  # the transport's segment generation when GO was pressed
        self._from_frame = 0
        self._timeline: Timeline | None = None  # the open take's: a rehearsal tempo swaps the runner's while stopped
        self._audio: list[str] = []  # the open take's audio incidents (lost, stalled)
        self.path: Path | None = None  # the take log, once opened (kept for the run's report)
        self.lost = 0  # its lines the disk did not take, once closed
        self.count = 0  # takes started by this run

    @contextmanager
    def open(self, path: Path | None, show_log: Path) -> Iterator[TakeLog]:
        """The take log `path`, or (None) the show's own beside the show log `show_log`."""
        path = path or default_take_log(show_log.parent, self._runner.loaded.show.path)
        with TakeLog(path) as take_log:
            self._log, self.path = take_log, path
            try:
                yield take_log
            finally:
                self._log = None
        self.lost = take_log.lost

    @property
    def log(self) -> TakeLog | None:
        return self._log

    @property
    def _show(self) -> str:
        """The show file, as this show's takes name it: what tells them from another show's in one log."""
        return os.path.abspath(self._runner.loaded.show.path)

    def last(self) -> Take | None:
        """This show's latest take that this run may mark (see `last_of_show`): the screen's "last take"."""
        if self._log is None:
            return None
        return last_of_show(self._log.takes(), self._show, self._log.pid, self._log.host)

    def went(self, bar: int, song_from_frame: int) -> None:
        """GO from `bar`, whose music starts at `song_from_frame` (after its count-in). Call just before the
        Play is requested, so that the take before ends where it was and the song's end is told from this GO's."""
        runner = self._runner
        with self._lock:
            if self._log is None:
                return
            self._finish(Status.INTERRUPTED, "go")
            now = time.time()
            day = time.strftime("%Y-%m-%d", time.localtime(now))
            song = runner.song.id
            number = next_number(self._log.takes(), song, day)
            speed = runner.loaded.speed if not runner.loaded.keep_pitch else Fraction(1)
            take = Take(
                take_id=f"{day}/{song}/{number}",
                song=song,
                number=number,
                day=day,
                from_bar=bar,
                from_s=_seconds(max(song_from_frame, 0), runner.timeline),  # a count-in before the audio uses no music
                started_at=round(now, 3),
                timecode_in=_timecode(song_from_frame, runner.timeline),
                tempo_percent=round(float(runner.tempo) * 100, 3),
                speed=round(float(speed), 6),
                show_log=os.path.abspath(runner.showlog.path) if runner.showlog is not None else "",  # found from any folder
                show=self._show,
                pid=self._log.pid,
                pid_started=self._log.pid_started,
                host=self._log.host,
            )
            self._log.begin(take)
            self.count += 1
            self._open, self._from_frame, self._go_generation = take, song_from_frame, runner.segment.generation
            self._audio = []
            self._timeline = runner.timeline

    def audio_incident(self, text: str) -> None:
        """The audio was lost or stalled during the open take (the audio watch's word): its end says so."""
        with self._lock:
            if self._open is not None:
                self._audio.append(text)

    def stopped(self) -> None:
        """The operator stopped: the take ends where the audio is (or at the song's end, if it got there first)."""
        self._close(Status.INTERRUPTED, "stop")

    def watch(self) -> None:
        """Now and then (the runner's supervisor): a take whose song has ended is closed as complete."""
        with self._lock:
            if self._open is not None:
                self._close_if_ended()

    def closing(self, error: BaseException | None) -> None:
        """The run ends (quit, a signal, or an error under the show)."""
        failed = error is not None and not isinstance(error, KeyboardInterrupt)
        if failed:
            self._close(Status.ABORTED, f"error: {type(error).__name__}")
        else:
            self._close(Status.INTERRUPTED, "quit")

    def mark_last(self, good: bool) -> Take | None:
        """The operator's verdict on this show's latest take: good (True) or no good (False)."""
        last = self.last()
        return self._log.mark(good=good, take_id=last.take_id) if self._log is not None and last is not None else None

    def note_last(self, text: str) -> Take | None:
        """A short note on this show's latest take ("camera 2 lost focus at the chorus")."""
        last = self.last()
        return self._log.mark(note=text, take_id=last.take_id) if self._log is not None and last is not None else None

    # -- inside the lock -------------------------------------------------------------------
    def _close(self, status: Status, reason: str) -> None:
        with self._lock:
            self._finish(status, reason)

    def _finish(self, status: Status, reason: str) -> None:
        """End the open take: complete if its song got to the end meanwhile, else as `status`, where the audio is."""
        if self._open is not None and not self._close_if_ended():
            self._end(status, reason, self._runner.song_frame_now(), time.time())

    def _close_if_ended(self) -> bool:
        """Close the open take as complete if its song ended by itself; whether it did."""
        if self._timeline is None:
            return False
        if self._runner.timeline is not self._timeline:  # swapped while stopped: only the song's end stops without a stop()
            self._end(Status.COMPLETE, "song end", self._timeline.end_frame, time.time())
            return True
        if self._song_ended(self._runner.segment):
            self._end_at_song_end()
            return True
        return False

    def _song_ended(self, segment: Segment) -> bool:
        return (
            segment.generation > self._go_generation
            and segment.state is State.STOPPED
            and self._timeline is not None
            and segment.song_frame >= self._timeline.end_frame
        )

    def _end_at_song_end(self) -> None:
        """Complete: to the song's last frame, at the wall time the audio device reached it."""
        segment, device = self._runner.segment, self._runner.device
        clock, showlog = device.clock, self._runner.showlog
        ended_at = showlog.wall_time(int(clock.time_of_frame(segment.device_frame))) if clock is not None and showlog else time.time()
        self._end(Status.COMPLETE, "song end", self._runner.timeline.end_frame, ended_at)  # the take's own: _song_ended checked

    def _end(self, status: Status, reason: str, song_frame: int, ended_at: float) -> None:
        take, timeline = self._open, self._timeline
        if take is None or timeline is None or self._log is None:
            return
        frame = max(song_frame, self._from_frame)  # stopped in the count-in: no music was used
        last = min(frame, timeline.end_frame - 1)
        to_bar = timeline.tempo.position_at(Fraction(last) / timeline.sample_rate).bar
        self._log.append(
            end_record(
                take.take_id,
                status,
                reason,
                to_bar,
                _seconds(frame, timeline),
                round(ended_at, 3),
                _timecode(frame, timeline),
                "; ".join(self._audio),
            )
        )
        self._open = None


def _timecode(song_frame: int, timeline: Timeline) -> str:
    """The timecode label at a song frame, as the song's LTC and MTC carry it ("" for a song without)."""
    label = sync_point(timeline, max(song_frame, 0)).timecode
    return label.format(timeline.ltc.rate.drop) if label is not None and timeline.ltc is not None else ""


def _seconds(song_frame: int, timeline: Timeline) -> float:
    return round(float(Fraction(song_frame) / timeline.sample_rate), 6)
