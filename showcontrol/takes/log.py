"""The take-log file: read back, closed where a crash left a take open, and appended to as takes happen.

Appending goes through the show log's writer (`ShowLog`): one whole line per write, flushed by a
thread of its own, so a take is on disk as it happens and a full disk costs lines, never the show.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from showcontrol.errors import BadInputError, ShowControlError
from showcontrol.showlog import ShowLog
from showcontrol.takes.record import (
    Take,
    abandoned,
    aborted_end,
    apply,
    fold,
    last_event_after,
    last_take,
    mark_record,
    owned_by,
    start_record,
)

log = logging.getLogger(__name__)
TAKE_LOG_SUFFIX = ".takes.jsonl"


def default_take_log(folder: Path, show: Path) -> Path:
    """FOLDER/FOLDERNAME-STEM.takes.jsonl (showlogs/demo-show.takes.jsonl for cues/demo/show.yaml): one
    take log per show file, which its next run finds again (to close a take its crash left open), and
    which no other show run from the same folder writes to. Its records name their show file as well,
    so two shows that share a log (--takes, or two show.yaml in folders of one name) keep apart."""
    absolute = Path(os.path.abspath(show))
    name = f"{absolute.parent.name}-{absolute.stem}" if absolute.parent.name else absolute.stem
    return folder / f"{name}{TAKE_LOG_SUFFIX}"


SHOW_LOG_TAIL = 1 << 20  # what is read of a crashed take's show log: its last MiB holds its last events


def read_lines(path: Path, tail_bytes: int | None = None) -> list[dict[str, Any]]:
    """A JSON-lines file's objects (of its last `tail_bytes` only, if given); lines that are not whole JSON
    objects are skipped (and counted in the log). Only a regular file is read: /dev/full or a pipe given
    as a log would never end."""
    if not path.is_file():
        return []
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            start = max(0, size - tail_bytes) if tail_bytes is not None else 0
            file.seek(start)
            data = file.read()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise ShowControlError(f"cannot read {path}: {error.strerror or error}") from None
    raws = data.decode("utf-8", errors="replace").splitlines()
    if start > 0:
        raws = raws[1:]  # the first is the end of a line cut by the seek
    lines, skipped = [], 0
    for raw in raws:
        try:
            value = json.loads(raw)
        except ValueError:
            skipped += bool(raw.strip())
            continue
        if isinstance(value, dict):
            lines.append(value)
    if skipped:
        log.warning("%s: %d line(s) are not JSON records and were passed over", path, skipped)
    return lines


def read_takes(paths: Iterable[Path]) -> list[Take]:
    """Every take in these logs, in the order they started."""
    takes = [take for path in paths for take in fold(read_lines(path))]
    return sorted(takes, key=lambda t: t.started_at)


def process_started(pid: int) -> str:
    """When process `pid` started, in clock ticks since boot (/proc/PID/stat's 22nd field); "" where
    there is no /proc or no such process. With the pid it names one process: a pid is reused, this is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else ""


def process_alive(pid: int, started: str = "") -> bool:
    """Whether the process that had `pid` (and started at `started`, if known) still runs."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    now = process_started(pid) if started else ""
    return not now or now == started  # a start time that differs: another process took the pid since


class TakeLog:
    """One take log, open for appending: `with TakeLog(path) as takes: takes.begin(...)`.

    Opening closes, as aborted, every take a crashed run of this machine left open, ending each at the
    last event its show log holds. Any thread may call its methods."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.pid_started = process_started(self.pid)
        self.recovered: list[Take] = []  # takes a crash had left open, closed as this log opened
        self._takes: dict[str, Take] = {}  # every take of the file so far, by id: a GO never reads the file again
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._writer: ShowLog | None = None
        self._lost = 0

    def __enter__(self) -> TakeLog:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
        except OSError as error:
            raise ShowControlError(
                f"cannot write the take log {self.path}: {error.strerror or error} (give another with --takes FILE)"
            ) from None
        for line in read_lines(self.path):
            apply(self._takes, line)
        self._writer = self._stack.enter_context(ShowLog(self.path))
        for take in abandoned(list(self._takes.values()), self.host, self.pid, process_alive):
            show_log = read_lines(Path(take.show_log), SHOW_LOG_TAIL) if take.show_log else []
            self._append(aborted_end(take, last_event_after(show_log, take.song, take.started_at)))
            self.recovered.append(take)
            log.warning("take log %s: take %d of %s was left open by a crash; closed as aborted", self.path, take.number, take.song)
        return self

    def takes(self) -> list[Take]:
        with self._lock:
            return list(self._takes.values())

    def append(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._append(record)

    def _append(self, record: dict[str, Any]) -> None:
        if self._writer is None:
            raise ShowControlError(f"the take log {self.path} is not open")
        apply(self._takes, record)
        self._writer.record(dict(record))  # the writer adds logged_at to its own copy

    def begin(self, take: Take) -> None:
        self.append(start_record(take))

    def mark(self, good: bool | None = None, note: str | None = None, take_id: str | None = None) -> Take | None:
        """Mark a take (the latest, or `take_id`) good (True) or no good (False), and/or note on it.
        Returns that take as it was before, or None if there is no such take. Another process's open
        take is refused (BadInputError): it is still playing, so what it is worth is not known yet."""
        with self._lock:
            takes = list(self._takes.values())
            take = last_take(takes) if take_id is None else next((t for t in takes if t.take_id == take_id), None)
            if take is not None and not owned_by(take, self.pid, self.host):
                raise BadInputError(
                    f"take {take.take_id} in {self.path} is still open (pid {take.pid} on {take.host} plays it, or crashed "
                    "and its show has not started since): mark it once it has ended, or another with --take ID"
                )
            if take is not None:
                self._append(mark_record(take.take_id, good, note))
            return take

    @property
    def lost(self) -> int:
        """Lines the disk did not take (a full disk): so far, or in all once closed."""
        return self._writer.lost if self._writer is not None else self._lost

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stack.close()  # the writer's last lines are written (or counted lost) here
        self._lost = self._writer.lost if self._writer is not None else 0
        self._writer = None
