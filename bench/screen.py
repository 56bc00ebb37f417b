"""What the operator's full screen costs: its drawing, and the cues' lateness while it is up.

    python bench/screen.py [--seconds 40]

1. Drawing: `render` of a busy ShowStatus (12 cues, a 20-song set list, three outputs, two messages) into
   a rich Console at 80×24 and 200×50, as ms per frame (p50 / p99 / max) and bytes per frame.
2. Cues: a song with an OSC cue on every eighth note at 120 BPM (to a UDP socket this script reads), played
   by `showcontrol run` on SDL's dummy driver twice in the same minutes: headless (the baseline), then at a
   200×50 tmux terminal with the screen redrawing ten times a second. Lateness is each cue's show-log
   `late_ms` (sent minus its audio-clock deadline), p50 / p99 / max, and the screen-to-headless ratio at p99.
Timing on a shared machine is noisy: compare the two runs of one invocation, not figures across days.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from rich.console import Console

from showcontrol.status import (
    QUIT_AGAIN,
    AudioStatus,
    LastTake,
    Level,
    Message,
    NextCue,
    NowPlaying,
    OperatorInput,
    OutputHealth,
    SetListEntry,
    ShowStatus,
    TakeLogStatus,
    keys_now,
)
from showcontrol.ui.screen import render

REPO = Path(__file__).resolve().parent.parent


def busy_status(frame: int) -> ShowStatus:
    return ShowStatus(
        now=float(frame),
        playing=NowPlaying(
            "slow-burn", "Slow Burn", "playing", "chorus", 12 + frame % 4, 1 + frame % 4, 23.4 + frame / 10, 70.0, "", 100.0, 1.0, None, 1
        ),
        next_cues=tuple(NextCue(f"cue {n}", "lights", f"{n}.1", 0.1 * frame + n) for n in range(12)),
        set_list=tuple(SetListEntry(n, f"s{n}", f"Song {n}", n == 3, n == 4) for n in range(1, 21)),
        outputs=(
            OutputHealth("lights", "up", "", frame, 0),
            OutputHealth("monitors", "down", "refused", 0, 3),
            OutputHealth("keys", "up", "", 5, 0),
        ),
        audio=AudioStatus("ok", "ok", "alsa", "hw:0"),
        takes=TakeLogStatus("takes.jsonl", 3, 0, LastTake("slow-burn", 3, "open", 9, None, None, "")),
        messages=(Message("take 2 marked GOOD", until=1e9), Message(QUIT_AGAIN, Level.QUESTION, 1e9)),
        keys=keys_now("playing", OperatorInput(), True, True),
        typing="",
    )


def drawing(width: int, height: int, frames: int = 300) -> tuple[np.ndarray, float]:
    costs, written = [], 0
    for frame in range(frames):
        out = io.StringIO()
        console = Console(file=out, width=width, height=height, force_terminal=True, color_system="256")
        started = time.perf_counter()
        console.print(render(busy_status(frame), width, height))
        costs.append((time.perf_counter() - started) * 1000)
        written += len(out.getvalue().encode())
    return np.array(costs), written / frames


def eighths_show(folder: Path, port: int, seconds: int) -> Path:
    bars = seconds // 2
    (folder / "patch.yaml").write_text(
        f"version: 1\naudio: {{sample_rate: 48000, channels: 2, buffer_frames: 256}}\noutputs:\n  lights: {{type: osc, host: 127.0.0.1, port: {port}}}\n"
    )
    cues = "\n".join(
        f"      - {{at: {bar}.{beat}{half}, osc: {{to: lights, address: /go}}}}"
        for bar in range(1, bars + 1)
        for beat in range(1, 5)
        for half in ("", ".240")
    )
    show = folder / "show.yaml"
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: s\n    end: {bars + 1}.1\n    tempo: [{{bar: 1, bpm: 120}}]\n    cues:\n{cues}\n"
    )
    return show


def lateness(log: Path) -> np.ndarray:
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return np.array([line["late_ms"] for line in lines if line.get("kind") == "osc"])


def drain(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            sock.recv(2048)
        except TimeoutError:
            continue


def headless(show: Path, log: Path) -> None:
    command = [sys.executable, "-m", "showcontrol", "run", str(show), "--headless", "--audio-driver", "dummy", "--log", str(log)]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)


def on_screen(show: Path, log: Path, seconds: int) -> None:
    server = ["tmux", "-L", f"bench-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
    run = f"{sys.executable} -m showcontrol run {show} --audio-driver dummy --log {log}"
    subprocess.run([*server, "new-session", "-d", "-x", "200", "-y", "50", "-s", "b", f"cd {REPO} && {run}"], check=True)
    try:
        while "cued bar" not in subprocess.run([*server, "capture-pane", "-p", "-t", "b"], capture_output=True, text=True).stdout:
            time.sleep(0.2)
        subprocess.run([*server, "send-keys", "-t", "b", "Space"], check=True)
        time.sleep(seconds + 3)
        subprocess.run([*server, "send-keys", "-t", "b", "q"], check=True)
        time.sleep(2)
    finally:
        subprocess.run([*server, "kill-server"], capture_output=True)


def figures(values: np.ndarray) -> str:
    return f"p50 {np.percentile(values, 50):6.3f}  p99 {np.percentile(values, 99):6.3f}  max {values.max():6.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=40, help="the song's length (default 40 s)")
    args = parser.parse_args()
    for width, height in ((80, 24), (200, 50)):
        costs, per_frame = drawing(width, height)
        print(f"drawing {width}x{height}: ms per frame {figures(costs)}; {per_frame / 1000:.1f} kB per frame")
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    stop = threading.Event()
    threading.Thread(target=drain, args=(receiver, stop), daemon=True).start()
    with tempfile.TemporaryDirectory() as folder:
        show = eighths_show(Path(folder), receiver.getsockname()[1], args.seconds)
        headless(show, Path(folder) / "headless.jsonl")
        on_screen(show, Path(folder) / "screen.jsonl", args.seconds)
        base, screen = lateness(Path(folder) / "headless.jsonl"), lateness(Path(folder) / "screen.jsonl")
    stop.set()
    print(f"cue lateness, headless   ({len(base)} cues), ms: {figures(base)}")
    print(f"cue lateness, 200x50 screen ({len(screen)} cues), ms: {figures(screen)}")
    print(f"p99 ratio screen / headless: {np.percentile(screen, 99) / max(np.percentile(base, 99), 1e-6):.2f}")


if __name__ == "__main__":
    main()
