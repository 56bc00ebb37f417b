"""One exception tree for the whole program, so the CLI can tell user errors from bugs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# C0 and C1 controls, DEL, and the Unicode marks that reorder or hide text on a terminal (bidi overrides,
# line/paragraph separators, zero-width characters, BOM): what a file must not get onto the operator's screen raw.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def escaped(text: str) -> str:
    """`text` with every control character and terminal escape shown as \\xNN or \\uNNNN, the rest as is."""
    return UNSAFE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def quoted(text: str, limit: int = 60) -> str:
    """A value from a file as it is shown in a message: quoted, escaped, and cut short when long."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


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
        return escaped(f"{text} — {self.hint}" if self.hint else text)


class ShowFileError(ShowControlError, ValueError):
    """A show or patch file cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class BadInputError(ShowControlError):
    """Something the user typed cannot be used (an option's value, a path to write): exit status 2, not a failed run."""


class AudioFileError(ShowControlError):
    """An audio file is missing, unreadable or not audio."""
