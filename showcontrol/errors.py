"""One exception tree for the whole program, so the CLI can tell user errors from bugs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ShowControlError(Exception):
    """Root of every error showcontrol raises on purpose."""


@dataclass(frozen=True, slots=True)
class SourceMark:
    """Where something was written: file, 1-based line and column."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a show or patch file, and how to fix it."""

    mark: SourceMark
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.mark}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class ShowFileError(ShowControlError, ValueError):
    """A show or patch file cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class AudioFileError(ShowControlError):
    """An audio file is missing, unreadable or not audio."""
