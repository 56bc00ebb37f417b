"""Rehearsal tempo: the track time-stretched with its pitch kept, by Rubber Band (through pedalboard),
and cached on disk so the second rehearsal at 75 % starts at once. The only module using pedalboard.

A stretch is keyed by the file's path, size and modification time, the rate and the factor; the cached
file is written atomically (a crash leaves no half file to be trusted next time).
"""

from __future__ import annotations

import hashlib
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pedalboard

from showcontrol.audio.files import Audio, read_audio, write_audio
from showcontrol.errors import AudioFileError


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "showcontrol" / "stretched"


def stretch(audio: Audio, sample_rate: int, speed: Fraction) -> Audio:
    """`speed` 0.75 plays at 75 %: a third longer, same pitch."""
    stretched = pedalboard.time_stretch(np.ascontiguousarray(audio.T), float(sample_rate), stretch_factor=float(speed), high_quality=True)
    return np.ascontiguousarray(stretched.T, dtype=np.float32)


def stretched_track(path: Path, sample_rate: int, speed: Fraction, frames: int) -> tuple[Audio, bool]:
    """The track at `speed`, `frames` long, from the cache when it is there; and whether it was."""
    info = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}|{sample_rate}|{speed}".encode()).hexdigest()[:24]
    cached = cache_folder() / f"{key}.flac"
    if cached.is_file():
        try:
            audio = read_audio(cached, sample_rate)
            if len(audio) == frames:
                return audio, True
        except AudioFileError:
            pass  # unreadable: make it again
    audio = stretch(read_audio(path, sample_rate), sample_rate, speed)
    audio = audio[:frames] if len(audio) >= frames else np.pad(audio, ((0, frames - len(audio)), (0, 0)))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_audio(cached, iter([audio]), sample_rate, audio.shape[1], "PCM_24")
    except (AudioFileError, OSError):
        pass  # a cache that cannot be written costs time next run, nothing else
    return audio, False
