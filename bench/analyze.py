"""Accuracy and speed of `showcontrol analyze` on recordings whose beats are known.

    python bench/analyze.py [--cases NAME,...] [--keep DIR]

Each case is a MIDI arrangement written here (drums, bass, piano, a pad, a melody; or the same without
drums), with its beat times chosen first (constant tempo, a tempo change, a ritardando, 6/8, 7/8, swing,
a live-style drift of ±4 % with human timing), rendered through fluidsynth and the General MIDI soundfont.
The render's start offset is measured once with a single drum hit at t=0. Reported with mir_eval: beat
F-measure (±70 ms) of the counted beats, downbeat F-measure, the first downbeat's error, how far the
written tempo map's beats fall from the true ones (p50, p95, max), and the time to analyse the file.
Then the demo show's own song (`showcontrol demo`: 4/4 with a 7/8 bridge and a ramp), unhinted, against its tempo
map: meters, bar lines and the map's beats through the changes of meter (`--cases demo-neon-nights`). Targets (issue 17): beat F ≥ 0.95, downbeat F ≥ 0.90, first downbeat within 10 ms, map within 20 ms on
drifting recordings, a 4-minute song in under 30 s.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path

import mido
import numpy as np
import soundfile

from showcontrol.analysis.draft import Hints, pulse_layout
from showcontrol.analyze import draft_for_file, parse_meter
from showcontrol.model.position import BarBeat
from showcontrol.timeline.tempo import TempoMap

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RATE = 44100
TICKS = 960  # per quarter at a fixed 120 BPM: a MIDI tick is 1/1920 s
LEAD_IN = 1.0
TARGETS = {"beat_f": 0.95, "downbeat_f": 0.90, "first_ms": 10.0, "map_max_ms": 20.0}
CHORDS = ((0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14))  # I vi IV V in C, as semitones over C
PENTATONIC = (0, 2, 4, 7, 9, 12, 14, 16)


@dataclass(frozen=True)
class Case:
    name: str
    meter: str
    bars: int
    bpm: float  # quarter notes per minute
    drums: bool = True
    swing: bool = False
    change: tuple[int, float] | None = None  # (bar, new bpm): an abrupt change
    ramp: tuple[int, int, float] | None = None  # (from bar, bars, to bpm): a gradual change
    drift: float = 0.0  # live-style: tempo wanders by this fraction, and each note by a few ms
    pickup: bool = True  # a melody note on the last beat before bar 1
    bpm_hint: tuple[float, float] | None = None  # what the operator would tell `analyze --bpm`
    meter_hint: bool = True  # given --meter (else the tracker tells 3/4 from 4/4 itself)


CASES = (
    Case("pop-120", "4/4", 40, 120),
    Case("ballad-76-no-drums", "4/4", 20, 76, drums=False),
    Case("change-120-96", "4/4", 32, 120, change=(17, 96)),
    Case("ritardando", "4/4", 28, 126, ramp=(17, 4, 100)),
    Case("waltz-6/8", "6/8", 24, 96),
    Case("waltz-3/4-unhinted", "3/4", 24, 150, meter_hint=False),
    Case("pop-4/4-unhinted", "4/4", 24, 112, meter_hint=False),
    Case("odd-7/8", "7/8", 24, 120),
    Case("swing-132", "4/4", 32, 132, swing=True),
    Case("live-drift-100", "4/4", 48, 100, drift=0.04),
    Case("live-drift-no-drums", "4/4", 32, 88, drums=False, drift=0.04, bpm_hint=(60, 120)),
    Case("four-minutes-live", "4/4", 120, 120, drift=0.04),
)


def true_beats(case: Case, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Counted-beat times in seconds from bar 1 (at LEAD_IN) to the last bar line; and beats per bar."""
    meter = parse_meter(case.meter)
    per_bar, quarters = meter.numerator, float(meter.beat_quarters)
    phase = rng.uniform(0, 2 * math.pi)
    times, t = [], LEAD_IN
    for beat in range(case.bars * per_bar + 1):
        times.append(t)
        bar = beat / per_bar + 1
        bpm = case.bpm
        if case.change and bar >= case.change[0]:
            bpm = case.change[1]
        if case.ramp:
            start, length, to = case.ramp
            bpm = case.bpm + (to - case.bpm) * float(np.clip((bar - start) / length, 0, 1))
        if case.drift:
            bpm *= 1 + case.drift * math.sin(2 * math.pi * 1.3 * beat / (case.bars * per_bar) + phase)
        t += 60 / bpm * quarters
    beats = np.array(times)
    if case.drift:
        beats[1:] += rng.normal(0, 0.003, len(beats) - 1)  # a human's few milliseconds
    return beats, per_bar


