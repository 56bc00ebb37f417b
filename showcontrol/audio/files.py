"""Reading and writing audio files: the only module that touches soundfile and soxr.

soundfile (libsndfile) decodes WAV, FLAC, OGG and MP3 to float32; soxr resamples to the engine
rate at its very-high-quality setting. Writes go to a temporary file renamed into place.
"""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile
import soxr

from showcontrol.atomic_write import atomic_path
from showcontrol.errors import AudioFileError, BadInputError
from showcontrol.timeline.tempo import Rate

Audio = npt.NDArray[np.float32]
MAX_DECODED_BYTES = 2 * 2**30  # a track in memory as float32 at the engine rate: an hour of stereo at 48 kHz is 1.3 GiB


def resampled_length(frames: int, from_rate: int, to_rate: Rate) -> int:
    """How many frames a file has at the engine rate (what `read_audio` returns)."""
    return int(-(-frames * to_rate // from_rate))


def _regular_file(path: Path) -> None:
    """Raise AudioFileError unless `path` is a readable, non-empty regular file: libsndfile would wait forever on
    a FIFO, read /dev/zero to the end of memory, and call a permission problem a "System error"."""
    try:
        info = path.stat()
        if stat.S_ISREG(info.st_mode):
            with path.open("rb"):
                pass
    except FileNotFoundError:
        raise AudioFileError(f"{path} does not exist") from None
    except PermissionError:
        raise AudioFileError(f"{path} cannot be read: permission denied") from None
    except OSError as error:
        raise AudioFileError(f"{path} cannot be read: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise AudioFileError(f"{path} is a folder, not an audio file")
    if not stat.S_ISREG(info.st_mode):
        raise AudioFileError(f"{path} is a pipe, device or socket, not an audio file")
    if info.st_size == 0:
        raise AudioFileError(f"{path.name} is empty (0 bytes)")


def audio_length(path: Path, sample_rate: Rate) -> int:
    """Length in frames at `sample_rate`, from the header only; raises AudioFileError."""
    _regular_file(path)
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioFileError(_reason(path, error)) from None
    if info.frames <= 0:
        raise AudioFileError(f"{path.name} holds no audio")
    frames = resampled_length(info.frames, info.samplerate, sample_rate)
    if frames * info.channels * 4 > MAX_DECODED_BYTES:
        size = frames * info.channels * 4 / 2**30
        raise AudioFileError(
            f"{path.name} ({info.channels} channels) would take {size:.1f} GiB decoded; the limit is {MAX_DECODED_BYTES // 2**30} GiB"
        )
    return frames


def read_audio(path: Path, sample_rate: Rate) -> Audio:
    """Decode a whole file to float32 (frames, channels) at `sample_rate`; raises AudioFileError."""
    _regular_file(path)
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioFileError(_reason(path, error)) from None
    if len(data) == 0:
        raise AudioFileError(f"{path.name} holds no audio")
    if file_rate != sample_rate:
        expected = resampled_length(len(data), file_rate, sample_rate)
        data = soxr.resample(data, file_rate, float(sample_rate), quality="VHQ").astype(np.float32, copy=False)
        data = _exact_length(data, expected)
    return np.ascontiguousarray(data)


def _exact_length(data: Audio, frames: int) -> Audio:
    if len(data) >= frames:
        return data[:frames]
    return np.concatenate([data, np.zeros((frames - len(data), data.shape[1]), np.float32)])


def _reason(path: Path, error: Exception) -> str:
    if not path.exists():
        return f"{path} does not exist"
    return f"{path.name} cannot be decoded as audio ({str(error).strip() or type(error).__name__})"


def write_audio(path: Path, blocks: Iterator[Audio], sample_rate: int, channels: int, subtype: str | None = None) -> None:
    """Write blocks to `path` atomically: a crash leaves the old file, never half a new one. 24-bit unless told."""
    kind = audio_format(path)
    with atomic_path(path) as temporary:
        _encode(str(temporary), path, kind, blocks, sample_rate, channels, subtype)


def audio_bytes(path: Path, blocks: Iterator[Audio], sample_rate: int, channels: int) -> bytes:
    """The file `path` would get from `write_audio`, in memory (to add a tag in front before it is written)."""
    buffer = io.BytesIO()
    _encode(buffer, path, audio_format(path), blocks, sample_rate, channels, None)
    return buffer.getvalue()


def audio_format(path: Path) -> str:
    """libsndfile's format for the file name's suffix; BadInputError for one it cannot write."""
    kind = path.suffix.lstrip(".").upper() or "WAV"
    if kind not in soundfile.available_formats():
        raise BadInputError(f"cannot write {path}: unknown audio format {path.suffix!r}; use .wav or .flac")
    return kind


def _encode(
    file: str | io.BytesIO, path: Path, kind: str, blocks: Iterator[Audio], sample_rate: int, channels: int, subtype: str | None
) -> None:
    if subtype is None and kind in ("WAV", "FLAC", "AIFF"):
        subtype = "PCM_24"
    try:
        with soundfile.SoundFile(file, "w", sample_rate, channels, subtype=subtype, format=kind) as sound:
            for block in blocks:
                sound.write(block)
    except soundfile.LibsndfileError as error:  # its message names the file it opened (a temporary one): say why only
        reason = error.error_string.strip().removeprefix("Error : ")
        if reason.startswith("Format not recognised"):
            reason = f"{kind} cannot hold {channels} channels at {sample_rate} Hz; use .wav or .flac"
        raise BadInputError(f"cannot write {path}: {reason}") from None
    except (RuntimeError, ValueError) as error:  # soundfile's check of the format and subtype
        raise BadInputError(f"cannot write {path}: {error} (format {kind}, subtype {subtype or 'default'})") from None


def load_spoken_counts(sample_rate: int) -> dict[int, Audio]:
    """The shipped spoken numbers one to twelve (made with espeak-ng by tools/make_voice_samples.sh), mono."""
    counts = {}
    folder = resources.files("showcontrol.sounds")
    for number in range(1, 13):
        with resources.as_file(folder / f"count-{number}.flac") as sample_path:
            counts[number] = read_audio(sample_path, sample_rate)[:, 0].copy()
    return counts
