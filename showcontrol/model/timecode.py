"""SMPTE timecode: rates, labels and frame counts, including 29.97 drop-frame.

A timecode *count* numbers real frames from 00:00:00:00; a *label* is what the counter shows.
They differ only for drop-frame, which skips labels :00 and :01 at every minute not divisible by 10.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class TimecodeRate:
    name: str
    fps: Fraction  # real frames per second
    nominal: int  # labels per second
    drop: bool

    @property
    def frames_per_day(self) -> int:
        return label_to_count(Label(24, 0, 0, 0), self) if self.drop else self.nominal * 86400


RATES: dict[str, TimecodeRate] = {
    "23.976": TimecodeRate("23.976", Fraction(24000, 1001), 24, False),
    "24": TimecodeRate("24", Fraction(24), 24, False),
    "25": TimecodeRate("25", Fraction(25), 25, False),
    "29.97df": TimecodeRate("29.97df", Fraction(30000, 1001), 30, True),
    "30": TimecodeRate("30", Fraction(30), 30, False),
}


@dataclass(frozen=True, slots=True, order=True)
class Label:
    hours: int
    minutes: int
    seconds: int
    frames: int

    def format(self, drop: bool = False) -> str:
        sep = ";" if drop else ":"
        return f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{sep}{self.frames:02d}"


_LABEL = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[:;.](\d{2})$")


def parse_label(text: str, rate: TimecodeRate) -> Label:
    """Parse HH:MM:SS:FF (or ;FF for drop-frame); ValueError says what is wrong."""
    match = _LABEL.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a timecode; write HH:MM:SS:FF such as 01:00:00:00")
    label = Label(*(int(g) for g in match.groups()))
    if label.hours > 23 or label.minutes > 59 or label.seconds > 59:
        raise ValueError(f"{text!r} is out of range: hours 0-23, minutes and seconds 0-59")
    if label.frames >= rate.nominal:
        raise ValueError(f"{text!r} has frame {label.frames}, but {rate.name} fps counts frames 0-{rate.nominal - 1}")
    if rate.drop and label.seconds == 0 and label.frames < 2 and label.minutes % 10:
        raise ValueError(f"{text!r} does not exist in drop-frame timecode (frames :00 and :01 are skipped at that minute)")
    return label


def label_to_count(label: Label, rate: TimecodeRate) -> int:
    nominal = ((label.hours * 60 + label.minutes) * 60 + label.seconds) * rate.nominal + label.frames
    if not rate.drop:
        return nominal
    minutes = label.hours * 60 + label.minutes
    return nominal - 2 * (minutes - minutes // 10)


def count_to_label(count: int, rate: TimecodeRate) -> Label:
    """The label of a frame count; counts wrap at 24 hours (so pre-roll before 00:00:00:00 reads 23:59:...)."""
    count %= rate.frames_per_day
    if rate.drop:
        tens, rest = divmod(count, 17982)  # frames in ten drop-frame minutes
        count += 18 * tens + (2 * ((rest - 2) // 1798) if rest > 1 else 0)
    frames = count % rate.nominal
    total_seconds = count // rate.nominal
    return Label(total_seconds // 3600, total_seconds // 60 % 60, total_seconds % 60, frames)
