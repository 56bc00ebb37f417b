"""A progress bar for long jobs, drawn only on a terminal so logs and CI output stay clean."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, audio_rate: int | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.audio_rate = audio_rate
        self.started = time.monotonic()
        self._last_drawn = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (done < total and now - self._last_drawn < 0.1):
            return
        self._last_drawn = now
        fraction = done / total if total else 1.0
        width = 30
        filled = int(width * fraction)
        speed = ""
        if self.audio_rate and now > self.started:
            speed = f"  {done / self.audio_rate / (now - self.started):5.0f}x real time"
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%}{speed}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
