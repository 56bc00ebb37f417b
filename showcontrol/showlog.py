"""The show log: one JSON line per fired event or output incident, each written whole and flushed.

Lines are handed to a writer thread so the dispatcher never waits on the disk; each is one write()
to a file opened for appending, so a crash leaves every line before it intact and none half-written.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from showcontrol.realtime import HELPER_PRIORITY, raise_priority


class ShowLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_forever, name="showlog", daemon=True)
        self._wall_offset_ns = time.time_ns() - time.monotonic_ns()
        self._fd = -1
        self.lines = 0

    def __enter__(self) -> ShowLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
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
            os.write(self._fd, (json.dumps(fields, ensure_ascii=False, default=str) + "\n").encode())
            self.lines += 1

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
