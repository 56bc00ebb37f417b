"""Rehearsal tempo: the track time-stretched with its pitch kept, by Rubber Band (through pedalboard),
and cached on disk so the second rehearsal at 75 % starts at once. The only module using pedalboard.

A stretch is keyed by the file's path, size and modification time, the rate and the factor; the cached
file is written atomically (a crash leaves no half file to be trusted next time).
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pedalboard

from showcontrol.audio.files import Audio, read_audio, write_audio
from showcontrol.errors import AudioFileError, ShowControlError
from showcontrol.timeline.tempo import Rate

STRETCH_VERSION = "r2-aligned"  # part of the cache key: stretches made another way are not reused


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "showcontrol" / "stretched"


def stretch(audio: Audio, sample_rate: Rate, speed: Fraction) -> Audio:
    """`speed` 0.75 plays at 75 %: a third longer, same pitch; what was at frame n sounds at n / speed.

    Rubber Band's faster R2 engine, not pedalboard's high_quality R3 one: measured here, R3 moves beats
    by up to 115 ms in the middle of a minute-long stretch (at 0.9, 0.967, 1.05, 2.0) and puts them back
    by the end, while R2 keeps them within ~2 ms but late or early by a constant that depends on the
    ratio. That constant is measured with a probe (`offset_frames`) and taken out.
    """
    shift = offset_frames(float(sample_rate), float(speed))
    stretched = _time_stretch(audio, sample_rate, speed)
    if shift > 0:
        stretched = stretched[shift:]
    elif shift < 0:
        stretched = np.concatenate([np.zeros((-shift, stretched.shape[1]), np.float32), stretched])
    return np.ascontiguousarray(stretched, dtype=np.float32)


def _time_stretch(audio: Audio, sample_rate: Rate | float, speed: Fraction | float) -> Audio:
    stretched = pedalboard.time_stretch(np.ascontiguousarray(audio.T), float(sample_rate), stretch_factor=float(speed), high_quality=False)
    return np.ascontiguousarray(stretched.T, dtype=np.float32)


def offset_frames(sample_rate: float, speed: float) -> int:
    """How many frames late (negative: early) the stretcher puts what it is given, at this rate and ratio."""
    return _probe(sample_rate, speed)[0]


def stretch_seconds(frames: int, channels: int, sample_rate: float, speed: float) -> float:
    """About how long stretching that much audio takes on this machine (from timing the probe), for progress."""
    seconds_per_frame = _probe(sample_rate, speed)[1]
    return seconds_per_frame * frames * channels


@functools.lru_cache(maxsize=32)
def _probe(sample_rate: float, speed: float) -> tuple[int, float]:
    """The stretcher's offset at this rate and ratio, and its seconds per mono frame of music.

    Stretches eight short tone bursts half a second apart and compares each one's energy centroid with
    where it belongs (its centre / speed); the median of the differences, to the nearest frame.
    """
    spacing, width = round(0.5 * sample_rate), round(0.004 * sample_rate)
    t = np.arange(width) / sample_rate
    burst = (np.hanning(width) * np.sin(2 * np.pi * 2000 * t)).astype(np.float32)
    centres = [spacing * (k + 1) for k in range(8)]
    probe = np.zeros((spacing * 10, 1), np.float32)
    for centre in centres:
        probe[centre - width // 2 : centre - width // 2 + width, 0] = burst
    energy = _time_stretch(probe, sample_rate, speed)[:, 0].astype(np.float64) ** 2
    noise = np.random.default_rng(0).normal(0.0, 0.1, (round(sample_rate), 1)).astype(np.float32)  # music costs more than silence
    started = time.perf_counter()
    _time_stretch(noise, sample_rate, speed)
    seconds_per_frame = (time.perf_counter() - started) / len(noise)
    reach = round(0.1 * sample_rate)
    offsets = []
    for centre in centres:
        expected = (centre - 0.5 + width % 2 / 2) / speed
        lo = max(0, round(expected) - reach)
        window = energy[lo : round(expected) + reach]
        if window.sum() > 0:
            offsets.append(lo + float((window * np.arange(len(window))).sum() / window.sum()) - expected)
    return (round(float(np.median(offsets))) if offsets else 0), seconds_per_frame


def is_cached(path: Path, sample_rate: Rate, speed: Fraction) -> bool:
    return _cache_path(path, sample_rate, speed).is_file()


def _cache_path(path: Path, sample_rate: Rate, speed: Fraction) -> Path:
    """Keyed by the file's path, size and modification time, the rate, the factor and how we stretch."""
    info = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}|{sample_rate}|{speed}|{STRETCH_VERSION}".encode()).hexdigest()
    return cache_folder() / f"{key[:24]}.flac"


def stretched_track(path: Path, sample_rate: Rate, speed: Fraction, frames: int) -> tuple[Audio, bool]:
    """The track at `speed`, `frames` long, from the cache when it is there; and whether it was.

    Only whole sample rates are cached (a film speed with a mashup stretch gives fractional ones: rare).
    """
    info = path.stat()
    key = hashlib.sha256(
        f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}|{sample_rate}|{speed}|{STRETCH_VERSION}".encode()
    ).hexdigest()[:24]
    cached = cache_folder() / f"{key}.flac"
    cacheable = Fraction(sample_rate).denominator == 1
    if cacheable and cached.is_file():
        try:
            audio = read_audio(cached, sample_rate)
            if len(audio) == frames:
                return audio, True
        except AudioFileError:
            pass  # unreadable: make it again
    audio = stretch(read_audio(path, sample_rate), sample_rate, speed)
    audio = audio[:frames] if len(audio) >= frames else np.pad(audio, ((0, frames - len(audio)), (0, 0)))
    if not cacheable:
        return audio, False
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_audio(cached, iter([audio]), int(sample_rate), audio.shape[1], "PCM_24")
    except (ShowControlError, OSError):  # a full disk, a folder or FIFO where the file goes, ...
        pass  # a cache that cannot be written costs time next run, nothing else
    return audio, False
