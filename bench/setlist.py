"""A set list played through: the song change, the current song's timing while the next one prepares, memory.

    python bench/setlist.py [--songs 20] [--minutes 4] [--play-bars 3] [--format wav|flac]

Writes `--songs` songs of `--minutes` each (48 kHz stereo tracks, a tone each, decoded for real when the
show runs; an OSC cue on every eighth note of its last 8 bars to a UDP receiver) into a temporary folder and plays the whole
show in process on SDL's dummy driver. To keep the run short each song is played from its last
`--play-bars` bars only (GO from there as soon as it is ready); the next song is decoded, compiled and
prepared in the background meanwhile, exactly as in a full-length set. Prints:
  - end -> GO-ready: from a song's end (its last frame on the audio clock) to the next one installed,
    as the runner measures it, p50 / p99 / max;
  - how long each next song took to prepare in the background;
  - dispatch lateness of the playing song's cues (sent minus due, from the show log) while the next song
    was being prepared, and while nothing was, p50 / p99 / max;
  - memory: the process's RSS with its children's and the shared stems it maps, before opening, its
    maximum over the set, at the end, at each GO, beside one song's audio;
  - a follow with no gap: `--follows` more songs of 2 s, each following the one before with no gap, played
    headless on SDL's disk driver at its real-time pace (the audio the callback delivered, to the frame):
    frames from one song's last sample to the next one's first (0: on the frame), p50 / p99 / max.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))
from peers import UdpReceiver  # noqa: E402

from showcontrol.app import RunOptions, ShowRunner  # noqa: E402
from showcontrol.load.show_file import load_show  # noqa: E402

RATE = 48000
BPM = 120  # 4/4: a bar is 2 s


def write_show(folder: Path, songs: int, minutes: float, audio_format: str, osc_port: int) -> Path:
    seconds = minutes * 60
    bars = int(seconds / 2)
    t = np.arange(int(seconds * RATE), dtype=np.float32) / RATE
    entries = []
    for number in range(1, songs + 1):
        tone = (0.1 * np.sin(2 * np.pi * (110 + 10 * number) * t)).astype(np.float32)
        soundfile.write(folder / f"song{number:02}.{audio_format}", np.stack([tone, tone], axis=1), RATE, subtype="PCM_16")
        cues = "\n".join(  # every eighth note of the last 8 bars
            f"      - {{at: {bar}.{beat}.{tick}, osc: {{to: lights, address: /cue, args: [{number}, {bar}, {beat}, {tick}]}}}}"
            for bar in range(max(bars - 8, 1), bars + 1)
            for beat in range(1, 5)
            for tick in (0, 240)
        )
        entries.append(
            f"  - id: song{number:02}\n    audio: song{number:02}.{audio_format}\n    end: {bars + 1}.1\n"
            f"    tempo: [{{bar: 1, bpm: {BPM}}}]\n    cues:\n{cues}\n"
        )
    (folder / "patch.yaml").write_text(
        "version: 1\naudio: {sample_rate: 48000, channels: 3, buffer_frames: 256, routes: {track: [1, 2], click: 3}}\n"
        f"outputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}\n"
    )
    show = folder / "show.yaml"
    show.write_text("version: 1\npatch: patch.yaml\nsongs:\n" + "".join(entries))
    return show


def follow_lateness(folder: Path, songs: int) -> list[int]:
    """Frames between each song's last sample and the next one's first, in a set where each follows the one
    before with no gap (0: the hand-over was on the frame), from what SDL's disk driver was given."""
    levels = [(k + 1) / (songs + 1) for k in range(songs)]  # each track one constant level: its samples say whose they are
    entries, setlist = [], []
    for number, level in enumerate(levels, 1):
        soundfile.write(folder / f"f{number}.wav", np.full((2 * RATE, 1), level, np.float32), RATE, subtype="FLOAT")
        entries.append(f"  - {{id: f{number}, audio: f{number}.wav, click: false, end: 2.1, tempo: [{{bar: 1, bpm: {BPM}}}]}}\n")
        setlist.append(f"  - {{song: f{number}, follow: true}}\n" if number < songs else f"  - f{number}\n")
    (folder / "patch.yaml").write_text("version: 1\naudio: {sample_rate: 48000, channels: 1, buffer_frames: 256, routes: {track: 1}}\n")
    show = folder / "follows.yaml"
    show.write_text("version: 1\npatch: patch.yaml\nsetlist:\n" + "".join(setlist) + "songs:\n" + "".join(entries))
    played = folder / "follows.raw"
    command = [sys.executable, "-m", "showcontrol", "run", str(show), "--headless", "--audio-driver", "disk"]
    env = {**os.environ, "SDL_DISKAUDIOFILE": str(played)}  # at the driver's real-time pace: the watcher arms as in a show
    subprocess.run([*command, "--log", str(folder / "f.jsonl")], check=True, capture_output=True, env=env, timeout=60 + 4 * songs)
    audio = np.fromfile(played, np.float32)
    edges = np.flatnonzero(np.diff(audio)) + 1
    starts = {round(float(audio[e]) * (songs + 1)): int(e) for e in edges if audio[e] != 0}  # each level's first frame
    ends = {round(float(audio[e - 1]) * (songs + 1)): int(e) for e in edges if audio[e - 1] != 0}  # and the frame after its last
    return [starts[k + 1] - ends[k] for k in range(1, songs)]


