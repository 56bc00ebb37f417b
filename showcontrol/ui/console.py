"""Running a show from a terminal (the full screen and its keys) or headless (logs only, until the set ends).

Keys: space go/stop · p pause/resume · digits then Enter locate to a bar · s cue the next section (while
stopped) · l loop the section · - and + rehearsal tempo by 5 %, digits then % a tempo · > and < the next and
previous standby song, digits then # a song by its number in the set · q quit (press twice while playing).
Take log: g the latest take good, x no good, n then a note then Enter. Marking (ui/marking.py): c, y, b a cue,
lyric-line or breath marker at the playhead (C, Y, B unsnapped) · t tap tempo. The screen says which keys work now.
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
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from fractions import Fraction
from typing import TextIO

from showcontrol.app import ShowRunner
from showcontrol.control.commands import Go, Locate, Pause, Resume, SelectSong, SetLoop, SetTempo, Stop
from showcontrol.engine.transport import State
from showcontrol.errors import ShowControlError
from showcontrol.remote.controller import Controller, section_bars
from showcontrol.status import MESSAGES, Cueing, Level, Message, OperatorInput, snapshot
from showcontrol.takes.record import NOTE_LENGTH, clean_note, last_take
from showcontrol.ui.keys import CTRL_C, parse_keys
from showcontrol.ui.live import FullScreen, LineView, can_draw
from showcontrol.ui.marking import MARK_KEYS, MarkKeys

log = logging.getLogger(__name__)
TEMPO_STEP = Fraction(5, 100)
REFRESH_S = 0.1  # the screen follows the show this often (and at once after a key)
MESSAGE_S = 6.0  # how long what a key did stays on the screen
QUIT_WINDOW_S = 3.0
BACKSPACE = ("\x7f", "\b")
CUE_WHILE_PLAYING = "s cues a section while stopped: stop first (space), or type its bar and Enter to jump there now"


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
    """Play the set through from its standby song (one that follows starts by itself after its gap, any
    other as soon as it is ready), or the one --song; return at the end or when `stop` is set (a signal)."""
    while not stop.wait(0.02):
        if runner.set_done:
            break
        if runner.ready_to_go:
            try:
                runner.play()
            except ShowControlError as refused:  # made ready a moment later than asked: GO again then
                log.info("%s", refused)


def change_tempo(controller: Controller, tempo: Fraction) -> str:
    """`-`, `+` and `NN%`: ask for a rehearsal tempo; say what happens next."""
    return controller.handle(SetTempo(tempo), "keys").text


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
    log_written: Callable[[], None] = lambda: None,
) -> signal.Signals | None:
    """The operator's loop, until q (twice while playing) or `stop`; SIGINT if Ctrl-C quit it (the exit status says so).
    On a terminal the full screen (ui/screen.py) shows the show; elsewhere each message is a line. `log_written`
    returns once the log records already logged are written, before the screen takes the terminal."""
    operator = OperatorKeys(runner, controller or Controller(runner))  # the keys send the same commands as every remote input
    reader = KeyReader(keys)
    view: FullScreen | LineView = FullScreen(screen, sys.stderr.isatty(), log_written) if can_draw(screen) else LineView(screen)
    cueing = Cueing.of(runner.timeline)
    with _cbreak(keys), view:
        while stop is None or not stop.is_set():
            runner.apply_pending_tempo()
            if cueing.timeline is not runner.timeline:
                cueing = Cueing.of(runner.timeline)
            operator.follow_the_set(time.monotonic())
            now = time.monotonic()
            view.show(snapshot(runner, now, operator.entered, [*operator.messages, *view.messages()], cueing))
            key = reader.next_key(REFRESH_S)
            if key is not None and operator.press(key, time.monotonic()):
                break
    return operator.quit_by


class OperatorKeys:
    """What each key does, and what the operator is in the middle of (digits, a take note, the quit question)."""

    def __init__(self, runner: ShowRunner, controller: Controller) -> None:
        self.runner = runner
        self.controller = controller
        self.entered = OperatorInput()
        self.messages: deque[Message] = deque(maxlen=MESSAGES)
        self.marking = MarkKeys(runner)  # issue 17: marking while listening
        self.song = runner.song
        self.quit_by: signal.Signals | None = None
        self._standby_said: Message | None = None  # "standby N: X — space plays it", until GO plays it

    def follow_the_set(self, now: float) -> None:
        """Another song of the set came in: markers go to its marks file, and the screen says which it is."""
        runner = self.runner
        if self._standby_said is not None and not runner.player.idle:  # GO played it: no longer true
            if self._standby_said in self.messages:
                self.messages.remove(self._standby_said)
            self._standby_said = None
        if runner.song is self.song:
            return
        self.song, self.marking = runner.song, MarkKeys(runner)
        place = f" {runner.index + 1}/{len(runner.setlist)}" if len(runner.setlist) > 1 else ""
        if runner.player.idle:
            self.say(f"standby{place}: {runner.song.title} — space plays it", now)
            self._standby_said = self.messages[-1]
        else:
            self.say(f"following{place}: {runner.song.title}", now)

    def say(self, text: str, now: float, level: Level = Level.INFO) -> None:
        self.messages.append(Message(text, level, now + MESSAGE_S))

    def press(self, key: str, now: float) -> bool:
        """Act on one key pressed at monotonic `now`; whether it quits."""
        if key == CTRL_C or (key == "q" and self.entered.note is None):
            return self._quit(key, now)
        if self.entered.note is not None:
            self._note_key(key, now)
            return False
        runner, controller, typed = self.runner, self.controller, self.entered.typed
        playing = runner.segment.state is not State.STOPPED
        reply = None
        if key == " ":
            reply = controller.handle(Stop() if playing else Go(), "keys")
        elif key == "p":
            reply = controller.handle(Resume() if runner.segment.state is State.PAUSED else Pause(), "keys")
        elif key.isdigit():
            self._type(typed + key)
        elif key in ("\n", "\r") and typed:
            reply = controller.handle(Locate(bar=int(typed)), "keys")
            self._type("")
        elif key == "%" and typed:
            self.say(change_tempo(controller, Fraction(int(typed), 100)), now)
            self._type("")
        elif key in ("-", "+", "="):
            self.say(change_tempo(controller, wanted_tempo(runner) + (TEMPO_STEP if key != "-" else -TEMPO_STEP)), now)
        elif key in BACKSPACE:
            self._type(typed[:-1])
        elif key == "s" and runner.song.sections and playing:
            self.say(CUE_WHILE_PLAYING, now, Level.WARNING)  # it used to move the cue point unseen: a GO then started elsewhere
        elif key in (">", "<"):
            reply = controller.handle(SelectSong("next" if key == ">" else "previous"), "keys")
            self.say(reply.text, now, Level.INFO if reply.ok else Level.ERROR)
            reply = None
        elif key == "#" and typed:
            reply = controller.handle(SelectSong(typed), "keys")
            self.say(reply.text, now, Level.INFO if reply.ok else Level.ERROR)
            self._type("")
            reply = None
        elif key == "s" and runner.song.sections:
            later = [section.bar for section in runner.song.sections if section.bar > runner.cue_bar]
            reply = controller.handle(Locate(bar=later[0] if later else runner.song.sections[0].bar), "keys")
        elif key == "l":
            self.say(toggle_loop(runner, controller), now)
        elif key in ("g", "x"):
            self._mark(key == "g", now)
        elif key == "n" and not self._has_take():
            self.say("no take to note on yet: GO starts one", now, Level.WARNING)  # refused before a word is typed
        elif key == "n":
            self.entered = replace(self.entered, note="")
        elif key in MARK_KEYS:  # issue 17: marking while listening
            self.say(self.marking.press(key, now), now)
        if reply is not None and not reply.ok:
            self.say(reply.text, now, Level.ERROR)
        return False

    def _has_take(self) -> bool:
        take_log = self.runner.takes.log
        return take_log is not None and last_take(take_log.takes()) is not None

    def _type(self, typed: str) -> None:
        self.entered = replace(self.entered, typed=typed)

    def _quit(self, key: str, now: float) -> bool:
        """q and Ctrl-C: at once while stopped; while playing, a second press within 3 s."""
        self.quit_by = signal.SIGINT if key == CTRL_C else None
        if self.runner.segment.state is State.STOPPED or now < self.entered.quit_until:
            return True
        self.entered = replace(self.entered, quit_until=now + QUIT_WINDOW_S)
        return False

    def _mark(self, good: bool, now: float) -> None:
        """g and x: the latest take good or no good (the take log keeps the latest word)."""
        take = self.runner.takes.mark_last(good)
        if take is None:
            self.say("no take to mark yet: GO starts one", now, Level.WARNING)
        else:
            self.say(f"take {take.number} of {take.song} marked {'GOOD' if good else 'NO GOOD'}", now)

    def _note_key(self, key: str, now: float) -> None:
        """n, then the note's keys: Enter saves it on the latest take, Backspace on an empty note drops it."""
        note = self.entered.note or ""
        if key in ("\n", "\r"):
            self.entered = replace(self.entered, note=None)
            if not note.strip():
                return
            take = self.runner.takes.note_last(note)
            if take is None:
                self.say("no take to note on yet: GO starts one", now, Level.WARNING)
            else:
                self.say(f"note on take {take.number} of {take.song}: {clean_note(note)}", now)
        elif key in BACKSPACE:
            self.entered = replace(self.entered, note=note[:-1] if note else None)
        elif key.isprintable() and len(note) < NOTE_LENGTH:
            self.entered = replace(self.entered, note=note + key)
