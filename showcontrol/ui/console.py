"""Running a song from a terminal (status line and keys) or headless (logs only, until the song ends).

Keys: space go/stop · p pause/resume · digits then Enter locate to a bar · s cue the next section ·
q quit (press twice while playing).
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
from typing import TextIO

from showcontrol.app import ShowRunner
from showcontrol.engine.transport import State
from showcontrol.errors import ShowControlError
from showcontrol.ui.status import Cueing, status_line

log = logging.getLogger(__name__)
HELP = "space go/stop · p pause · NN⏎ locate bar · s next section · q quit"


def run_headless(runner: ShowRunner, stop: threading.Event | None = None) -> None:
    """Play once from the cued bar and return when the song ends or SIGINT/SIGTERM arrives."""
    stop = stop or threading.Event()
    previous = (
        {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        if threading.current_thread() is threading.main_thread()
        else {}
    )
    try:
        runner.play()
        started = False
        while not stop.wait(0.05):
            state = runner.segment.state
            started = started or state is State.PLAYING
            if started and state is State.STOPPED:
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _cbreak(stream: TextIO) -> Iterator[None]:
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_terminal(runner: ShowRunner, keys: TextIO = sys.stdin, screen: TextIO = sys.stdout) -> None:
    cueing = Cueing.of(runner.timeline)
    sections = [(e.position.bar, e.payload) for e in cueing.sections]
    typed = ""
    confirm_quit_until = 0.0
    message = HELP
    screen.write(f"{runner.song.title} — {HELP}\n")
    with _cbreak(keys):
        while True:
            state = runner.segment.state.value
            line = status_line(cueing, runner.song.id, state, runner.song_frame_now(), runner.outputs, runner.cue_bar)
            prompt = f" | bar {typed}_" if typed else ""
            screen.write("\r\x1b[2K" + (line + prompt)[: os.get_terminal_size(screen.fileno()).columns - 1] if screen.isatty() else "")
            screen.flush()
            ready, _, _ = select.select([keys], [], [], 0.1)
            if not ready:
                continue
            key = os.read(keys.fileno(), 1).decode(errors="ignore")
            playing = runner.segment.state is not State.STOPPED
            if key == " ":
                runner.stop() if playing else runner.play()
            elif key == "p":
                runner.resume() if runner.segment.state is State.PAUSED else runner.pause()
            elif key.isdigit():
                typed += key
            elif key in ("\n", "\r") and typed:
                try:
                    runner.locate(int(typed))
                    if playing:
                        runner.play()
                except ShowControlError as error:
                    message = str(error)
                typed = ""
            elif key in ("\x7f", "\b"):
                typed = typed[:-1]
            elif key == "s" and sections:
                later = [bar for bar, _ in sections if bar > runner.cue_bar]
                runner.locate(later[0] if later else sections[0][0])
            elif key == "q":
                if not playing or time.monotonic() < confirm_quit_until:
                    break
                confirm_quit_until = time.monotonic() + 3
                message = "playing: press q again within 3 s to quit"
            if message != HELP:
                screen.write(f"\r\x1b[2K{message}\n")
                message = HELP
    screen.write("\n")
