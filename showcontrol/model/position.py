"""Where something happens in a song, as the user wrote it: bar.beat.tick, a section, or seconds.

Positions stay symbolic here; `timeline.tempo` turns them into frames, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True, order=True)
class BarBeat:
    """A musical position: bar (bar 1 is the first downbeat; 0 and below are pickups), beat and tick.

    Beats count the meter's note value (eighths in 6/8), ticks divide one such beat.
    """

    bar: int
    beat: int = 1
    tick: int = 0

    def __str__(self) -> str:
        return f"{self.bar}.{self.beat}" if self.tick == 0 else f"{self.bar}.{self.beat}.{self.tick}"


@dataclass(frozen=True, slots=True)
class SectionOffset:
    """A position inside a named section; `chorus:2.3` is the chorus's second bar, beat 3."""

    section: str
    bar: int = 1
    beat: int = 1
    tick: int = 0

    def __str__(self) -> str:
        tail = "" if (self.bar, self.beat, self.tick) == (1, 1, 0) else f":{BarBeat(self.bar, self.beat, self.tick)}"
        return f"{self.section}{tail}"


@dataclass(frozen=True, slots=True)
class Seconds:
    """A position in seconds from the start of the song's audio file."""

    seconds: Fraction

    def __str__(self) -> str:
        return f"{float(self.seconds):g}s"


Position = BarBeat | SectionOffset | Seconds

_BAR_BEAT = re.compile(r"^(-?\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)\s*s$")
_MIN_SEC = re.compile(r"^(\d+):([0-5]?\d(?:\.\d+)?)$")
_SECTION = re.compile(r"^([A-Za-z_][\w-]*)(?::(\d+)(?:\.(\d+))?(?:\.(\d+))?)?$")

MAX_BAR = 99999  # bars, beats and ticks beyond these are typing mistakes, not songs
MAX_BEAT = 999
MAX_TICK = 99999
MAX_SECONDS = 36000

POSITION_FORMS = "write bar.beat (9.1), bar.beat.tick (17.3.240), a section (chorus, chorus:2.3) or seconds (12.5s, 1:02.5)"


def parse_position(text: str) -> Position:
    """Parse the text of a position exactly as written (so `9.10` is beat 10, not 9.1).

    Raises ValueError whose message says what forms are accepted.
    """
    text = text.strip()
    if len(text) > 80:
        raise ValueError(f"a position of {len(text)} characters is not a position")
    position: Position
    if match := _BAR_BEAT.match(text):
        bar, beat, tick = match.groups()
        position = BarBeat(int(bar), int(beat or 1), int(tick or 0))
    elif match := _SECONDS.match(text):
        position = Seconds(Fraction(match.group(1)))
    elif match := _MIN_SEC.match(text):
        position = Seconds(int(match.group(1)) * 60 + Fraction(match.group(2)))
    elif match := _SECTION.match(text):
        name, bar, beat, tick = match.groups()
        position = SectionOffset(name, int(bar or 1), int(beat or 1), int(tick or 0))
    else:
        raise ValueError(f"{text!r} is not a position")
    if isinstance(position, Seconds):
        if position.seconds > MAX_SECONDS:
            raise ValueError(f"{text} is more than {MAX_SECONDS} s, the limit")
    elif abs(position.bar) > MAX_BAR or position.beat > MAX_BEAT or position.tick > MAX_TICK:
        raise ValueError(f"{text} is beyond bar {MAX_BAR}, beat {MAX_BEAT} or tick {MAX_TICK}, the limits")
    return position
