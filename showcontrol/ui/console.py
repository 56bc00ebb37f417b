"""Running a song from a terminal (status line and keys) or headless (logs only, until the song ends).

Keys: space go/stop · p pause/resume · digits then Enter locate to a bar · s cue the next section ·
l loop the section · - and + rehearsal tempo by 5 %, digits then % a tempo · q quit (press twice while playing).
Marking (ui/marking.py): c, y, b a cue, lyric-line or breath marker at the playhead (C, Y, B unsnapped) · t tap tempo.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import TextIO

from showcontrol.app import ShowRunner
from showcontrol.control.commands import Go, Locate, Pause, Resume, SetLoop, SetTempo, Stop
from showcontrol.engine.transport import State
from showcontrol.remote.controller import Controller, section_bars
from showcontrol.status import Cueing
from showcontrol.ui.keys import CTRL_C, parse_keys
from showcontrol.ui.marking import HELP as MARK_HELP
from showcontrol.ui.marking import MARK_KEYS, MarkKeys
from showcontrol.ui.status import CUEING, ESSENTIAL, NOTICE, Field, fit, status_fields

log = logging.getLogger(__name__)
HELP = "space go/stop · p pause · NN⏎ locate bar · s next section · l loop section · -/+ or NN% tempo · q quit"
TEMPO_STEP = Fraction(5, 100)
QUIT_AGAIN = "press again to quit (3 s)"


class StopSignals:
    """SIGINT and SIGTERM end a running show once, however many arrive.

    The first sets `stop`: the operator loop returns, the runner stops and publishes the final state, and
    the report is printed. Later ones, until the process ends, are counted and otherwise ignored, so the
    second signal that `timeout` or an impatient Ctrl-C sends cannot cut the report, the final state or
    the exit status short. Python runs the handler on the main thread between bytecodes, so it only
    sets a flag.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.received: signal.Signals | None = None
        self.repeated = 0

    def catch(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                signal.signal(number, self._caught)

    def ignore_the_rest(self) -> None:
        """The run is over and the process ends: ignore both signals. Python's teardown would put back the
        default action of a handled signal (a second Ctrl-C then kills the process with its status), but
        leaves an ignored one ignored."""
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                signal.signal(number, signal.SIG_IGN)

    def _caught(self, number: int, frame: object) -> None:
        if self.received is None:
            self.received = signal.Signals(number)
            self.stop.set()
        else:
            self.repeated += 1


def run_headless(runner: ShowRunner, stop: threading.Event) -> None:
    """Play once from the cued bar and return when the song ends or `stop` is set (a signal)."""
    if stop.is_set():
        return
    asked = runner.segment.generation
    runner.play()
    while not stop.wait(0.05):
        segment = runner.segment  # the play, and the end, may come in one audio block: count, don't watch for it
        if segment.generation > asked and segment.state is State.STOPPED:
            break


def change_tempo(controller: Controller, tempo: Fraction) -> str:
    """`-`, `+` and `NN%`: ask for a rehearsal tempo; say what happens next."""
    return controller.handle(SetTempo(tempo), "keys").text


def tempo_fields(runner: ShowRunner, now: float) -> list[Field]:
    """`tempo 75 %`, and a job's progress: `80 %: stretching ~40 %`, `ready`, or what went wrong."""
    fields = [Field(f"tempo {float(runner.tempo) * 100:g} %", ESSENTIAL)] if runner.tempo != 1 else []
    job = runner.tempo_job
    if job is not None and job.tempo != runner.tempo:
        target = f"{float(job.tempo) * 100:g} %"
        if job.error:
            fields.append(Field(f"{target} failed: {job.error}", NOTICE))
        elif job.version is None:
            fields.append(Field(f"{target}: stretching ~{job.progress(now) * 100:.0f} %", NOTICE))
        else:
            fields.append(Field(f"{target} ready: space plays it", NOTICE))
    return fields


def wanted_tempo(runner: ShowRunner) -> Fraction:
    """What `-` and `+` step from: the tempo asked for last, or the one playing."""
    return runner.tempo_job.tempo if runner.tempo_job is not None else runner.tempo


def toggle_loop(runner: ShowRunner, controller: Controller) -> str:
    """`l`: loop the section being played (or cued); again to release it."""
    if runner.loop_bars:
        return controller.handle(SetLoop(), "keys").text
    position = runner.timeline.tempo.position_at(Fraction(runner.song_frame_now(), 1) / runner.timeline.sample_rate)
    bar = position.bar if runner.segment.state is not State.STOPPED else runner.cue_bar
    first, last = section_bars(runner, max(bar, 1))
    reply = controller.handle(SetLoop(first=first, last=last), "keys")
    return f"{reply.text} (l again to release)" if reply.ok else reply.text


def wrapped(items: list[str], width: int, separator: str = " · ") -> list[str]:
    """Items joined by `separator` into lines of at most `width` columns, an item never split (nor one with a
    `separator` inside it: its parts are items too)."""
    lines: list[str] = []
    for item in (part for text in items for part in text.split(separator)):
        if lines and len(lines[-1] + separator + item) <= width:
            lines[-1] += separator + item
        else:
            lines.append(item)
    return lines


def columns(screen: TextIO) -> int:
    """The columns to write in: one less than the terminal's, so the cursor never wraps to a new line."""
    try:
        return max(os.get_terminal_size(screen.fileno()).columns - 1, 20)
    except (OSError, ValueError):
        return 79


@contextmanager
def _cbreak(stream: TextIO, screen: TextIO) -> Iterator[None]:
    """Keys as they are pressed, and Ctrl-C as a key (not SIGINT): while playing it asks to confirm, as `q` does.
    Ctrl-\\ still kills, and the terminal's own settings come back however the run ends."""
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    attributes = termios.tcgetattr(fd)
    attributes[6][termios.VINTR] = 0  # _POSIX_VDISABLE on Linux: no character sends SIGINT
    termios.tcsetattr(fd, termios.TCSADRAIN, attributes)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        screen.write("\n")  # the status line stays, and what follows starts below it
        screen.flush()


class KeyReader:
    """Keys from a terminal, one at a time, with escape sequences and pastes dropped (ui/keys.py parses)."""

    SEQUENCE_WAIT = 0.03  # an escape sequence arrives in one write; a lone Escape key is followed by nothing

    def __init__(self, keys: TextIO) -> None:
        self.fd = keys.fileno()
        self.pending = ""
        self.rest = b""
        self.pasting = False

    def next_key(self, timeout: float) -> str | None:
        """The next key pressed within `timeout` seconds, or None."""
        while not self.pending:
            ready, _, _ = select.select([self.fd], [], [], self.SEQUENCE_WAIT if self.rest else timeout)
            if not ready and not self.rest:
                return None
            data = os.read(self.fd, 4096) if ready else b""
            if ready and not data:
                return None  # the terminal is gone
            parsed = parse_keys(self.rest + data, self.pasting, final=not ready)
            if parsed.pastes:
                log.info("a paste was ignored: keys are read one at a time, never pasted")
            self.pending, self.rest, self.pasting = parsed.keys, parsed.rest, parsed.pasting
        key, self.pending = self.pending[0], self.pending[1:]
        return key


def run_terminal(
    runner: ShowRunner,
    keys: TextIO = sys.stdin,
    screen: TextIO = sys.stdout,
    stop: threading.Event | None = None,
    controller: Controller | None = None,
) -> signal.Signals | None:
    """The operator's loop, until q (twice while playing) or `stop`; SIGINT if Ctrl-C quit it (the exit status says so)."""
    controller = controller or Controller(runner)  # the keys send the same commands as every remote input
    cueing = Cueing.of(runner.timeline)
    sections = [(e.position.bar, e.payload) for e in cueing.sections]
    typed = ""
    confirm_quit_until = 0.0
    message = HELP
    marking = MarkKeys(runner)  # issue 17: marking while listening
    reader = KeyReader(keys)
    quit_by: signal.Signals | None = None
    width = columns(screen)
    screen.write("\n".join(wrapped([f"{runner.song.title} — {HELP}", *MARK_HELP.split(" · ")], width)) + "\n")
    with _cbreak(keys, screen):
        while stop is None or not stop.is_set():
            if runner.apply_pending_tempo() or cueing.timeline is not runner.timeline:
                cueing = Cueing.of(runner.timeline)
            if screen.isatty():
                screen.write("\r\x1b[2K" + fit(status_fields_of(runner, cueing, typed, confirm_quit_until), columns(screen)))
                screen.flush()
            key = reader.next_key(0.1)
            if key is None:
                continue
            playing = runner.segment.state is not State.STOPPED
            reply = None
            if key == " ":
                reply = controller.handle(Stop() if playing else Go(), "keys")
            elif key == "p":
                reply = controller.handle(Resume() if runner.segment.state is State.PAUSED else Pause(), "keys")
            elif key.isdigit():
                typed += key
            elif key in ("\n", "\r") and typed:
                reply = controller.handle(Locate(bar=int(typed)), "keys")
                typed = ""
            elif key == "%" and typed:
                message = change_tempo(controller, Fraction(int(typed), 100))
                typed = ""
            elif key in ("-", "+", "="):
                message = change_tempo(controller, wanted_tempo(runner) + (TEMPO_STEP if key != "-" else -TEMPO_STEP))
            elif key in ("\x7f", "\b"):
                typed = typed[:-1]
            elif key == "s" and sections:
                later = [bar for bar, _ in sections if bar > runner.cue_bar]
                reply = controller.handle(Locate(bar=later[0] if later else sections[0][0]), "keys")
            elif key == "l":
                message = toggle_loop(runner, controller)
            elif key in MARK_KEYS:  # issue 17: marking while listening
                message = marking.press(key, time.monotonic())
            elif key in ("q", CTRL_C):
                quit_by = signal.SIGINT if key == CTRL_C else None
                if not playing or time.monotonic() < confirm_quit_until:
                    break
                confirm_quit_until = time.monotonic() + 3
                if not screen.isatty():  # on a terminal the status line asks, as long as it is true
                    message = QUIT_AGAIN
            if reply is not None and not reply.ok:
                message = reply.text
            if message != HELP:
                screen.write(f"\r\x1b[2K{message}\n")
                message = HELP
    return quit_by


def status_fields_of(runner: ShowRunner, cueing: Cueing, typed: str, confirm_quit_until: float) -> list[Field]:
    """The status line's fields now: the runner's, its loop and tempo, the bar being typed, the quit question."""
    now = time.monotonic()
    fields = status_fields(
        cueing, runner.song.id, runner.segment.state.value, runner.song_frame_now(), runner.outputs, runner.cue_bar, runner.link.health
    )
    if now < confirm_quit_until:
        fields.insert(0, Field(QUIT_AGAIN, ESSENTIAL))
    if typed:
        fields.append(Field(f"bar {typed}_", ESSENTIAL))
    if runner.loop_bars:
        fields.append(Field(f"loop {runner.loop_bars[0]}-{runner.loop_bars[1]}", CUEING))
    return fields + tempo_fields(runner, now)
