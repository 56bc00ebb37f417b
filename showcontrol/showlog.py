"""The show log: one JSON line per fired event or output incident, each written whole and flushed.

Lines are handed to a writer thread so the dispatcher never waits on the disk; each is one write()
to a file opened for appending, so a crash leaves every line before it intact and none half-written.
A disk that fills or goes away during a show costs the lines it cannot take, counted and reported,
never the show: the writer carries on with the next line. A disk that fills in the middle of a line
takes part of it (a tmpfs writes up to its last free page): that part is cut off again, so every line
of the file is a whole record or absent, and the next record never lands glued onto a torn one.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import stat
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from showcontrol.errors import ShowControlError
from showcontrol.realtime import HELPER_PRIORITY, raise_priority

log = logging.getLogger(__name__)


class ShowLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_forever, name="showlog", daemon=True)
        self._wall_offset_ns = time.time_ns() - time.monotonic_ns()
        self._fd = -1
        self._size = 0  # where the next line starts: the file ends with whole lines up to here
        self._torn = False  # a torn line could not be cut off (a file that cannot be truncated): start afresh
        self.lines = 0
        self.lost = 0  # lines the disk did not take
        self.last_error = ""
        self._failing = False

    def __enter__(self) -> ShowLog:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            info = os.fstat(self._fd)
            self._size = info.st_size
            # A log an earlier program left ending mid-line: our first record starts on a line of its own.
            self._torn = stat.S_ISREG(info.st_mode) and info.st_size > 0 and _last_byte(self.path) != b"\n"
        except OSError as error:
            raise ShowControlError(
                f"cannot write the show log {self.path}: {error.strerror or error} (give another with --log FILE)"
            ) from None
        self._thread.start()
        return self

    def record(self, fields: dict[str, Any]) -> None:
        """Any thread, never blocks."""
        self._queue.put(fields)

    def wall_time(self, monotonic_ns: int) -> float:
        return (monotonic_ns + self._wall_offset_ns) / 1e9

    def _write_forever(self) -> None:
        raise_priority(HELPER_PRIORITY, warn=False)  # it takes the GIL the dispatcher waits for: see realtime.py
        while (fields := self._queue.get()) is not None:
            fields.setdefault("logged_at", round(time.time(), 6))
            line = (json.dumps(fields, ensure_ascii=False, default=str) + "\n").encode()
            try:
                self._write_whole(b"\n" + line if self._torn else line)
            except OSError as error:
                self._lose(str(error.strerror or error))
            else:
                self.lines += 1
                if self._failing:
                    log.warning("show log %s: written again (%d lines lost)", self.path, self.lost)
                    self._failing = False

    def _write_whole(self, line: bytes) -> None:
        """Write all of `line`, or leave the file as it was before it (raises OSError then)."""
        rest = line
        try:
            while rest:  # a write the disk takes only part of goes on from where it stopped
                rest = rest[os.write(self._fd, rest) :]
        except OSError:
            if len(rest) < len(line):
                self._cut_torn_line()
            raise
        self._size += len(line)
        self._torn = False

    def _cut_torn_line(self) -> None:
        """The disk filled mid-line: cut the part it took (truncating frees space, so it works on a full disk)."""
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as error:  # a pipe or a device: the next line starts on a line of its own instead
            log.debug("show log %s: cannot cut a torn line: %s", self.path, error)
            self._torn = True

    def _lose(self, error: str) -> None:
        self.lost += 1
        if not self._failing:  # once per outage, not per line
            log.error("show log %s: cannot write (%s); the show goes on, the lost lines are counted", self.path, error)
        self._failing, self.last_error = True, error

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            except OSError as error:  # a disk gone, or a file that cannot be synced (a pipe, /dev/full)
                log.debug("show log %s: fsync: %s", self.path, error)
            os.close(self._fd)
            self._fd = -1


def _last_byte(path: Path) -> bytes:
    """The file's last byte (empty where it cannot be read: then it is taken as torn, which costs a blank line)."""
    try:
        with path.open("rb") as existing:
            existing.seek(-1, os.SEEK_END)
            return existing.read(1)
    except OSError:
        return b""
