"""What the operator asked `showcontrol run` for: the options of one run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from showcontrol.model.position import BarBeat
from showcontrol.timeline.start import TOP


@dataclass(frozen=True)
class RunOptions:
    """`song_id` None opens the whole show (its set list); a song id opens that one song only (`--song`)."""

    song_id: str | None = None
    start: BarBeat = TOP  # where GO plays the first song from: a bar's downbeat or another beat (timeline/start.py)
    audio_driver: str | None = None
    require_audio: bool = False
    midi_api: str = "auto"
    log_path: Path | None = None
    stop_fade_s: float = 0.5  # an interrupted number fades out over this long
    count_in_bars: int | None = None  # bars of count-in before a start from a later bar (None: the song's own)
    takes_path: Path | None = None  # the take log (None: the show's own beside the show log)
    audio_device: str | None = None  # --audio-device: this output instead of the patch's


def default_log_path(name: str) -> Path:
    """showlogs/20261201-143000-NAME.jsonl: the song's id for one song, the show's name for a set."""
    return Path("showlogs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}.jsonl"