def rss_mb() -> float:
    """This process's RSS, its children's (the stem maker's), and the whole of the shared stems it maps
    (only the pages it has touched count in its RSS; the others are in memory all the same)."""
    total = 0
    with open("/proc/self/smaps") as smaps:
        shared = False
        for line in smaps:
            if "-" in line.split(" ", 1)[0]:  # a mapping's first line
                shared = "showcontrol-stem-" in line
            elif line.startswith("Size:" if shared else "Rss:"):
                total += int(line.split()[1]) * 1024
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            with contextlib.suppress(OSError, IndexError):  # gone meanwhile
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096
    return total / 2**20


def figures(values: list[float]) -> str:
    if not values:
        return "n=0"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"n={len(values)}  p50 {statistics.median(ordered):.3f}  p99 {p99:.3f}  max {ordered[-1]:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--play-bars", type=int, default=3)
    parser.add_argument("--format", choices=("wav", "flac"), default="wav")
    parser.add_argument("--follows", type=int, default=8, help="songs of the no-gap follow run (0: none)")
    args = parser.parse_args()

    receiver = UdpReceiver()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        show = write_show(Path(folder), args.songs, args.minutes, args.format, receiver.port)
        print(f"wrote {args.songs} songs of {args.minutes:g} min ({args.format}) in {time.perf_counter() - started:.0f} s")
        loaded = load_show(show)
        bars = int(args.minutes * 30)
        from_bar = bars - args.play_bars + 1
        samples: list[float] = []
        done = threading.Event()

        def sample_rss() -> None:
            while not done.wait(0.2):
                samples.append(rss_mb())

        before = rss_mb()
        threading.Thread(target=sample_rss, daemon=True).start()
        windows: dict[int, tuple[float, float]] = {}  # each preparation's start and end (not the job: it holds its version)
        at_go: list[float] = []  # RSS at each GO: bounded if only two songs stay in memory
        log_path = Path(folder) / "show.jsonl"
        wall_to_monotonic = time.monotonic() - time.time()
        with ShowRunner(loaded, RunOptions(None, audio_driver="dummy", log_path=log_path)) as runner:
            for number in range(args.songs):
                while not (runner.ready_to_go and runner.index == number):
                    time.sleep(0.005)
                at_go.append(rss_mb())
                runner.locate(from_bar)
                runner.play()
                while runner.index == number and not runner.set_done:  # the next song comes in at once at the end
                    if (job := runner.standby_job) is not None and job.ready_at is not None:
                        windows[id(job)] = (job.started, job.ready_at)
                    time.sleep(0.005)
            changes = [s * 1000 for s in runner.song_changes_s]
            fallbacks = runner.preparation_notes  # the stem maker's: figures with one are not the maker's
        done.set()
        after = rss_mb()
        records = [json.loads(line) for line in log_path.read_text().splitlines()]
        late_frames = follow_lateness(Path(folder), args.follows) if args.follows > 1 else []
    receiver.close()

    preparing: list[float] = []
    quiet: list[float] = []
    for record in records:
        if record.get("kind") != "osc" or "late_ms" not in record:
            continue
        due = record["scheduled"] + wall_to_monotonic
        (preparing if any(start <= due <= end for start, end in windows.values()) else quiet).append(record["late_ms"])
    song_mb = args.minutes * 60 * RATE * 2 * 4 / 2**20
    print(f"{args.songs} songs of {args.minutes:g} min, each played from bar {from_bar} of {bars} (its last {args.play_bars} bars)")
    print(f"end -> GO-ready (ms):                 {figures(changes)}")
    print(f"next song prepared in background (s): {figures([end - start for start, end in windows.values()])}")
    print(f"dispatch late (ms), next preparing:   {figures(preparing)}")
    print(f"dispatch late (ms), nothing preparing: {figures(quiet)}")
    print(
        f"RSS (MB): before opening {before:.0f}, max over the set {max(samples, default=after):.0f}, at the end {after:.0f}; one song's track {song_mb:.0f}"
    )
    print("RSS at each GO (MB): " + " ".join(f"{mb:.0f}" for mb in at_go))
    if late_frames:
        print(f"follow with no gap, frames late:      {figures([float(f) for f in late_frames])}  (0: on the frame after the last)")
    for note in fallbacks:
        print(f"preparing: {note}")
    print("figures from a shared 2-core machine: noisy; compare the two dispatch lines of the same run, not across runs")


if __name__ == "__main__":
    main()
