"""Offline render speed: a 4-minute song with track, click (with subdivisions) and LTC, as `showcontrol render` does it.

    python bench/render.py [--minutes 4] [--repeat 3]

Prints each stage's time and the whole render's multiple of real time (best of --repeat runs).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from showcontrol.load.show_file import load_show
from showcontrol.offline import render_song

PATCH = """version: 1
audio: {sample_rate: 48000, channels: 4, routes: {track: [1, 2], click: 3, ltc: 4}}
"""
SHOW = """version: 1
patch: patch.yaml
songs:
  - id: bench
    audio: track.flac
    first_downbeat: 0.5
    tempo:
      - {{bar: 1, bpm: 124, meter: 4/4}}
      - {{bar: 41, meter: 7/8, groups: [2, 2, 3]}}
      - {{bar: 49, bpm: 132, meter: 4/4, ramp_bars: 4}}
    count_in: {{bars: 2, voice: true}}
    click: {{subdivide: 2}}
    timecode: {{rate: 29.97df, start: "00:59:50;00"}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        rate = 44100  # the track is resampled to 48 kHz, as most real tracks are
        t = np.arange(int(args.minutes * 60 * rate)) / rate
        tone = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
        soundfile.write(root / "track.flac", np.stack([tone, tone], axis=1), rate)
        (root / "patch.yaml").write_text(PATCH)
        (root / "show.yaml").write_text(SHOW.format())
        audio_seconds = args.minutes * 60
        totals, loads = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            loaded = load_show(root / "show.yaml")
            loaded_at = time.perf_counter()
            render_song(loaded, "bench", root / "out.wav", root / "trace.jsonl")
            finished = time.perf_counter()
            loads.append(loaded_at - started)
            totals.append(finished - started)
        best = min(totals)
        events = len(loaded.timelines["bench"].events)
        print(
            f"song: {audio_seconds:.0f} s, 4 channels at 48 kHz (track 44.1k->48k, click with subdivisions, LTC 29.97df), {events} events"
        )
        print(
            f"load+compile: best {min(loads):.3f} s; render total: best {best:.2f} s, median {statistics.median(totals):.2f} s over {args.repeat} runs"
        )
        print(f"speed: {audio_seconds / best:.0f}x real time (best), {audio_seconds / statistics.median(totals):.0f}x (median)")


if __name__ == "__main__":
    main()
