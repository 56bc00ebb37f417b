"""The marking keys of `run`'s terminal: c, y, b drop a cue, lyric-line or breath marker at the playhead,
snapped to the half beat (shift: as heard), saved at once to the song's marks file; t taps a tempo."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from showcontrol.app import ShowRunner
from showcontrol.load.marks_file import marks_path, write_marks
from showcontrol.marks import MARK_KINDS, Marker, TapTempo, marker_at

MARK_KEYS = frozenset({*MARK_KINDS, *(k.upper() for k in MARK_KINDS), "t"})


class MarkKeys:
    def __init__(self, runner: ShowRunner) -> None:
        self.runner = runner
        self.markers: list[Marker] = []
        self.path = marks_path(runner.loaded.show.path, runner.song.id)
        self.taps = TapTempo()

    def press(self, key: str, now: float) -> str:
        """Act on a marking key pressed at monotonic `now`; what to show."""
        if key == "t":
            bpm = self.taps.tap(now)
            return f"tap {len(self.taps.taps)}" + (f": {bpm:.1f} BPM" if bpm is not None else " (keep tapping)")
        seconds = float(Fraction(self.runner.song_frame_now(), 1) / self.runner.timeline.sample_rate)
        marker = marker_at(self.runner.timeline.tempo, seconds, key)
        self.markers.append(marker)
        try:
            write_marks(self.path, self.runner.loaded.show.path, self.runner.song.id, self.markers)
        except OSError as error:
            return f"{marker.kind} marker at {marker.at} NOT saved ({error.strerror or error}); it is kept and saved with the next"
        heard = "" if marker.raw or marker.heard == marker.at else f" (heard {marker.heard})"
        return f"{marker.kind} marker {len(self.markers)} at {marker.at}{heard} → {openable(self.path)}"


def openable(path: Path) -> str:
    """The path as the user can open it from where they are: relative below the working folder, else absolute."""
    absolute = path.absolute()
    return str(absolute.relative_to(Path.cwd())) if absolute.is_relative_to(Path.cwd()) else str(absolute)
