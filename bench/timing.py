"""Cue timing against the audio clock: showcontrol versus a naive script, in the same run.

    python bench/timing.py [--minutes 2] [--bpm 120]

A song with a cue on every eighth note to each of OSC (UDP), MIDI (JACK) and MQTT (Mosquitto) is played
twice on SDL's dummy audio driver while another process keeps the second core busy:
  1. by `showcontrol run` (audio-clock deadlines, dispatcher thread);
  2. by bench/naive.py (pygame.mixer playback and a time.sleep loop, as a typical script would do).
For each output it prints dispatch error against that run's audio clock and receive-side lateness on
loopback, as p50 / p99 / max in milliseconds, and the baseline-to-showcontrol ratio at p99.
While showcontrol plays, bench/floor.py's real-time thread meets deadlines as often, doing nothing
else, in its own process: the machine's floor in those same minutes (on a shared VM, mostly the CPU
time the hypervisor gives to other tenants), which no program could beat.
showcontrol's deadlines come from its own audio clock (the DLL); the baseline's from the mixer's own
position (get_pos), fitted over the whole run. Needs mosquitto, mosquitto_sub and jackd on PATH.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido
import numpy as np
import soundfile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from floor import stolen_ms  # noqa: E402
from peers import Broker, Subscriber, UdpReceiver, start_jack  # noqa: E402

WALL_TO_MONOTONIC_NS = time.monotonic_ns() - time.time_ns()
BUFFER_FRAMES = 256
RATE = 48000


def write_show(folder: Path, minutes: float, bpm: int, osc_port: int, broker_port: int) -> tuple[Path, Path, list[dict[str, float]]]:
    seconds = minutes * 60
    t = np.arange(int((seconds + 2) * RATE)) / RATE
    tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    soundfile.write(folder / "track.wav", np.stack([tone, tone], axis=1), RATE)
    eighth = 30 / bpm
    cues, lines = [], []
    for n in range(1, int(seconds / eighth)):
        at = f"{n * eighth:.6f}s"
        cues.append({"n": n, "time": n * eighth})
        lines.append(
            f"      - {{at: {at}, osc: {{to: lights, address: /beat, args: [{n}]}}, "
            f"midi: {{to: keys, note_on: [{36 + n % 64}, 100]}}, mqtt: {{to: monitors, topic: beat, payload: '{n}'}}}}"
        )
    show = folder / "show.yaml"
    body = "\n".join(lines)
    show.write_text(
        f"version: 1\nsongs:\n  - id: bench\n    audio: track.wav\n    end: {seconds + 1:.3f}s\n"
        f"    tempo: [{{bar: 1, bpm: {bpm}}}]\n    click: false\n    cues:\n{body}\n"
    )
    patch = folder / "patch.yaml"
    patch.write_text(f"""version: 1
audio: {{sample_rate: {RATE}, channels: 2, buffer_frames: {BUFFER_FRAMES}}}
outputs:
  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}
  keys: {{type: midi, port: bench-keys}}
  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker_port}, topic_prefix: bench/}}
