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
from showcontrol.control.controller import Controller, section_bars
from showcontrol.engine.transport import State
from showcontrol.ui.marking import HELP as MARK_HELP
from showcontrol.ui.marking import MARK_KEYS, MarkKeys
from showcontrol.ui.status import Cueing, status_line

log = logging.getLogger(__name__)
HELP = "space go/stop · p pause · NN⏎ locate bar · s next section · l loop section · -/+ or NN% tempo · q quit"
TEMPO_STEP = Fraction(5, 100)


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


def tempo_text(runner: ShowRunner, now: float) -> str:
    """` | tempo 75 %`, and a job's progress: ` | 80 %: stretching ~40 %`, `ready`, or what went wrong."""
    text = f" | tempo {float(runner.tempo) * 100:g} %" if runner.tempo != 1 else ""
    job = runner.tempo_job
    if job is not None and job.tempo != runner.tempo:
        target = f"{float(job.tempo) * 100:g} %"
        if job.error:
            text += f" | {target} failed: {job.error}"
        elif job.version is None:
            text += f" | {target}: stretching ~{job.progress(now) * 100:.0f} %"
        else:
            text += f" | {target} ready: space plays it"
    return text


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


@contextmanager
def _cbreak(stream: TextIO) -> Iterator[None]:
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_terminal(
    runner: ShowRunner,
    keys: TextIO = sys.stdin,
    screen: TextIO = sys.stdout,
    stop: threading.Event | None = None,
    controller: Controller | None = None,
) -> None:
    controller = controller or Controller(runner)  # the keys send the same commands as every remote input
    cueing = Cueing.of(runner.timeline)
    sections = [(e.position.bar, e.payload) for e in cueing.sections]
    typed = ""
    confirm_quit_until = 0.0
    message = HELP
    marking = MarkKeys(runner)  # issue 17: marking while listening
    screen.write(f"{runner.song.title} — {HELP} · {MARK_HELP}\n")
    with _cbreak(keys):
        while stop is None or not stop.is_set():
            if runner.apply_pending_tempo() or cueing.timeline is not runner.timeline:
                cueing = Cueing.of(runner.timeline)
            state = runner.segment.state.value
            line = status_line(cueing, runner.song.id, state, runner.song_frame_now(), runner.outputs, runner.cue_bar, runner.link.health)
            if runner.loop_bars:
                line += f" | loop {runner.loop_bars[0]}-{runner.loop_bars[1]}"
            line += tempo_text(runner, time.monotonic())
            prompt = f" | bar {typed}_" if typed else ""
            screen.write("\r\x1b[2K" + (line + prompt)[: os.get_terminal_size(screen.fileno()).columns - 1] if screen.isatty() else "")
            screen.flush()
            ready, _, _ = select.select([keys], [], [], 0.1)
            if not ready:
                continue
            key = os.read(keys.fileno(), 1).decode(errors="ignore")
            reply = None
            playing = runner.segment.state is not State.STOPPED
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
            elif key == "q":
                if not playing or time.monotonic() < confirm_quit_until:
                    break
                confirm_quit_until = time.monotonic() + 3
                message = "playing: press q again within 3 s to quit"
            if reply is not None and not reply.ok:
                message = reply.text
            if message != HELP:
                screen.write(f"\r\x1b[2K{message}\n")
                message = HELP
    screen.write("\n")