def _notes(case: Case, beats: np.ndarray, per_bar: int, rng: np.random.Generator) -> list[tuple[float, float, int, int, int]]:
    """(start, end, channel, note, velocity) for every instrument."""
    meter = parse_meter(case.meter)
    pulses, per_pulse = pulse_layout(meter)
    notes: list[tuple[float, float, int, int, int]] = []
    key = 48
    for index in range(len(beats) - 1):
        bar, beat = divmod(index, per_bar)
        start, length = beats[index], beats[index + 1] - beats[index]
        chord = CHORDS[bar % len(CHORDS)]
        strong = beat % per_pulse == 0
        pulse = beat // per_pulse
        if case.drums:
            eighth = start + length * (2 / 3 if case.swing else 1 / 2)
            notes.append((start, start + 0.05, 9, 42, 70 if strong else 50))
            if meter.denominator == 4:
                notes.append((eighth, eighth + 0.05, 9, 42, 45))
            if (
                beat == 0
                or (meter.denominator == 4 and per_bar % 2 == 0 and beat == per_bar // 2)
                or (per_pulse == 3 and strong and pulse == pulses // 2)
            ):
                notes.append((start, start + 0.1, 9, 36, 110))
            if (
                (meter.denominator == 4 and (beat % 2 == 1 or (per_bar == 3 and beat == 2)))
                or (meter.numerator == 7 and beat in (2, 4))
                or (per_pulse == 3 and beat == 3)
            ):
                notes.append((start, start + 0.1, 9, 38, 95))
        if beat == 0:
            notes.append((start, start + length * per_bar * 0.98, 3, key + 12 + chord[0], 50))  # pad
            notes.append((start, start + length * per_bar * 0.98, 3, key + 12 + chord[1], 45))
        if strong:
            root = key - 12 + chord[0] + (12 if meter.denominator == 4 and (pulse % 2 if per_bar % 2 == 0 else pulse > 0) else 0)
            notes.append((start, start + length * per_pulse * 0.9, 1, root, 100 if beat == 0 else 80))
        if case.drums:
            if beat == 0 or (strong and rng.random() < 0.7):
                for semitone in chord:
                    notes.append((start, start + length * 0.9, 0, key + 12 + semitone, 85 if beat == 0 else 60))
        else:  # broken chords on every beat and half beat carry the pulse
            for half in (0, 1) if meter.denominator == 4 else (0,):
                at = start + half * length / 2
                tone = key + 12 + chord[(beat * 2 + half) % 3] + (12 if half else 0)
                notes.append((at, at + length * 0.45, 0, tone, 80 if beat == 0 and not half else 55))
        if rng.random() < 0.6:
            notes.append((start, start + length * 0.9, 2, key + 24 + int(rng.choice(PENTATONIC)), 70))
    end = beats[-1]  # the final chord, on the bar line after the last bar, as songs end
    notes.extend((end, end + 1.5, channel, note, 90) for channel, note in ((0, key + 12), (0, key + 16), (0, key + 19), (1, key - 12)))
    if case.drums:
        notes.extend([(end, end + 0.1, 9, 36, 110), (end, end + 0.5, 9, 49, 100)])
    if case.pickup:
        pickup = beats[0] - (beats[1] - beats[0])
        notes.append((pickup, beats[0] - 0.02, 2, key + 24 + 7, 70))
    if case.drift:  # human timing on every note, around the beat it belongs to
        notes = [(s + j, e + j, c, n, v) for (s, e, c, n, v), j in zip(notes, rng.normal(0, 0.004, len(notes)), strict=True)]
    return notes


def write_midi(notes: list[tuple[float, float, int, int, int]], path: Path) -> None:
    midi = mido.MidiFile(ticks_per_beat=TICKS)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    programs = {0: 0, 1: 33, 2: 73, 3: 48}  # piano, fingered bass, flute, strings
    track.extend(mido.Message("program_change", channel=c, program=p, time=0) for c, p in programs.items())
    events = []
    for start, end, channel, note, velocity in notes:
        events.append((max(0.0, start), 1, mido.Message("note_on", channel=channel, note=note, velocity=velocity)))
        events.append((max(0.0, end), 0, mido.Message("note_off", channel=channel, note=note, velocity=0)))
    events.sort(key=lambda event: (event[0], event[1]))
    tick = 0
    for seconds, _, message in events:
        at = round(seconds * 2 * TICKS)
        track.append(message.copy(time=at - tick))
        tick = at
    midi.save(str(path))


def render(midi: Path, wav: Path) -> None:
    subprocess.run(["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", str(RATE), str(SOUNDFONT), str(midi)], check=True, capture_output=True)


def render_offset(folder: Path) -> float:
    """Seconds from a note's MIDI time to its first audible sample in fluidsynth's render."""
    write_midi([(0.0, 0.5, 9, 37, 127)], folder / "offset.mid")
    render(folder / "offset.mid", folder / "offset.wav")
    audio, rate = soundfile.read(str(folder / "offset.wav"), always_2d=True)
    level = np.abs(audio).max(axis=1)
    return float(np.argmax(level > level.max() * 0.01)) / rate


def f_measure(reference: np.ndarray, estimate: np.ndarray) -> float:
    import mir_eval

    return float(mir_eval.beat.f_measure(reference, estimate, f_measure_threshold=0.07))


def evaluate(case: Case, folder: Path, offset: float, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    beats, per_bar = true_beats(case, rng)
    midi, wav = folder / f"{case.name.replace('/', '-')}.mid", folder / f"{case.name.replace('/', '-')}.wav"
    write_midi(_notes(case, beats, per_bar, rng), midi)
    render(midi, wav)
    beats = beats + offset
    downbeats = beats[::per_bar]
    started = time.perf_counter()
    draft = draft_for_file(wav, Hints(meter=parse_meter(case.meter) if case.meter_hint else None, bpm_range=case.bpm_hint))
    seconds = time.perf_counter() - started
    tempo_map = TempoMap(draft.tempo, draft.first_downbeat, 480)
    mapped = np.array([float(tempo_map.seconds(BarBeat(1 + k // per_bar, 1 + k % per_bar))) for k in range(len(beats))])
    map_error = np.abs(mapped - beats) * 1000
    return {
        "beat_f": f_measure(beats, draft.beats),
        "downbeat_f": f_measure(downbeats, draft.downbeats),
        "first_ms": abs(float(draft.first_downbeat) - beats[0]) * 1000,
        "map_p50_ms": float(np.percentile(map_error, 50)),
        "map_p95_ms": float(np.percentile(map_error, 95)),
        "map_max_ms": float(map_error.max()),
        "entries": len(draft.tempo),
        "seconds": seconds,
        "audio_s": float(beats[-1] + 2),
        "warnings": len(draft.warnings),
        "meter_ok": float(draft.meter == parse_meter(case.meter)),
    }


REPO = Path(__file__).resolve().parent.parent
DEMO_SONGS = ("neon-nights",)  # 4/4 with a 7/8 bridge (bars 21-24) and a ramp 120 -> 132 over bars 25-28


def evaluate_demo(song_id: str, folder: Path) -> dict[str, float]:
    """The demo show's own song, synthesised by `showcontrol demo` from its tempo map: the map's quarters and bar lines
    are the truth, through its changes of meter (beat F on the quarters, which run on through a 7/8 bar)."""
    from showcontrol.demo import make_demo_tracks
    from showcontrol.load.show_file import load_show

    shutil.copytree(REPO / "hardware", folder / "hardware", dirs_exist_ok=True)
    (folder / "cues" / "demo").mkdir(parents=True, exist_ok=True)
    show = folder / "cues" / "demo" / "show.yaml"
    shutil.copy(REPO / "cues" / "demo" / "show.yaml", show)
    make_demo_tracks(show)
    loaded = load_show(show)
    timeline, track = loaded.timelines[song_id], loaded.show.song(song_id).tracks[0]
    truth = timeline.tempo
    last = timeline.last_bar
    quarters = truth.quarters_before(last)
    steps = [Fraction(k, 2) for k in range(int(quarters * 2) + 1)]  # every eighth: the 7/8 bar lines fall between quarters
    beats = np.array([float(truth.seconds_at_quarters(q)) for q in steps if q.denominator == 1])
    downbeats = np.array([float(truth.seconds(BarBeat(bar, 1))) for bar in range(1, last + 1)])
    started = time.perf_counter()
    draft = draft_for_file(track.audio, Hints())
    seconds = time.perf_counter() - started
    drafted = TempoMap(draft.tempo, draft.first_downbeat, 480)
    map_error = np.array([abs(float(drafted.seconds_at_quarters(q) - truth.seconds_at_quarters(q))) for q in steps]) * 1000
    return {
        "beat_f": f_measure(beats, draft.beats),
        "downbeat_f": f_measure(downbeats, draft.downbeats),
        "first_ms": abs(float(draft.first_downbeat) - downbeats[0]) * 1000,
        "map_p50_ms": float(np.percentile(map_error, 50)),
        "map_p95_ms": float(np.percentile(map_error, 95)),
        "map_max_ms": float(map_error.max()),
        "entries": len(draft.tempo),
        "seconds": seconds,
        "audio_s": float(downbeats[-1] + 1),
        "warnings": len(draft.warnings),
        "meter_ok": float(all(drafted.meter_at(bar) == truth.meter_at(bar) for bar in range(1, last))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--keep", type=Path, help="keep the MIDI and WAV files in this folder")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.cases or c.name in args.cases.split(",")]
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        offset = render_offset(folder)
        print(f"fluidsynth render offset: {offset * 1000:.1f} ms (added to the true beats)")
        header = f"{'case':22} {'beat F':>6} {'down F':>6} {'bar1 ms':>7} {'map p50':>7} {'p95':>6} {'max ms':>6} {'entries':>7} {'time s':>6} {'audio s':>7}"
        print(header)
        failed = []
        runs: list[tuple[str, Callable[[], dict[str, float]]]] = [
            (case.name, partial(evaluate, case, folder, offset, args.seed + CASES.index(case))) for case in chosen
        ]  # each case its own seed whichever cases are run, so `--cases NAME` renders the recording of the full table's row
        runs += [
            (f"demo {song}", partial(evaluate_demo, song, folder))
            for song in DEMO_SONGS
            if not args.cases or f"demo-{song}" in args.cases.split(",")
        ]
        for name, run in runs:
            result = run()
            print(
                f"{name:22} {result['beat_f']:6.3f} {result['downbeat_f']:6.3f} {result['first_ms']:7.1f} "
                f"{result['map_p50_ms']:7.1f} {result['map_p95_ms']:6.1f} {result['map_max_ms']:6.1f} {result['entries']:7.0f} "
                f"{result['seconds']:6.2f} {result['audio_s']:7.1f}"
            )
            misses = [key for key, target in TARGETS.items() if (result[key] < target if key.endswith("_f") else result[key] > target)]
            if not result["meter_ok"]:
                misses.append("meter")
            if "four-minutes" in name and result["seconds"] >= 30:
                misses.append("time")
            if misses:
                failed.append(f"{name}: {', '.join(misses)}")
        bpm_hints = [f"{c.name} also --bpm {c.bpm_hint[0]:.0f}-{c.bpm_hint[1]:.0f}" for c in chosen if c.bpm_hint]
        print(
            "hints: every case but the unhinted ones is given its --meter" + "".join(f"; {h}" for h in bpm_hints) + "; the demo song none"
        )
        print("targets: beat F ≥ 0.95, downbeat F ≥ 0.90, bar 1 within 10 ms, map within 20 ms, 4 minutes in < 30 s")
        print("all targets met" if not failed else "missed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
