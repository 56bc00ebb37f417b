"""`showcontrol analyze`: a recording in, a draft song entry out (the pure work is in `analysis/`).

Reads the file at the analysis rate, runs the tracker and the map fitting, and turns the draft into the
show file's own keys, with a comment per tempo entry giving the confidence of the bars it covers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from showcontrol.analysis.channels import channel_kind
from showcontrol.analysis.draft import Draft, Hints, Progress, analyse
from showcontrol.analysis.onsets import ANALYSIS_RATE
from showcontrol.audio.files import read_audio
from showcontrol.errors import ShowControlError
from showcontrol.load.roundtrip import Entry
from showcontrol.model.show import Meter, default_groups

_METER = re.compile(r"^(\d{1,2})/(1|2|4|8|16|32)(?:=(\d+(?:\+\d+)*))?$")


def parse_meter(text: str) -> Meter:
    """4/4, 6/8, or 7/8=2+2+3 (its beat groups); raises ValueError."""
    match = _METER.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a meter: write 4/4, 6/8 or 7/8=2+2+3")
    numerator, denominator = int(match.group(1)), int(match.group(2))
    groups = tuple(int(g) for g in match.group(3).split("+")) if match.group(3) else default_groups(numerator, denominator)
    if not 1 <= numerator <= 32 or sum(groups) != numerator:
        raise ValueError(f"{text!r}: the groups must add up to {numerator}")
    return Meter(numerator, denominator, groups)


def _channel_notes(audio: npt.NDArray[np.float32], chosen: Sequence[int], given: bool) -> list[str]:
    """Which channels were analysed, and warnings for any that look like LTC or a click (a rendered show's mix)."""
    kinds = {n: channel_kind(audio[:, n - 1], ANALYSIS_RATE) for n in range(1, audio.shape[1] + 1)}
    notes = []
    if not given and audio.shape[1] > len(chosen):
        others = ", ".join(f"{n}: {kinds[n] or 'music?'}" for n in kinds if n not in chosen)
        notes.append(
            f"the file has {audio.shape[1]} channels: analysed channels 1 and 2 only (the others: {others}); choose with --channels"
        )
    for n in chosen:
        if kinds[n] in ("LTC", "a click"):
            notes.append(f"channel {n} looks like {kinds[n]}, not music: leave it out with --channels")
        elif kinds[n] == "silent":
            notes.append(f"channel {n} is silent")
    return notes


def draft_for_file(path: Path, hints: Hints, progress: Progress | None = None, channels: Sequence[int] | None = None) -> Draft:
    """Analyse an audio file (any format `read_audio` decodes): the given channels (1 on), or the first two."""
    audio = read_audio(path, ANALYSIS_RATE)
    chosen = list(channels) if channels else list(range(1, min(2, audio.shape[1]) + 1))
    if outside := [n for n in chosen if not 1 <= n <= audio.shape[1]]:
        raise ShowControlError(f"--channels {','.join(map(str, outside))}: {path.name} has channels 1-{audio.shape[1]}")
    notes = _channel_notes(audio, chosen, channels is not None) if audio.shape[1] > 1 else []
    mono = np.ascontiguousarray(audio[:, [n - 1 for n in chosen]].mean(axis=1), dtype=np.float32)
    try:
        draft = analyse(mono, hints, progress)
    except ValueError as error:
        raise ShowControlError(f"{path.name}: {error}") from None
    return replace(draft, warnings=(*notes, *draft.warnings))


def _number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


BARS_PER_LINE = 16


def confidence_lines(confidence: tuple[float, ...]) -> list[str]:
    """`bar 17: 9999 9998 7999 9999`: a digit a bar, four to a group, sixteen to a line."""
    digits = "".join(str(min(9, int(value * 10))) for value in confidence)
    lines = []
    for start in range(0, len(digits), BARS_PER_LINE):
        chunk = digits[start : start + BARS_PER_LINE]
        lines.append(f"  bar {start + 1:>3}: " + " ".join(chunk[i : i + 4] for i in range(0, len(chunk), 4)))
    return lines


def song_entry(draft: Draft, song_id: str, audio: str, sections: Mapping[str, int], source: str, audio_note: str | None = None) -> Entry:
    """The keys `analyze` owns in a song entry: audio, first_downbeat, tempo and (when given) sections."""
    tempo: list[dict[str, Any]] = []
    comments: dict[int, str] = {}
    bars = len(draft.bar_confidence)
    for index, change in enumerate(draft.tempo):
        item: dict[str, Any] = {"bar": change.bar, "bpm": _number(change.quarter_bpm)}
        if index == 0 or change.meter != draft.tempo[index - 1].meter:
            item["meter"] = str(change.meter)
            if change.meter.groups != default_groups(change.meter.numerator, change.meter.denominator):
                item["groups"] = list(change.meter.groups)
        if change.ramp_bars:
            item["ramp_bars"] = change.ramp_bars
        tempo.append(item)
        last = draft.tempo[index + 1].bar - 1 if index + 1 < len(draft.tempo) else bars
        covered = draft.bar_confidence[change.bar - 1 : last]
        span = f"bar {change.bar}" if last <= change.bar else f"bars {change.bar}-{last}"
        comments[index] = f"{span}: confidence {min(covered) if covered else 0:.2f}" + (
            f" (dotted quarter = {float(change.quarter_bpm) / 1.5:.2f})"
            if draft.meter.denominator == 8 and draft.meter.groups[0] == 3
            else ""
        )
    values: dict[str, Any] = {"id": song_id, "audio": audio, "first_downbeat": round(float(draft.first_downbeat), 3), "tempo": tempo}
    if sections:
        values["sections"] = dict(sections)
    worst = float(np.max(np.abs(draft.map_error))) * 1000 if len(draft.map_error) else 0.0
    header = (
        f"drafted by showcontrol analyze from {source}: {bars} bars, the map within {worst:.0f} ms of the beats heard",
        *([audio_note] if audio_note else []),
        *(f"warning: {w}" for w in draft.warnings),
        "confidence per bar, 0 (guessed) to 9 (sure):",
        *confidence_lines(draft.bar_confidence),
    )
    return Entry(values, comments, header)
