"""Spoken guide calls ("verse 2 in 4") made with espeak-ng, the voice of the shipped count-in numbers.

The only module that runs a speech synthesiser. Calls are made once per show load, before playback,
and trimmed of leading silence so each starts on the frame it is placed at. Without espeak-ng the
calls are silent and a warning says how to get them; nothing else changes.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from showcontrol.audio.files import read_audio
from showcontrol.errors import AudioFileError

log = logging.getLogger(__name__)

SPEAKER = "espeak-ng"
VOICE = ("-v", "en-us", "-s", "190", "-a", "180")  # as tools/make_voice_samples.sh made the numbers
SILENCE = 0.01  # of the peak: what counts as silence when trimming
Samples = npt.NDArray[np.float32]


def speech_available() -> bool:
    return shutil.which(SPEAKER) is not None


def speak_all(texts: Iterable[str], sample_rate: int) -> Mapping[str, Samples]:
    """Each distinct text spoken, mono at `sample_rate`, starting on its first audible sample and peaking at -3 dB."""
    wanted = sorted(set(texts))
    if not wanted:
        return {}
    if not speech_available():
        log.warning("spoken guide calls are silent: %s is not installed (apt-get install espeak-ng)", SPEAKER)
        return {}
    spoken = {}
    with tempfile.TemporaryDirectory(prefix="showcontrol-calls-") as folder:
        for index, text in enumerate(wanted):
            path = Path(folder) / f"{index}.wav"
            try:
                # the text on stdin, never in argv: a call such as "-wout.wav" must not become an option
                subprocess.run(
                    [SPEAKER, *VOICE, "-w", str(path), "--stdin"], input=text.encode(), check=True, capture_output=True, timeout=30
                )
                spoken[text] = _trimmed(read_audio(path, sample_rate)[:, 0])
            except (OSError, subprocess.SubprocessError, AudioFileError) as error:
                log.warning("guide call %r is silent: %s failed (%s)", text, SPEAKER, error)
    return spoken


def _trimmed(voice: Samples) -> Samples:
    peak = float(np.abs(voice).max(initial=0.0))
    if peak == 0:
        return voice
    audible = np.flatnonzero(np.abs(voice) >= SILENCE * peak)
    return np.ascontiguousarray(voice[audible[0] : audible[-1] + 1] * np.float32(10 ** (-3 / 20) / peak))