""")
    return show, patch, cues


class Receivers:
    def __init__(self, broker_port: int) -> None:
        self.osc = UdpReceiver()
        self.midi: list[tuple[int, mido.Message]] = []
        self.midi_port = mido.Backend("mido.backends.rtmidi/UNIX_JACK").open_input(
            "bench-keys", virtual=True, client_name="bench", callback=lambda m: self.midi.append((time.monotonic_ns(), m))
        )
        self.mqtt = Subscriber(broker_port, "+/beat")

    def take(self) -> dict[str, list[int]]:
        """Receive times (monotonic ns) by cue order, then reset for the next run."""
        osc = [t for t, _ in self.osc.datagrams]
        midi = [t for t, m in self.midi if m.type == "note_on"]
        mqtt = [t + WALL_TO_MONOTONIC_NS for t, _, _ in self.mqtt.lines]
        self.osc.clear()
        self.midi.clear()
        self.mqtt.lines.clear()
        return {"osc": osc, "midi": midi, "mqtt": mqtt}

    def close(self) -> None:
        self.osc.close()
        self.midi_port.close()
        self.mqtt.close()


def run_checked(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{command[1]} failed:\n{result.stderr[-3000:]}")


def run_showcontrol(
    show: Path, patch: Path, log: Path, minutes: float, every_s: float
) -> tuple[dict[str, list[tuple[int, int]]], list[int]]:
    """(deadline, sent) in monotonic ns per output, in cue order, from the show log; and the floor's
    lateness in ns, measured meanwhile."""
    floor = subprocess.Popen(
        [sys.executable, str(HERE / "floor.py"), "--minutes", str(minutes), "--every-ms", str(every_s * 1000), "--quiet", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    run_checked(
        [
            sys.executable,
            "-m",
            "showcontrol",
            "run",
            str(show),
            "--patch",
            str(patch),
            "--audio-driver",
            "dummy",
            "--midi-api",
            "jack",
            "--log",
            str(log),
            "--headless",
        ]
    )
    times: dict[str, list[tuple[int, int]]] = {"osc": [], "midi": [], "mqtt": []}
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if record.get("kind") in times:
            times[record["kind"]].append(
                (int(record["scheduled"] * 1e9) + WALL_TO_MONOTONIC_NS, int(record["sent"] * 1e9) + WALL_TO_MONOTONIC_NS)
            )
    floor_out, _ = floor.communicate()
    return times, json.loads(floor_out)


def run_naive(folder: Path, cues: list[dict[str, float]], osc_port: int, broker_port: int) -> dict[str, list[tuple[int, int]]]:
    plan, out = folder / "plan.json", folder / "naive.json"
    plan.write_text(
        json.dumps(
            {"cues": cues, "osc_port": osc_port, "midi_port": "bench-keys", "broker_port": broker_port, "track": str(folder / "track.wav")}
        )
    )
    run_checked([sys.executable, str(HERE / "naive.py"), str(plan), str(out)])
    result = json.loads(out.read_text())
    samples = np.array([(t, pos) for t, pos in result["positions"] if pos > 0], dtype=np.float64)
    slope, intercept = np.polyfit(samples[:, 1], samples[:, 0], 1)  # the mixer's audio clock: ns at each ms of audio
    print(
        f"  naive: the mixer's audio ran at {1e6 / slope:.4f}x wall-clock speed (the dummy driver's pace; a real interface drifts far less)"
    )
    latency_ns = BUFFER_FRAMES / RATE * 1e9  # judged like showcontrol: the frame leaves one buffer after it is mixed
    deadlines = {cue["n"]: int(intercept + slope * cue["time"] * 1000 + latency_ns) for cue in cues}
    times: dict[str, list[tuple[int, int]]] = {"osc": [], "midi": [], "mqtt": []}
    for sent, output, n in result["sends"]:
        times[output].append((deadlines[n], sent))
    return times


def stats(values_ns: list[int]) -> tuple[float, float, float]:
    a = np.abs(np.array(values_ns, dtype=np.float64)) / 1e6
    return float(np.percentile(a, 50)), float(np.percentile(a, 99)), float(a.max())


def report(name: str, sent: dict[str, list[tuple[int, int]]], received: dict[str, list[int]]) -> dict[str, tuple[float, float, float]]:
    rows = {}
    for output in ("osc", "midi", "mqtt"):
        pairs = sent[output]
        rows[f"{output} dispatch"] = stats([s - d for d, s in pairs])
        got = received[output]
        count = min(len(got), len(pairs))
        if output == "mqtt":
            rows["mqtt publish->receive"] = stats([got[i] - pairs[i][1] for i in range(count)])
        rows[f"{output} receive"] = stats([got[i] - pairs[i][0] for i in range(count)])
        if len(got) != len(pairs):
            print(f"  note: {name} {output}: {len(got)} received of {len(pairs)} sent")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--bpm", type=int, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        broker = Broker(folder)
        broker.start()
        jack = start_jack()
        if jack is None:
            sys.exit("jackd could not start (apt-get install jackd2)")
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        receivers = Receivers(broker.port)
        try:
            show, patch, cues = write_show(folder, args.minutes, args.bpm, receivers.osc.port, broker.port)
            stolen = stolen_ms()
            sent, floor_ns = run_showcontrol(show, patch, folder / "show.jsonl", args.minutes, 30 / args.bpm)
            ours = report("showcontrol", sent, receivers.take())
            floor = stats(floor_ns)
            stolen_ours, stolen = stolen_ms() - stolen, stolen_ms()
            time.sleep(0.5)
            naive = report("naive", run_naive(folder, cues, receivers.osc.port, broker.port), receivers.take())
            stolen_naive = stolen_ms() - stolen
        finally:
            burner.kill()
            receivers.close()
            broker.kill()
            jack.stop()
    print(f"{len(cues)} cues x 3 outputs over {args.minutes:g} min, dummy audio driver, other core busy; milliseconds")
    print(f"{'':24}{'showcontrol p50/p99/max':>28}{'naive p50/p99/max':>30}{'ratio p99':>12}")
    for row, (p50, p99, worst) in ours.items():
        n50, n99, nmax = naive[row]
        ratio = n99 / p99 if p99 > 0 else float("inf")
        print(f"{row:24}{p50:9.3f}{p99:9.3f}{worst:10.3f}{n50:10.3f}{n99:10.3f}{nmax:10.3f}{ratio:11.1f}x")
    print(
        f"{'floor, same minutes':24}{floor[0]:9.3f}{floor[1]:9.3f}{floor[2]:10.3f}   (a real-time thread doing nothing else: bench/floor.py)"
    )
    print(f"CPU time stolen by other tenants of the VM during each run: showcontrol {stolen_ours:.0f} ms, naive {stolen_naive:.0f} ms")
    print("MIDI receive times include JACK's period (-p 1024 = 21.3 ms): rtmidi's JACK output delivers at the next cycle.")


if __name__ == "__main__":
    main()
