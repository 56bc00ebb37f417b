"""Where the operator's screen is shown: the terminal's alternate screen (rich's Live display), or, on a screen
that is no terminal (a pipe, a test), plain lines with each message once.

While the full screen is up, log records become messages on it. Written to a terminal's stderr they would
scribble over the screen, so they are held back and written in order when the screen closes, into the
scrollback the operator returns to. Rich owns the alternate screen and the cursor; `Live.stop` gives both
back however the `with` ends (a quit, Ctrl-C, an exception), and the console's cbreak restores termios.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.live import Live

from showcontrol.status import MESSAGES, Level, Message, ShowStatus
from showcontrol.ui.screen import render

HELD_RECORDS = 1000  # records held back while the screen is up; the oldest go first past this
LIFETIMES_S = {Level.INFO: 10.0, Level.WARNING: 30.0, Level.ERROR: 60.0}  # how long a log record stays on the screen


def can_draw(screen: TextIO) -> bool:
    """Whether `screen` is a terminal that takes the full screen: a tty, and not one that says it is dumb."""
    return screen.isatty() and os.environ.get("TERM", "").lower() not in ("dumb", "unknown")


class FullScreen:
    """The alternate screen, redrawn when what it shows changes (or the terminal's size does)."""

    def __init__(self, screen: TextIO, hold_logs: bool, log_written: Callable[[], None] = lambda: None) -> None:
        self._screen = screen
        self._log_written = log_written  # returns once every record logged so far is written (cli's log queue)
        self.console = Console(file=screen)
        self._live = Live(
            console=self.console, screen=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False, transient=True
        )
        self._tap = LogTap(hold_logs)
        self._drawn: tuple[ShowStatus, tuple[int, int]] | None = None

    def __enter__(self) -> FullScreen:
        """Tap the log, let what was logged before it reach the terminal, and only then take the screen:
        a record still queued would otherwise be written over it (a loaded machine holds the writer off)."""
        self._tap.attach()
        try:
            self._log_written()
            self._live.start()
        except BaseException:
            self._tap.detach()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        try:
            self._live.stop()
        finally:
            self._tap.detach()

    def show(self, status: ShowStatus) -> None:
        size = self._size()
        drawn = (replace(status, now=0.0), size)
        if drawn == self._drawn:
            return  # nothing changed: a stopped show costs no drawing
        self._drawn = drawn
        self.console.size = size  # what Live's screen is drawn at
        self._live.update(render(status, *size), refresh=True)

    def _size(self) -> tuple[int, int]:
        """The terminal's size now, asked of the terminal itself: COLUMNS and LINES in the environment (which
        rich would prefer) are where the window was when the shell started, not after it was resized."""
        try:
            columns, lines = os.get_terminal_size(self._screen.fileno())
        except (OSError, ValueError):
            columns, lines = 0, 0
        return (columns, lines) if columns and lines else (80, 24)

    def messages(self) -> list[Message]:
        return self._tap.messages()


class LineView:
    """A screen that is no terminal: the keys once, then each timed message once, as a line."""

    def __init__(self, screen: TextIO) -> None:
        self.screen = screen
        self._said: set[tuple[str, float | None]] = set()
        self._started = False

    def __enter__(self) -> LineView:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.screen.write("\n")
        self.screen.flush()

    def show(self, status: ShowStatus) -> None:
        lines = []
        if not self._started:
            self._started = True
            lines.append(f"{status.playing.title} — " + " · ".join(f"{k.keys} {k.does}" for k in status.keys))
        for message in status.messages:
            if message.until is not None and (message.text, message.until) not in self._said:
                self._said.add((message.text, message.until))
                lines.append(message.text)
        if lines:
            self.screen.write("\n".join(lines) + "\n")
            self.screen.flush()

    def messages(self) -> list[Message]:
        return []  # the log goes to stderr as it always does


class LogTap(logging.Filter):
    """A filter on the root logger's handlers: each record becomes a message; held back if `hold`."""

    def __init__(self, hold: bool, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.hold = hold
        self._clock = clock
        self._lock = threading.Lock()
        self._held: deque[logging.LogRecord] = deque(maxlen=HELD_RECORDS)
        self._messages: deque[Message] = deque(maxlen=MESSAGES)
        self._senders: deque[str] = deque(maxlen=MESSAGES)  # the logger of each message
        self._last: logging.LogRecord | None = None  # a record passes every handler: one message for it
        self._handlers: list[logging.Handler] = []

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            if record is not self._last and record.levelno >= logging.INFO:
                self._last = record
                level = (
                    Level.ERROR if record.levelno >= logging.ERROR else Level.WARNING if record.levelno >= logging.WARNING else Level.INFO
                )
                self._supersede(record.name)
                self._messages.append(Message(record.getMessage(), level, self._clock() + LIFETIMES_S[level]))
                self._senders.append(record.name)
                if self.hold:
                    self._held.append(record)
        return not self.hold

    def _supersede(self, sender: str) -> None:
        """A line ending in "..." says something is under way ("time-stretching x to 90 %..."): the next
        record of the same logger says how it went, so the progress line goes when that one comes."""
        kept = [(m, s) for m, s in zip(self._messages, self._senders, strict=True) if not (s == sender and m.text.endswith("..."))]
        self._messages = deque((m for m, _ in kept), maxlen=MESSAGES)
        self._senders = deque((s for _, s in kept), maxlen=MESSAGES)

    def attach(self) -> None:
        self._handlers = list(logging.getLogger().handlers)
        for handler in self._handlers:
            handler.addFilter(self)

    def detach(self) -> None:
        """Stop tapping, and write what was held back to the handlers it was meant for."""
        for handler in self._handlers:
            handler.removeFilter(self)
        with self._lock:
            held, self._held = list(self._held), deque(maxlen=HELD_RECORDS)
        for record in held:
            for handler in self._handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)

    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)
