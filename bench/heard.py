"""Cue arrival against the audio as the sound server mixed it, through dropouts: this code against an older one.

    python bench/heard.py [--seconds 40] [--baseline COMMIT | --no-baseline | --only-jack] [--stalls 20,50,90,200]

A song with a cue every 0.25 s (OSC over UDP and MQTT through Mosquitto) is played by `showcontrol run`
through SDL's pulseaudio driver into a PipeWire null sink, while `pw-record` captures what the server mixed
(the sink's monitor). The track carries its own frame number in every sample (a ramp, exact in float32), so
the capture tells which song frame the server mixed when: a capture is never assumed to keep its positions
(after an underrun a server delays or skips). When the server mixed each capture block is read off the
capture file's growth (inotify): its lower envelope (see capture_clock). Each cue's error is its
arrival at a real receiver (a UDP socket here, stamped by the kernel as it took the datagram in, so the
bench's own reading thread is not counted; mosquitto_sub) minus when its song frame was mixed; the
median over the steady part of this code's run is the path's constant latency, printed (negative: cues
arrive before the audio is mixed, by the server's buffer, which the patch's `output_latency_ms` is for),
then taken off both codes' errors. The engine is stopped (SIGSTOP) for each of `--stalls` ms mid-song.

The same show is then played by the code of `--baseline` (default: the commit before the clock re-lock),
extracted to a temporary folder, in the same run; and by this code through PipeWire's JACK (`pw-jack`,
the patch's `backend: jack`, its ports connected to the null sink), unless `--no-jack`. Printed per output: p50/p99/max of |error| in ms over the
first 2 s after play; for cues due to leave while the engine was stopped (late by what is left of the
stall, whatever the code); in the 0.5 s after each stall (the re-lock); from 0.5 to 5 s
after (where the re-locked clock must be right); and over the rest. A third row per take, "schedule",
sets when the show meant each cue to go (its log) against the mix: the clock's error alone, without the
send path's, the receivers' or the dispatcher's lateness. Each OSC cue off by more than 1 ms is then
taken apart, by the show's log, into the clock's part, the dispatcher's (sent after it was due) and the
way's (the rest), beside how late the machine probe (below) was as it went. Gaps in the mixed audio (underruns,
skips) are counted and told apart: in the engine's stalls, or while a probe process that does nothing
but sleep 1 ms at a time, at a real-time priority above every thread of the show, ran late too (the
machine stalled, not the engine). Each gap outside the engine's stalls is printed by what the capture has
there: silence with the song going on after it (the show's audio was not there in time: heard), or song
frames missing with nothing between (the capture lost them, or the server dropped them), and how late
the probe was around it. Each take prints how often the probe stalled, the run's noise, and
what PipeWire's own profiler (pw-profiler) saw of each graph cycle: cycles late, the show's node not
woken or not done, the capture not done. Needs pipewire, pipewire-pulse, pipewire-jack (pw-jack), wireplumber, pw-record,
pw-profiler, dbus-daemon and mosquitto.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
from peers import Broker, PipeWire, Subscriber, UdpReceiver, start_pipewire  # noqa: E402

RATE = 48000
BUFFER_FRAMES = 256
CUE_EVERY_S = 0.25
RAMP_STEPS = 1 << 21  # the ramp's step: frame numbers up to 2**20 (21.8 s) are exact in float32 in [0, 0.5)
BASELINE = "9dd062c"  # the code before the clock re-locked after dropouts
IN_MODIFY = 0x2
ENVELOPE_S = 0.25  # the capture's clock: flat pieces twice this long under its writes (capture_clock)


class WallClock:
    """The wall clock's offset from the monotonic one, sampled every 50 ms: mosquitto_sub stamps arrivals
    in wall time, and this VM's wall clock is stepped now and then (seen: 4.6 s in mid-take), which one
    offset taken at the start would have put on every MQTT cue after the step."""

    SPREAD_NS = 100_000  # a sample whose two monotonic reads are further apart was preempted: taken again

    def __init__(self) -> None:
        self.samples: list[tuple[int, int]] = []  # (monotonic ns, wall minus monotonic ns), in monotonic order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            before, wall, after = time.monotonic_ns(), time.time_ns(), time.monotonic_ns()
            if after - before < self.SPREAD_NS:
                self.samples.append((after, wall - (before + after) // 2))
                time.sleep(0.05)

    def to_monotonic(self, stamps: list[int], read_ns: list[int]) -> list[int]:
        """Wall-time stamps as monotonic ns, each by the offset sampled last before its line was read."""
        samples = np.array(self.samples, dtype=np.int64)
        at = np.maximum(np.searchsorted(samples[:, 0], np.array(read_ns, dtype=np.int64), side="right") - 1, 0)
        return (np.array(stamps, dtype=np.int64) - samples[at, 1]).tolist()

    def steps_ms(self) -> list[float]:
        """Each change of the offset by more than a millisecond between two samples."""
        offsets = np.array([o for _, o in self.samples], dtype=np.float64)
        jumps = np.abs(np.diff(offsets)) / 1e6
        return [float(j) for j in jumps[jumps > 1.0]]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1)


@dataclass
class FileGrowth:
    """(monotonic ns, size) each time a file is written to, from inotify (through libc)."""

    path: Path
    samples: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> FileGrowth:
        while self._libc.inotify_add_watch(self._fd, str(self.path).encode(), IN_MODIFY) < 0:
            time.sleep(0.001)  # pw-record has not created it yet
        self._thread.start()
        return self

    def _watch(self) -> None:
        import select

        while not self._stop.is_set():
            if not select.select([self._fd], [], [], 0.1)[0]:
                continue
            now = time.monotonic_ns()
            try:
                os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            self.samples.append((now, os.stat(self.path).st_size))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        os.close(self._fd)


def write_show(folder: Path, seconds: float, osc_port: int, broker_port: int) -> tuple[Path, list[int]]:
    """A track whose samples are their own frame numbers, and a cue every CUE_EVERY_S; the cues' song frames."""
    frames = np.arange(int((seconds + 1) * RATE))
    ramp = ((frames % (RAMP_STEPS // 2)) / RAMP_STEPS).astype(np.float32)
    soundfile.write(folder / "track.wav", np.stack([ramp, ramp], axis=1), RATE, subtype="FLOAT")
    times = [n * CUE_EVERY_S for n in range(1, int(seconds / CUE_EVERY_S))]
    lines = [
        f"      - {{at: {t:.6f}s, osc: {{to: lights, address: /cue, args: [{n}]}}, mqtt: {{to: monitors, topic: cue, payload: '{n}'}}}}"
        for n, t in enumerate(times)
    ]
    show = folder / "show.yaml"
    show.write_text(
        f"version: 1\npatch: patch.yaml\nsongs:\n  - id: heard\n    audio: track.wav\n    end: {seconds:.3f}s\n"
        f"    tempo: [{{bar: 1, bpm: 240}}]\n    click: false\n    cues:\n" + "\n".join(lines) + "\n"
    )
    (folder / "patch.yaml").write_text(f"""version: 1
audio: {{sample_rate: {RATE}, channels: 2, buffer_frames: {BUFFER_FRAMES}, routes: {{track: [1, 2]}}}}
outputs:
  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}
  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker_port}, topic_prefix: heard/, cue_connection: true}}
""")
    (folder / "patch-jack.yaml").write_text(f"""version: 1
audio: {{backend: jack, sample_rate: {RATE}, channels: 2, buffer_frames: {BUFFER_FRAMES}, routes: {{track: [1, 2]}},
        ports: {{1: "nullsink:playback_FL", 2: "nullsink:playback_FR"}}}}
outputs:
  lights: {{type: osc, host: 127.0.0.1, port: {osc_port}}}
  monitors: {{type: mqtt, host: 127.0.0.1, port: {broker_port}, topic_prefix: heard/, cue_connection: true}}
""")
    return show, [round(t * RATE) for t in times]


JACK_ENGINE = ("pw-jack",)  # the engine through PipeWire's JACK, its patch's backend: jack
SDL_ARGS = ("--audio-driver", "pulseaudio")


@dataclass
class Take:
    """One play of the show: when each song frame was mixed, when each cue arrived, when each stall ended."""

    heard_ns: dict[int, float]  # a cue's song frame (the ramp) -> monotonic ns at which the server mixed it
    arrivals: dict[str, dict[int, int]]  # output -> cue number -> monotonic ns
    stalls_ns: list[tuple[int, int]]  # (stopped, continued), monotonic ns
    late_writes_p99_ms: float
    gaps: int  # places where the mixed audio does not go on from the frame before (an underrun: silence or a skip)
    gaps_in_stalls: int  # of them, while the bench had the engine stopped
    gaps_in_machine_stalls: int  # of the others, while a process of nothing but a 1 ms sleep loop stalled too
    other_gaps: list[SeenGap]  # the gaps outside the engine's stalls, one by one
    machine_stalled: list[tuple[int, int]]  # when that probe was 8 ms late or more, the play's whole length
    machine_late: list[tuple[int, int]]  # when it was 1 ms late or more: below a gap, still a late cue
    reading_p99_ms: float  # how long the bench's UDP thread took to read a datagram after the kernel had it, p99
    cycles: ServerCycles
    cycles_missed: str | None  # the run's report: how much of the JACK server's cycles our client never ran for (None on SDL)


def capture_clock(growth: list[tuple[int, int]], header_bytes: int, channels: int) -> tuple[np.ndarray, np.ndarray, float]:
    """When the server mixed each capture frame, from the capture's growth: (capture frames, ns at each).

    Each write comes when its block is mixed, or later (the recorder's wake-up, on a loaded machine tens of
    ms): the mix is the lower envelope. The null sink's clock runs at the nominal rate on a monotonic timer,
    but jumps by a quantum or more when the graph is reconfigured or runs late (a stream joining, leaving
    or underrunning): so the envelope is not one line but the highest one made of flat pieces 2 * ENVELOPE_S
    long that no write falls below, whole pieces only, at the capture's ends too (a morphological opening
    of the writes' offsets from the nominal rate). It steps where the sink's clock steps up, and where it
    steps down at least 2 * ENVELOPE_S after the last step. A running minimum, as before, carried the
    lower offset up to ENVELOPE_S past each step up, and put the cue after each one-cycle step 5.3 ms off
    (the engine's own schedule had the step). Also returned: how far, at p99, writes came after the envelope (ms)."""
    points = np.array([(t, (size - header_bytes) // (4 * channels)) for t, size in growth], dtype=np.float64)
    frames, times = points[:, 1], points[:, 0]
    offsets = times - frames * 1e9 / RATE
    width = min(len(offsets), 2 * max(1, int(ENVELOPE_S * RATE / max(1.0, float(np.median(np.diff(frames)))))) + 1)
    windows = np.lib.stride_tricks.sliding_window_view
    lowest = windows(offsets, width).min(axis=1)  # of each whole piece, by its first write
    envelope = windows(np.pad(lowest, width - 1, mode="edge"), width).max(axis=1)  # the highest whole piece under each write
    return frames, envelope + frames * 1e9 / RATE, float(np.percentile(offsets - envelope, 99) / 1e6)


def play(
    code: Path,
    show: Path,
    folder: Path,
    sound: PipeWire,
    osc: UdpReceiver,
    mqtt: Subscriber,
    stalls_ms: list[int],
    seconds: float,
    wanted: list[int],
    wall: WallClock,
    jack: bool = False,
    keep: Path | None = None,
) -> Take:
    capture = Path(tempfile.mkstemp(dir="/dev/shm", suffix=".wav")[1])
    capture.unlink()
    env = {**os.environ, **sound.env}
    # One quantum throughout: the graph would otherwise switch from 1024 to 256 frames when the engine's
    # stream joins, and the sink's clock jumps at a switch (31 ms here), which is not the engine's doing.
    subprocess.run(
        ["pw-metadata", "-n", "settings", "0", "clock.force-quantum", str(BUFFER_FRAMES)], env=env, capture_output=True, check=True
    )
    recorder = subprocess.Popen(
        [
            "pw-record",
            "--target",
            "nullsink",
            "-P",
            "{ stream.capture.sink=true }",
            "--channels",
            "2",
            "--format",
            "f32",
            "--rate",
            str(RATE),
            str(capture),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not capture.exists():
        time.sleep(0.001)
    profile = folder / "profiler.log"
    with (folder / "profiler.out").open("w") as printed:  # cwd: it leaves its plot scripts where it runs
        profiler = subprocess.Popen(["pw-profiler", "-o", str(profile)], env=env, cwd=folder, stdout=printed, stderr=subprocess.DEVNULL)
    probe_file = folder / "machine-stalls.txt"
    probe = subprocess.Popen([sys.executable, "-c", MACHINE_PROBE, str(probe_file), str(PROBE_PRIORITY)])
    growth = FileGrowth(capture).start()
    time.sleep(0.5)
    osc.clear()
    mqtt.lines.clear()
    mqtt.read_ns.clear()
    how = ("--patch", str(folder / "patch-jack.yaml")) if jack else SDL_ARGS
    (folder / "show.jsonl").unlink(missing_ok=True)  # the show appends to its log: each take reads its own
    report_file = folder / "report.txt"
    report = report_file.open("w")  # a file, not a pipe: nothing the engine writes can block it
    engine = subprocess.Popen(
        [
            *(JACK_ENGINE if jack else ()),
            sys.executable,
            "-m",
            "showcontrol",
            "run",
            str(show),
            "--headless",
            *how,
            "--log",
            str(folder / "show.jsonl"),
        ],
        env={**{k: v for k, v in env.items() if not k.startswith("JACK_")}, "PYTHONPATH": str(code)},
        cwd=code,
        stdout=report,
        stderr=subprocess.PIPE,
        text=True,
    )
    report.close()  # the engine has its own
    ends = []
    try:
        while not osc.datagrams:
            time.sleep(0.001)
        first = time.monotonic()
        for index, stall in enumerate(stalls_ms):
            time.sleep(max(0.0, first + (index + 1) * seconds / (len(stalls_ms) + 1) - time.monotonic()))
            stopped = time.monotonic_ns()
            engine.send_signal(signal.SIGSTOP)
            time.sleep(stall / 1000)
            engine.send_signal(signal.SIGCONT)
            ends.append((stopped, time.monotonic_ns()))
        _, err = engine.communicate(timeout=seconds + 60)
    finally:
        engine.kill()
    time.sleep(0.5)
    profiler.send_signal(signal.SIGINT)
    profiler.wait(10)
    recorder.send_signal(signal.SIGINT)
    recorder.wait(10)
    probe.kill()
    probe.wait(10)
    growth.stop()
    audio, _ = soundfile.read(capture, dtype="float32", always_2d=True)
    header = capture.stat().st_size - audio.size * 4
    capture.unlink()
    values = np.rint(audio[:, 0].astype(np.float64) * RAMP_STEPS).astype(np.int64)
    playing = np.flatnonzero(values > 0)
    written, mixed_ns, residual = capture_clock(growth.samples, header, audio.shape[1])
    ramp = values[playing]
    turns = np.concatenate([[0], np.cumsum(np.diff(ramp) < -(RAMP_STEPS // 4))])  # the ramp restarts every 2**20 frames
    song_frames, first_mixed = np.unique(turns * (RAMP_STEPS // 2) + ramp, return_index=True)  # where each frame was first mixed
    cues = np.isin(song_frames, wanted)
    mixed_at = np.interp(playing[first_mixed[cues]] + 1, written, mixed_ns)
    heard = dict(zip(song_frames[cues].tolist(), mixed_at.tolist(), strict=True))
    lines = list(mqtt.lines)  # its reader notes the read time first: read_ns is never the shorter
    read_ns = [t for t, _ in osc.datagrams]
    kernel_ns = wall.to_monotonic(osc.kernel_wall_ns[: len(read_ns)], read_ns)  # when it arrived, not when this thread woke
    logged = logged_cues(folder / "show.jsonl")
    arrivals = {
        "osc": {struct.unpack(">i", data[-4:])[0]: t for t, (_, data) in zip(kernel_ns, osc.datagrams, strict=True)},
        "mqtt": dict(
            zip((int(p) for _, _, p in lines), wall.to_monotonic([t for t, _, _ in lines], mqtt.read_ns[: len(lines)]), strict=True)
        ),
        "schedule": {cue: scheduled for cue, (scheduled, _) in logged.items()},
        "sent": {cue: sent for cue, (_, sent) in logged.items()},
    }
    reading_ms = (np.array(read_ns) - np.array(kernel_ns)) / 1e6
    if engine.returncode not in (0, 1):
        print(f"  note: the engine exited {engine.returncode}: {err[-500:]}")
    gaps = ramp_gaps(values[playing[0] : playing[-1] + 1])
    gaps_ns = np.interp(np.array([g.at for g in gaps], dtype=np.float64) + playing[0], written, mixed_ns)
    in_stalls = [near(at, ends) for at in gaps_ns]
    late = machine_late(probe_file)
    machine = [(a, b) for a, b in late if b - a >= MACHINE_STALL_NS]
    in_machine = [near(at, machine) for at, ours in zip(gaps_ns, in_stalls, strict=True) if not ours]
    seen = seen_gaps(gaps, gaps_ns, float(np.interp(playing[0], written, mixed_ns)), late)
    other_gaps = [g for g, ours in zip(seen, in_stalls, strict=True) if not ours]
    missed = re.search(r"cycles missed: (none|[\d.]+ ms)", report_file.read_text())
    node = "the show's node" if jack else "the show's stream (pipewire-pulse's thread)"
    cycles = server_cycles(profile, (folder / "profiler.out").read_text(), node)
    if keep is not None:
        keep_take(keep, folder, wanted, heard, arrivals, seen, ends)
        np.savez_compressed(
            keep / "capture.npz", ramp=values.astype(np.int32), writes=np.array(growth.samples), header=header, channels=audio.shape[1]
        )
    return Take(
        heard,
        arrivals,
        ends,
        residual,
        len(gaps_ns),
        sum(in_stalls),
        sum(in_machine),
        other_gaps,
        machine,
        late,
        float(np.percentile(reading_ms, 99)) if len(reading_ms) else 0.0,
        cycles,
        missed and missed.group(1),
    )


def logged_cues(show_log: Path) -> dict[int, tuple[int, int]]:
    """When the show meant each OSC cue to go and when its dispatcher sent it, from its log (`scheduled`,
    `sent`: wall ns, at one fixed offset from the monotonic clock in a run, which the take's own median
    takes off). The first against the mix is the clock's error alone: none of the send path's, the
    receivers' or the dispatcher's lateness. An older code's log may not have them: then nothing."""
    found = {}
    with show_log.open() as lines:
        for line in lines:
            event = json.loads(line)
            if event.get("kind") == "osc" and "scheduled" in event:
                found[int(event["message"]["args"][0])] = (round(event["scheduled"] * 1e9), round(event["sent"] * 1e9))
    return found


KEPT = ("profiler.log", "profiler.out", "show.jsonl", "report.txt", "machine-stalls.txt")


def keep_take(
    into: Path,
    folder: Path,
    wanted: list[int],
    heard: dict[int, float],
    arrivals: dict[str, dict[int, int]],
    gaps: list[SeenGap],
    ends: list[tuple[int, int]],
) -> None:
    """A take's raw witnesses, for a look cycle by cycle later (--keep): the server's profile, the show's log
    and report, the probe's stalls; on the monotonic clock, each cue's mix and arrivals, each stall; each gap;
    and (capture.npz, beside) the captured ramp and the capture's writes, to work out the mix's clock again."""
    into.mkdir(parents=True)
    for name in KEPT:
        if (folder / name).exists():
            shutil.copy2(folder / name, into / name)
    lines = ["cue\tsong_frame\tmixed_ns\tosc_ns\tmqtt_ns"]
    for n, frame in enumerate(wanted):
        mixed = heard.get(frame)
        lines.append(
            "\t".join(
                str(v) for v in (n, frame, "" if mixed is None else int(mixed), arrivals["osc"].get(n, ""), arrivals["mqtt"].get(n, ""))
            )
        )
    (into / "cues.tsv").write_text("\n".join(lines) + "\n")
    (into / "gaps.txt").write_text("".join(f"{gap}\n" for gap in gaps))
    (into / "stalls.txt").write_text("".join(f"{a} {b}\n" for a, b in ends))


@dataclass
class ServerCycles:
    """What PipeWire's own profiler (pw-profiler) saw of each graph cycle: whose lateness a gap may be."""

    show_node: str  # whose thread the show's node runs on: the show's own (JACK) or pipewire-pulse's (SDL's stream)
    cycles: int = 0
    cycle_late: int = 0  # the sink's timer started the cycle, or the graph ended it, 30 % of a period late or more
    show_not_woken: int = 0  # the show's node was signalled but its thread had not woken by the cycle's end
    show_not_done: int = 0  # it woke but had not finished (a callback too slow, or stopped in it: --stalls count here)
    capture_not_done: int = 0  # pw-record, the bench's own capture, had not finished: a gap in the capture only

    def __str__(self) -> str:
        return (
            f"PipeWire's profiler, of {self.cycles} cycles: late in {self.cycle_late}; {self.show_node} not woken in "
            f"{self.show_not_woken}, not done in {self.show_not_done}; the capture not done in {self.capture_not_done}"
        )

    def add(self, columns: list[str], names: dict[str, str]) -> None:
        """One cycle's line: whose node had not finished when it ended (a follower's status: 3 is finished)."""
        if len(columns) < 4 or not columns[0].strip().isdigit():
            return
        self.cycles += 1
        self.cycle_late += int(columns[0]) >= 1.3 * int(columns[3])
        for at in range(4, len(columns) - 7, 8):
            ident, status = columns[at].strip(), columns[at + 6].strip()
            if not ident or status == FINISHED:
                continue
            if names.get(ident) == "pw-record":
                self.capture_not_done += 1
            elif status == "1":
                self.show_not_woken += 1
            else:
                self.show_not_done += 1


FINISHED = "3"  # a follower's activation status at the cycle's end (PipeWire: triggered 1, awake 2, finished 3)


def server_cycles(profile: Path, printed: str, show_node: str) -> ServerCycles:
    """Count the profile's cycles by who was late. Each line is a cycle: the driver's period (us since the last;
    1.4 periods where it or the cycle's end came over 1.3 late), its end, its delay and its nominal period; then 8 columns per follower
    (id, signal, awake, finish, latency, duration, status, 0), in the order `logging follower ID ("NAME")` says."""
    names = dict(re.findall(r'logging follower (\d+) \("([^"]*)"\)', printed))
    found = ServerCycles(show_node)
    if not profile.exists():  # pw-profiler could not attach: nothing seen
        return found
    with profile.open() as lines:  # ~1 kB a cycle: read as it goes
        for line in lines:
            found.add(line.rstrip("\n").split("\t"), names)
    return found


WINDOWS = ("first 2 s", "due while stopped", "0-0.5 s after a stall", "0.5-5 s after a stall", "steady")


@dataclass(frozen=True)
class Gap:
    """A place where the captured ramp stops stepping by one song frame, and what the capture has there.

    Its kind tells whose it may be. Silence (or frames again) in between, the song going on where it left
    off: the show's audio was not there when the server mixed (an underrun, heard). Song frames missing
    with nothing in between: the server mixed them and the capture lost them (pw-record not done in a
    cycle), or the server's stream path dropped them: not the show's late audio."""

    at: int  # the capture frame before it, into the played span
    inserted: int  # capture frames in between that are not the song going on (silence, or frames again)
    skipped: int  # song frames the capture never has (negative: frames it has twice)

    def kind(self) -> str:
        if not self.skipped:
            return "silence"
        if not self.inserted:
            return "skip" if self.skipped > 0 else "again"
        return "mixed"


GAP_KINDS = {
    "silence": "silences (the show's audio not there in time)",
    "skip": "skips (song frames the capture lacks: lost by it, or dropped by the server)",
    "again": "frames again",
    "mixed": "mixed",
}


@dataclass(frozen=True)
class SeenGap:
    """A gap outside the engine's stalls: when, what, and how late the machine probe was around it."""

    seconds: float  # after the first song frame was mixed
    gap: Gap
    machine_ms: float  # the probe's worst lateness within NEAR_NS of it (past its 1 ms sleep)

    def __str__(self) -> str:
        return (
            f"{self.seconds:9.3f} s: {self.gap.kind():7} {self.gap.inserted:5d} frames in between, {self.gap.skipped:5d} song "
            f"frames missing; the machine probe late {self.machine_ms:5.2f} ms"
        )


def seen_gaps(gaps: list[Gap], gaps_ns: np.ndarray, first_ns: float, late: list[tuple[int, int]]) -> list[SeenGap]:
    """Each gap with its time into the take and the probe's worst lateness within NEAR_NS of it."""
    return [
        SeenGap(
            (at - first_ns) / 1e9,
            gap,
            max(((b - a) / 1e6 - 1.0 for a, b in late if a - NEAR_NS <= at <= b + NEAR_NS), default=0.0),
        )
        for gap, at in zip(gaps, gaps_ns, strict=True)
    ]


def gap_summary(seen: list[SeenGap]) -> str:
    """One line: the gaps outside the engine's stalls by kind, and how many came as the probe was late."""
    kinds = [g.gap.kind() for g in seen]
    parts = ", ".join(f"{kinds.count(k)} {text}" for k, text in GAP_KINDS.items() if k in kinds)
    with_machine = sum(g.machine_ms >= 1.0 for g in seen)
    return f"gaps outside the engine's stalls: {len(seen)}" + (
        f" ({parts}; {with_machine} of them as the machine probe was 1 ms late or more)" if seen else ""
    )


def ramp_gaps(values: np.ndarray) -> list[Gap]:
    """Each place where the captured ramp stops stepping by one frame (mod its turn): an underrun or a skip."""
    turn = RAMP_STEPS // 2
    irregular = (np.diff(values) % turn) != 1  # silence (0) in between, or a jump
    starts = np.flatnonzero(irregular[1:] & ~irregular[:-1]) + 1
    if len(irregular) and irregular[0]:
        starts = np.concatenate([[0], starts])
    regular = np.flatnonzero(~irregular)
    gaps = []
    for start in starts.tolist():
        after = regular[np.searchsorted(regular, start)] if len(regular) and regular[-1] > start else len(values) - 1
        step = (int(values[after]) - int(values[start]) - 1 + turn // 2) % turn - turn // 2
        gaps.append(Gap(start, int(after) - start - 1, step))
    return gaps


MACHINE_PROBE = """
import os, sys, time
try:  # above every thread of the show and the server: late only when the machine stalled
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(sys.argv[2])))
except OSError:
    print("  note: the machine probe runs at normal priority (no real-time privilege): the show's own threads can delay it")
out, last = open(sys.argv[1], "w", buffering=1), time.monotonic_ns()
while True:
    time.sleep(0.001)
    now = time.monotonic_ns()
    if now - last > 2_000_000:  # a 1 ms sleep 1 ms late or more
        out.write(f"{last} {now}\\n")
    last = now
"""
PROBE_PRIORITY = os.sched_get_priority_max(os.SCHED_FIFO)  # above the show's and the server's threads (pw-jack's: 88)
NEAR_NS = 50_000_000  # a gap this close to a stall is the stall's (the server's buffer, the capture's clock)


def near(at_ns: float, spans: list[tuple[int, int]]) -> bool:
    return any(start - NEAR_NS <= at_ns <= end + NEAR_NS for start, end in spans)


MACHINE_STALL_NS = 8_000_000  # a probe this late is a stall of the machine's (a gap in the audio is likely)


def machine_late(path: Path) -> list[tuple[int, int]]:
    """When the probe, a process of nothing but a 1 ms sleep loop at a real-time priority above the show's
    threads, ran 1 ms late or more: (slept from, woke), monotonic ns. From 8 ms (MACHINE_STALL_NS) these are
    the machine's stalls (on this VM the host's: both vCPUs at once); the shorter ones can still make a cue late."""
    return [(int(a), int(b)) for a, b in (line.split() for line in path.read_text().splitlines() if line.count(" ") == 1)]


def cue_errors(
    take: Take, cue_frames: list[int], output: str, latency: float | None = None, leaves_ms: float | None = None
) -> tuple[dict[int, tuple[float, str]], float]:
    """Each cue's error in ms after `latency` (default: this take's median where no start or stall is near),
    signed (late is positive), and its window; and the latency.

    A cue is "due while stopped" when it was due to leave while the engine was stopped: `leaves_ms` from
    its mix (default: the latency; through SDL about -16 ms, the stream's buffer). No code sends such a cue
    on time. Its audio may still be mixed after the stall, so by its mix alone it would count against the
    re-lock after it."""
    raw = {}
    for n, frame in enumerate(cue_frames):
        arrival, heard = take.arrivals[output].get(n), take.heard_ns.get(frame)
        if arrival is not None and heard is not None:
            raw[n] = ((arrival - heard) / 1e6, heard)
    play_ns = min(h for _, h in raw.values())

    def window(heard: float, leaves_ns: float) -> str:
        since = min((heard - end for _, end in take.stalls_ns if heard >= end), default=float("inf"))
        if heard - play_ns < 2e9:
            return WINDOWS[0]
        if any(start <= heard + leaves_ns < end for start, end in take.stalls_ns):
            return WINDOWS[1]
        return WINDOWS[2] if since < 0.5e9 else WINDOWS[3] if since < 5e9 else WINDOWS[4]

    if latency is None:  # the steady window is the same whenever a cue was due: it is 5 s from any stall
        latency = float(np.median([e for e, heard in raw.values() if window(heard, 0.0) == WINDOWS[4]]))
    leaves_ns = (latency if leaves_ms is None else leaves_ms) * 1e6
    return {n: (error - latency, window(heard, leaves_ns)) for n, (error, heard) in raw.items()}, latency


def windows(
    take: Take, cue_frames: list[int], output: str, latency: float | None = None, leaves_ms: float | None = None
) -> tuple[dict[str, list[float]], float]:
    """|error| in ms by window (see cue_errors), and the latency taken off."""
    errors, latency = cue_errors(take, cue_frames, output, latency, leaves_ms)
    found: dict[str, list[float]] = {key: [] for key in WINDOWS}
    for error, where in errors.values():
        found[where].append(abs(error))
    return found, latency


@dataclass
class LateCue:
    """An OSC cue off the mixed audio by more than OFF_MS, its error taken apart: the clock's (when the show
    meant it to go, against the mix), the dispatcher's (sent after that, beyond the take's usual), and the
    way's (the rest: the send call, the kernel, the loopback), and how late the machine probe was meanwhile."""

    cue: int
    window: str
    error_ms: float
    clock_ms: float
    dispatcher_ms: float
    way_ms: float
    machine_ms: float  # the probe's worst lateness from 3 ms before the cue was due to its arrival

    def whose(self) -> str:
        parts = {"the clock": self.clock_ms, "the dispatcher": self.dispatcher_ms, "the way": self.way_ms}
        return max(parts, key=lambda k: abs(parts[k]))

    def __str__(self) -> str:
        return (
            f"cue {self.cue:3d} {self.window:22} {self.error_ms:+7.2f} ms: clock {self.clock_ms:+6.2f}, dispatcher "
            f"{self.dispatcher_ms:+6.2f}, way {self.way_ms:+6.2f}; the machine probe late {self.machine_ms:5.2f} ms"
        )


OFF_MS = 1.0
SHOWN_LATE = 8  # the worst late cues printed a take (--keep keeps them all)


def late_cues(take: Take, cue_frames: list[int], osc_latency: float) -> list[LateCue]:
    """The OSC cues off by more than OFF_MS, but those due while the engine was stopped (no code sends them
    on time), each taken apart by the show's log."""
    osc, _ = cue_errors(take, cue_frames, "osc", osc_latency)
    clock, _ = cue_errors(take, cue_frames, "schedule", leaves_ms=osc_latency)
    schedule, sent = take.arrivals["schedule"], take.arrivals["sent"]
    usual_ns = float(np.median([sent[n] - schedule[n] for n in schedule]))
    found = []
    for n, (error, where) in osc.items():
        if abs(error) <= OFF_MS or where == WINDOWS[1] or n not in clock:
            continue
        dispatcher = (sent[n] - schedule[n] - usual_ns) / 1e6
        arrival = take.arrivals["osc"][n]
        due = arrival - error * 1e6
        machine = max(((b - a) / 1e6 - 1.0 for a, b in take.machine_late if a <= arrival and b >= due - 3e6), default=0.0)
        found.append(LateCue(n, where, error, clock[n][0], dispatcher, error - clock[n][0] - dispatcher, machine))
    return found


def explain(late: list[LateCue]) -> str:
    """One line: whose the larger part of each late cue was, and how many of them came as the machine
    probe, above every thread of the show, was late too."""
    whose = [cue.whose() for cue in late]
    parts = ", ".join(f"{whose.count(k)} {k}'s" for k in ("the clock", "the dispatcher", "the way") if k in whose)
    with_machine = sum(cue.machine_ms >= 1.0 for cue in late)
    return f"OSC cues off by more than {OFF_MS:g} ms, not due while stopped: {len(late)}" + (
        f" (the larger part {parts}; {with_machine} of them as the machine probe was 1 ms late or more)" if late else ""
    )


def row(values: list[float]) -> str:
    if not values:
        return f"{'-':>24}"
    a = np.array(values)
    return f"{np.percentile(a, 50):8.2f}{np.percentile(a, 99):8.2f}{a.max():8.2f}"


def baseline_code(commit: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def kept(keep: Path | None, label: str) -> Path | None:
    return None if keep is None else keep / re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=40.0, help="song length, s (default: %(default)s)")
    parser.add_argument("--stalls", default="20,50,90,200", help="SIGSTOP lengths, ms, spread over the song (default: %(default)s)")
    parser.add_argument("--baseline", default=BASELINE, help="the commit to compare with (default: %(default)s, before the re-lock)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--no-jack", action="store_true", help="skip the third take, this code through PipeWire's JACK (pw-jack)")
    which.add_argument("--only-jack", action="store_true", help="only the JACK take (no SDL takes, no baseline)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline's take (e.g. a 10-minute run for underruns)")
    parser.add_argument("--keep", type=Path, help="a new folder to keep each take's profile, log, cues and gaps in (one folder a take)")
    args = parser.parse_args()
    stalls = [int(s) for s in args.stalls.split(",") if s.strip()]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sound = start_pipewire(folder / "pw")
        if sound is None:
            sys.exit("PipeWire could not start (apt-get install pipewire pipewire-pulse wireplumber dbus)")
        broker = Broker(folder)
        broker.start()
        osc = UdpReceiver()
        mqtt = Subscriber(broker.port, "heard/cue")
        wall = WallClock()
        try:
            show, cue_frames = write_show(folder, args.seconds, osc.port, broker.port)
            codes = [("this code", REPO)]
            if not args.no_baseline and not args.only_jack:
                codes.append((f"baseline {args.baseline}", baseline_code(args.baseline, Path(tempfile.mkdtemp(prefix="heard-baseline-")))))
            takes = {}
            for label, code in [] if args.only_jack else codes:
                sound.ensure_pulse()
                takes[label] = play(
                    code, show, folder, sound, osc, mqtt, stalls, args.seconds, cue_frames, wall, keep=kept(args.keep, label)
                )
            if not args.no_jack:
                label = "this code, JACK"
                takes[label] = play(
                    REPO, show, folder, sound, osc, mqtt, stalls, args.seconds, cue_frames, wall, jack=True, keep=kept(args.keep, label)
                )
        finally:
            wall.stop()
            mqtt.close()
            osc.close()
            broker.kill()
            sound.stop()
    print(
        f"{len(cue_frames)} cues every {CUE_EVERY_S} s; engine stopped for {args.stalls} ms; PipeWire null sink via "
        f"{'its JACK' if args.only_jack else 'SDL pulseaudio' + ('' if args.no_jack else ' and its JACK')}, "
        f"{BUFFER_FRAMES}-frame buffer; |error| in ms against the mixed audio, after the steady latency; noisy shared VM"
    )
    if steps := wall.steps_ms():
        print(
            f"(the wall clock was stepped {len(steps)} times, by up to {max(steps):.1f} ms: MQTT arrivals taken by the offset of their moment)"
        )
    print(f"{'p50/p99/max':32}" + "".join(f"{key:>24}" for key in WINDOWS) + "   latency")
    latencies: dict[str, float] = {}  # each path's latency, measured on this code's steady part, taken off both codes'
    for label, take in takes.items():
        server = "jack" if "JACK" in label else "pulse"
        for output in ("osc", "mqtt"):
            path = f"{output} {server}"
            found, latencies[path] = windows(take, cue_frames, output, latencies.get(path))
            print(f"{label + ' ' + output:32}" + "".join(row(found[key]) for key in WINDOWS) + f"   {latencies[path]:6.2f}")
        if take.arrivals["schedule"]:  # its own latency (the wall offset of its run's log); due as OSC is
            found, _ = windows(take, cue_frames, "schedule", leaves_ms=latencies[f"osc {server}"])
            print(f"{label + ' schedule':32}" + "".join(row(found[key]) for key in WINDOWS) + "   (the clock alone)")
        print(
            f"{'':32}(audio gaps: {take.gaps}, {take.gaps_in_stalls} in the engine's stalls, {take.gaps_in_machine_stalls} of the rest "
            f"in the machine's{'' if take.cycles_missed is None else f'; JACK cycles the engine missed: {take.cycles_missed}'}; capture writes after the mix, p99 {take.late_writes_p99_ms:.2f} ms; cues found: {len(take.heard_ns) and sum(f in take.heard_ns for f in cue_frames)})"
        )
        print(f"{'':32}({gap_summary(take.other_gaps)})")
        for gap in take.other_gaps[:SHOWN_LATE]:
            print(f"{'':34}{gap}")
        if take.arrivals["schedule"]:  # an older code's log has no schedule to take a late cue apart by
            late = late_cues(take, cue_frames, latencies[f"osc {server}"])
            print(f"{'':32}({explain(late)}; the bench read a datagram after the kernel had it, p99 {take.reading_p99_ms:.2f} ms)")
            for cue in sorted(late, key=lambda c: -abs(c.error_ms))[:SHOWN_LATE]:
                print(f"{'':34}{cue}")
            if (into := kept(args.keep, label)) is not None:
                (into / "late-cues.txt").write_text("".join(f"{cue}\n" for cue in late))
        stalled = [(b - a) / 1e6 for a, b in take.machine_stalled]
        print(
            f"{'':32}(the machine stalled {len(stalled)} times by 8 ms or more, {sum(stalled):.0f} ms in all, worst {max(stalled, default=0):.1f} ms)"
        )
        print(f"{'':32}({take.cycles})")


if __name__ == "__main__":
    main()
